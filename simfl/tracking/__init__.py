"""Live tracking: callbacks told of a run as it goes, and writers for TensorBoard and MLflow.

From Python::

    import simfl
    from simfl.tracking import Callback

    class Print(Callback):
        def on_evaluation(self, row, updates):
            print(row["sim_time_s"], row["test_accuracy"], updates.applied)

    simfl.run(config, callbacks=[Print()])

From a config: ``tracking: {tensorboard: DIR}`` and/or
``tracking: {mlflow: {tracking_uri: ..., experiment: ...}}`` (optional extras
``simfl[tracking]`` and ``simfl[mlflow]``). See ``docs/tracking.md``.

The engine knows nothing of this package: it tells generic observers
(:mod:`simfl.engine.observers`), and :class:`CallbackObserver` turns that into callback calls.
"""

from simfl.tracking.callback import Callback
from simfl.tracking.adapter import CallbackObserver, TrackingWarning, update_counts
from simfl.tracking.records import Aggregation, RunInfo, TaskEnd, UpdateCounts
from simfl.tracking.scalars import evaluation_scalars, run_tags
from simfl.tracking.writers import check_tracking, run_name, writers_from_config

__all__ = [
    "Callback",
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
    "check_tracking",
    "run_name",
]
