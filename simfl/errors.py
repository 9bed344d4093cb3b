"""Errors a user can act on. The CLI prints their message on one line and exits with code 2."""

from __future__ import annotations

__all__ = ["SimflError", "ConfigError", "DataError", "RunDirError", "PluginError"]


class SimflError(Exception):
    """Base of simfl's user-facing errors: the message says what is wrong and what is allowed."""


class ConfigError(SimflError, ValueError):
    """A configuration (file, ``--set`` override or sweep) is invalid."""


class DataError(SimflError):
    """A data file or folder is missing or malformed."""


class RunDirError(SimflError):
    """An output directory cannot be used."""


class PluginError(ConfigError):
    """A component named in a config (built-in or plugin) cannot be found, imported or used."""
