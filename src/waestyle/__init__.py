"""waestyle: instant arbitrary image style transfer with a Wasserstein Autoencoder."""

from importlib.metadata import PackageNotFoundError, version

from waestyle.errors import WaestyleError

try:
    __version__ = version("waestyle")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"


def __getattr__(name: str):
    # Stylizer pulls in torch; import it lazily so `waestyle --help` stays quick.
    if name == "Stylizer":
        from waestyle.stylize import Stylizer

        return Stylizer
    raise AttributeError(name)


__all__ = ["Stylizer", "WaestyleError", "__version__"]
