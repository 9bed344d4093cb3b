"""The built-in writers a config's ``tracking`` section names, and what they need installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from simfl.config.schema import TrackingConfig
from simfl.errors import ConfigError
from simfl.tracking.callback import Callback

__all__ = ["writers_from_config", "check_tracking", "run_name"]

#: config key -> (module it needs, pip extra)
_NEEDS = {"tensorboard": ("tensorboard", "tracking"), "mlflow": ("mlflow", "mlflow")}


def check_tracking(tracking: TrackingConfig) -> None:
    """Raise a one-line :class:`ConfigError` when a writer's package is not installed (nothing is imported)."""
    for key, (module, extra) in _NEEDS.items():
        if getattr(tracking, key) is not None and importlib.util.find_spec(module) is None:
            raise ConfigError(f"tracking.{key}: needs the {module} package: pip install 'simfl[{extra}]'")


def writers_from_config(tracking: TrackingConfig) -> list[Callback]:
    """The writers ``tracking`` names, ready for a run (TensorBoard first, then MLflow).

    Raises:
        ConfigError: a writer's package is not installed.
    """
    check_tracking(tracking)
    writers: list[Callback] = []
    if tracking.tensorboard is not None:
        from simfl.tracking.tensorboard_writer import TensorBoardWriter

        writers.append(TensorBoardWriter(tracking.tensorboard))
    if tracking.mlflow is not None:
        from simfl.tracking.mlflow_writer import MlflowWriter

        writers.append(MlflowWriter(tracking.mlflow.tracking_uri, tracking.mlflow.experiment))
    return writers


def run_name(out: str | Path | None, run_id: str) -> str:
    """A tracker run's name: the run directory's name, else ``run_id``."""
    if out is not None:
        name = Path(out).resolve().name
        if name:
            return name
    return run_id
