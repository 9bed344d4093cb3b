"""simfl's version (one place: the package, run directories and the CLI read it)."""

__version__ = "0.1.0"
