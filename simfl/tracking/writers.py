"""The trackers a config's ``tracking`` section names: the built-in writers, what they need
installed, and the user's callbacks (``tracking.callbacks``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Sequence

from simfl.config.schema import Config, TrackingConfig
from simfl.errors import ConfigError
from simfl.registry import component_of
from simfl.tracking.callback import Callback

__all__ = ["writers_from_config", "trackers_from_config", "callback_fingerprints", "check_tracking", "run_name",
           "with_sweep_group"]

#: config key -> (module it needs, pip extra)
_NEEDS = {"tensorboard": ("tensorboard", "tracking"), "mlflow": ("mlflow", "mlflow"), "wandb": ("wandb", "wandb")}


def check_tracking(tracking: TrackingConfig) -> None:
    """Raise a one-line :class:`ConfigError` when a writer's package is not installed (nothing is imported)."""
    for key, (module, extra) in _NEEDS.items():
        if getattr(tracking, key) is not None and importlib.util.find_spec(module) is None:
            raise ConfigError(f"tracking.{key}: needs the {module} package: pip install 'simfl[{extra}]'")


def writers_from_config(tracking: TrackingConfig) -> list[Callback]:
    """The built-in writers ``tracking`` names, ready for a run (TensorBoard, MLflow, then W&B).

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
    if tracking.wandb is not None:
        from simfl.tracking.wandb_writer import WandbWriter

        writers.append(WandbWriter(tracking.wandb))
    return writers


def trackers_from_config(tracking: TrackingConfig, callbacks: Sequence[object] = ()) -> list[object]:
    """Every tracker of a run, new instances: the built-in writers, the callbacks named in
    ``tracking.callbacks`` (each built as ``cls(params)``, in order), then ``callbacks`` (Python's).

    Raises:
        ConfigError: a writer's package is not installed.
        PluginError: a named callback's constructor raised (one line naming
            ``tracking.callbacks`` and the callback).
    """
    named = [component_of(params).build(params) for params in tracking.callbacks]
    return [*writers_from_config(tracking), *named, *callbacks]


def callback_fingerprints(tracking: TrackingConfig) -> dict[str, dict[str, Any]]:
    """``{"tracking.callbacks.<i>": fingerprint}`` of the modules of the named callbacks (the manifest's
    ``tracking_fingerprints``: apart from ``fingerprints``, as tracking never changes a run's results,
    so an edited callback never makes a finished run stale)."""
    from simfl.identity.fingerprint import component_fingerprint

    return {f"tracking.callbacks.{i}": component_fingerprint(params.type, component_of(params).target)
            for i, params in enumerate(tracking.callbacks)}


def with_sweep_group(config: Config, sweep: str) -> Config:
    """``config`` with ``tracking.wandb.group`` set to ``sweep`` when W&B is on and no group is given
    (a sweep's runs are grouped under the sweep's name); otherwise ``config`` itself. Tracking is
    not part of a run's id, so the run's id is unchanged."""
    wandb = config.tracking.wandb
    if wandb is None or wandb.group is not None:
        return config
    tracking = config.tracking.model_copy(update={"wandb": wandb.model_copy(update={"group": sweep})})
    return config.model_copy(update={"tracking": tracking})


def run_name(out: str | Path | None, run_id: str) -> str:
    """A tracker run's name: the run directory's name, else ``run_id``."""
    if out is not None:
        name = Path(out).resolve().name
        if name:
            return name
    return run_id
