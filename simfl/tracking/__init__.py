"""Live tracking: callbacks told of a run as it goes, and writers for TensorBoard and MLflow.

From Python::

    import simfl
    from simfl.tracking import Callback

    class Print(Callback):
        def on_evaluation(self, row, updates):
            print(row["sim_time_s"], row["test_accuracy"], updates.applied)

    simfl.run(config, callbacks=[Print()])

From a config: ``tracking: {tensorboard: DIR}``, ``tracking: {mlflow: {tracking_uri: ..., experiment: ...}}``
and/or ``tracking: {wandb: {project: ..., mode: offline}}`` (optional extras ``simfl[tracking]``,
``simfl[mlflow]``, ``simfl[wandb]``), and your own callbacks by import path,
``tracking: {callbacks: [my_cb:Watch]}`` (built inside each run, sweeps too). See ``docs/tracking.md``.

The engine knows nothing of this package: it tells generic observers
(:mod:`simfl.engine.observers`), and :class:`CallbackObserver` turns that into callback calls.
"""

from simfl.tracking.callback import Callback, CallbackParams
from simfl.tracking.adapter import CallbackObserver, TrackingWarning, update_counts
from simfl.tracking.records import Aggregation, RunInfo, TaskEnd, UpdateCounts
from simfl.tracking.scalars import evaluation_scalars, run_tags
from simfl.tracking.writers import (callback_fingerprints, check_tracking, run_name, trackers_from_config,
                                   with_sweep_group, writers_from_config)

__all__ = [
    "Callback",
    "CallbackParams",
    "RunInfo",
    "UpdateCounts",
    "Aggregation",
    "TaskEnd",
    "CallbackObserver",
    "TrackingWarning",
    "update_counts",
    "evaluation_scalars",
    "run_tags",
    "writers_from_config",
    "trackers_from_config",
    "callback_fingerprints",
    "with_sweep_group",
    "check_tracking",
    "run_name",
]
