"""The installed package's version, written into model folders, exports and `--version`."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("waestyle")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
