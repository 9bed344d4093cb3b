"""Where training runs (``train.device``): the torch device of a config, checked to be present."""

from __future__ import annotations

import torch

from simfl.errors import ConfigError

__all__ = ["DEVICES", "resolve_device"]

#: The values of ``train.device``.
DEVICES = ("cpu", "cuda", "mps", "auto")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str, dtype: str = "float32") -> torch.device:
    """The torch device of ``train.device``: ``auto`` is cuda if present, else mps, else cpu.

    Raises:
        ConfigError: the device is unknown or not present on this machine, or cannot hold
            ``dtype`` (mps has no float64); one line naming the key.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if name not in DEVICES:
        raise ConfigError(f"train.device: unknown device {name!r}; allowed: {', '.join(DEVICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device: cuda is not present on this machine (torch.cuda.is_available() is false); "
                          "use cpu or auto")
    if name == "mps" and not _mps_available():
        raise ConfigError("train.device: mps is not present on this machine (torch.backends.mps.is_available() is "
                          "false); use cpu or auto")
    if name == "mps" and dtype == "float64":
        raise ConfigError("train.dtype: float64 is not supported on mps; use float32 or train.device: cpu")
    return torch.device(name)
