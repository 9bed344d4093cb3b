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


def resolve_device(name: str, dtype: str = "float32", key: str = "train.device") -> torch.device:
    """The torch device of ``train.device``: ``auto`` is cuda if present, else mps, else cpu;
    ``cuda:N`` (a device of the ``devices`` executor, named by ``key``) is the N-th CUDA device.

    Raises:
        ConfigError: the device is unknown or not present on this machine, or cannot hold
            ``dtype`` (mps has no float64); one line naming the key.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    kind, _, index = name.partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise ConfigError(f"{key}: unknown device {name!r}; allowed: {', '.join(DEVICES)}, cuda:N")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{key}: cuda is not present on this machine (torch.cuda.is_available() is false); "
                          "use cpu or auto")
    if index and int(index) >= torch.cuda.device_count():
        raise ConfigError(f"{key}: {name} is not present (this machine has {torch.cuda.device_count()} CUDA devices)")
    if name == "mps" and not _mps_available():
        raise ConfigError(f"{key}: mps is not present on this machine (torch.backends.mps.is_available() is "
                          "false); use cpu or auto")
    if name == "mps" and dtype == "float64":
        raise ConfigError("train.dtype: float64 is not supported on mps; use float32 or train.device: cpu")
    return torch.device(name)
