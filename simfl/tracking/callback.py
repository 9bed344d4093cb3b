"""The callback interface: what a live tracker is told while a run goes.

Pass callbacks to :func:`simfl.run` (``simfl.run(config, callbacks=[MyCallback()])``); the
built-in writers named in ``tracking`` (TensorBoard, MLflow) are callbacks too. Subclass
:class:`Callback` and override the hooks you need: the others cost nothing (a hook a callback
does not override is never called, and task-end records are not even built when no callback
overrides :meth:`Callback.on_task_end`).

Order of the calls: ``on_run_start``; then, in simulated-time order, ``on_evaluation``,
``on_server_version`` and ``on_task_end``; then ``on_run_end``. At one simulated time, work
follows :mod:`simfl.engine.events`: the tasks that ended then are reported after the server
handled them (so a model they produced is reported first, by ``on_server_version``), and an
evaluation comes last.

Callbacks only observe: the run's tables are the same with or without them. A callback that
raises is reported by a :class:`~simfl.tracking.adapter.TrackingWarning`, told nothing more
but ``on_run_end`` (so that it can close its files), and named in the manifest's
``tracking_errors`` (an error in ``on_run_end`` itself, after the manifest is final, only
warns); the run and its tables carry on. Each callback is told on its own thread, so a slow or
hung one never holds up the simulation (:mod:`simfl.tracking.adapter`, ``tracking.timeout_s``).
"""

from __future__ import annotations

from typing import Any, Mapping

from simfl.tracking.records import Aggregation, RunInfo, TaskEnd, UpdateCounts

__all__ = ["Callback"]


class Callback:
    """Base of tracking callbacks: every hook does nothing. Extension point: override hooks.

    A callback need not subclass this class: any object with some of these methods works
    (missing ones are not called).
    """

    def on_run_start(self, info: RunInfo) -> None:
        """The run starts (after its directory and config are written, before the simulation).

        Args:
            info: the run's name, id, config, sweep tags and directory.
        """

    def on_evaluation(self, row: Mapping[str, Any], updates: UpdateCounts) -> None:
        """The global model was evaluated.

        Args:
            row: the ``evals`` row (a copy): ``sim_time_s``, ``server_version``,
                ``client_updates``, ``test_loss``, ``test_accuracy`` and any extra metrics
                (nan for the losses and accuracies of a dry run).
            updates: client tasks by status at that moment, and the mean staleness of the
                applied updates.
        """

    def on_server_version(self, aggregation: Aggregation) -> None:
        """A new global model was installed (its ``aggregations`` row).

        Args:
            aggregation: server version, simulated time, updates it applied, extra columns.
        """

    def on_task_end(self, task: TaskEnd) -> None:
        """A client task ended (arrived, lost, or stopped by the server).

        Args:
            task: its ``client_updates`` row as it stands then (see :class:`TaskEnd`).
        """

    def on_run_end(self, status: str, manifest: Mapping[str, Any]) -> None:
        """The run ended and its tables and manifest are written (or it failed).

        Args:
            status: the manifest's status: ``complete``, ``interrupted``, ``failed``, ...
            manifest: the run's manifest (stop reason, counters, host seconds; the error when
                it failed).
        """
