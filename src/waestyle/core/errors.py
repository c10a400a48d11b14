"""The one exception type a user sees: its message is printed as a one-line error by the CLI."""


class WaestyleError(Exception):
    """A problem with the user's input or environment (bad image, bad checkpoint, missing weights)."""
