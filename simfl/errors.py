"""Errors a user can act on. The CLI prints their message on one line and exits with code 2."""

from __future__ import annotations

__all__ = ["SimflError", "ConfigError", "DataError", "RunDirError", "PluginError", "ExecutorError", "one_line"]


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


class ExecutorError(SimflError):
    """The executor of ``train.executor`` cannot start or lost its workers (a Dask cluster, devices)."""


def one_line(exc: BaseException, limit: int | None = None) -> str:
    """An exception's message on one line (whitespace collapsed, cut at ``limit`` characters), or
    its type's name when it has none: for quoting a library's error inside a simfl message."""
    text = " ".join(str(exc).split())
    return (text[:limit] if limit is not None else text) or type(exc).__name__
