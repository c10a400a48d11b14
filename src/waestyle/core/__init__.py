"""Small helpers every layer may use: the user-facing error, settings, atomic writes, devices, bundled files."""
