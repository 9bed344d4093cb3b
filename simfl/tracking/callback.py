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

From a config, ``tracking.callbacks: [my_cb:Watch, {type: my_cb:Watch, every: 2}]`` names callbacks
by import path (the config's folder is searched first, like any plugin): each is a class with a
nested ``Params`` subclassing :class:`CallbackParams` (its keys, validated with the config), built
as ``cls(params)`` inside each run (in the worker process that runs it), so every run has its own
instances. A :class:`Callback` subclass inherits ``Params = CallbackParams`` (no keys).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from simfl.config.params import Params
from simfl.tracking.records import Aggregation, RunInfo, TaskEnd, UpdateCounts

__all__ = ["Callback", "CallbackParams"]


class CallbackParams(Params):
    """Base of the parameters of a callback named in ``tracking.callbacks``: ``type`` (its import path)
    and the callback's own keys, as pydantic fields with descriptions (unknown keys are errors)."""


def _default(hook):
    hook.__simfl_default__ = True  # the registry's hook check: not an implementation
    return hook


class Callback:
    """Base of tracking callbacks: every hook does nothing. Extension point: override hooks.

    A callback need not subclass this class: any object with some of these methods works
    (missing ones are not called). Named in ``tracking.callbacks``, it is built as
    ``cls(params)`` with its validated :attr:`Params` (see the module docstring).

    Args:
        params: its parameters when built from ``tracking.callbacks`` (None from Python).
    """

    #: Its keys in ``tracking.callbacks`` (a subclass with keys nests its own ``Params(CallbackParams)``).
    Params: ClassVar[type[CallbackParams]] = CallbackParams

    def __init__(self, params: CallbackParams | None = None) -> None:
        self.params = params

    @_default
    def on_run_start(self, info: RunInfo) -> None:
        """The run starts (after its directory and config are written, before the simulation).

        Args:
            info: the run's name, id, config, sweep tags and directory.
        """

    @_default
    def on_evaluation(self, row: Mapping[str, Any], updates: UpdateCounts) -> None:
        """The global model was evaluated.

        Args:
            row: the ``evals`` row (a copy): ``sim_time_s``, ``server_version``,
                ``client_updates``, ``test_loss``, ``test_accuracy`` and any extra metrics
                (nan for the losses and accuracies of a dry run).
            updates: client tasks by status at that moment, and the mean staleness of the
                applied updates.
        """

    @_default
    def on_server_version(self, aggregation: Aggregation) -> None:
        """A new global model was installed (its ``aggregations`` row).

        Args:
            aggregation: server version, simulated time, updates it applied, extra columns.
        """

    @_default
    def on_task_end(self, task: TaskEnd) -> None:
        """A client task ended (arrived, lost, or stopped by the server).

        Args:
            task: its ``client_updates`` row as it stands then (see :class:`TaskEnd`).
        """

    @_default
    def on_run_end(self, status: str, manifest: Mapping[str, Any]) -> None:
        """The run ended and its tables and manifest are written (or it failed).

        Args:
            status: the manifest's status: ``complete``, ``interrupted``, ``failed``, ...
            manifest: the run's manifest (stop reason, counters, host seconds; the error when
                it failed).
        """
