"""waestyle: instant arbitrary image style transfer with a Wasserstein Autoencoder."""

from waestyle.core.errors import WaestyleError
from waestyle.core.version import __version__


def __getattr__(name: str):
    # Stylizer pulls in torch; import it lazily so `waestyle --help` stays quick.
    if name == "Stylizer":
        from waestyle.stylize import Stylizer

        return Stylizer
    raise AttributeError(name)


__all__ = ["Stylizer", "WaestyleError", "__version__"]
