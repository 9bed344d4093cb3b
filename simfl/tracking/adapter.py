"""From the engine's observer hooks to callbacks: records built once, failures contained."""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

from simfl.engine.tasks import Status
from simfl.tracking.callback import Callback
from simfl.tracking.records import Aggregation, RunInfo, TaskEnd, UpdateCounts

__all__ = ["CallbackObserver", "TrackingWarning", "update_counts"]

_LABELS = [s.label for s in Status]


class TrackingWarning(UserWarning):
    """A tracking callback failed; the run goes on without it."""


def _overrides(callback: object, hook: str) -> bool:
    """True when ``callback`` has ``hook`` and it is not :class:`Callback`'s no-op."""
    method = getattr(type(callback), hook, None)
    if method is None:
        return callable(getattr(callback, hook, None))  # set on the instance
    return method is not getattr(Callback, hook)


def _describe(callback: object) -> str:
    return type(callback).__name__


def update_counts(sim) -> UpdateCounts:
    """Tasks by status in ``sim`` now, and the mean staleness of the applied updates."""
    counts, mean = sim.log.tally()
    by = dict(zip(_LABELS, counts))
    return UpdateCounts(
        applied=by["applied"],
        dropped_stale=by["dropped_stale"],
        lost_offline=by["lost_offline"],
        discarded_deadline=by["discarded_deadline"],
        buffered=by["buffered"],
        in_flight=by["in_flight"],
        mean_staleness=mean,
    )


class CallbackObserver:
    """An engine observer (:mod:`simfl.engine.observers`) that tells callbacks.

    Each engine hook is set to None when no callback overrides the matching callback hook, so
    the engine does not call it. A callback that raises is warned about
    (:class:`TrackingWarning`), recorded in :attr:`errors` and told nothing more but
    :meth:`end`.

    Args:
        callbacks: the callbacks, told in this order.
    """

    def __init__(self, callbacks: Sequence[object]) -> None:
        self.callbacks = list(callbacks)
        self.errors: list[str] = []
        self._failed: set[int] = set()
        self._wants = {hook: [cb for cb in self.callbacks if _overrides(cb, hook)]
                       for hook in ("on_evaluation", "on_server_version", "on_task_end")}
        if not self._wants["on_evaluation"]:
            self.evaluated = None
        if not self._wants["on_server_version"]:
            self.installed = None
        if not self._wants["on_task_end"]:
            self.tasks_ended = None

    finished = None  # the runner calls :meth:`end` once the tables are written

    # ---------------------------------------------------------------- calls
    def _call(self, callback: object, hook: str, *args: Any) -> None:
        if id(callback) in self._failed and hook != "on_run_end":
            return
        try:
            getattr(callback, hook)(*args)
        except Exception as exc:  # a tracker never takes the run down with it
            message = f"{_describe(callback)}.{hook}() raised {type(exc).__name__}: {exc}"
            self.errors.append(message)
            self._failed.add(id(callback))
            warnings.warn(f"tracking: {message}; it is told nothing more of this run", TrackingWarning, stacklevel=2)

    def start(self, info: RunInfo) -> None:
        """Tell every callback that the run starts."""
        for cb in self.callbacks:
            if _overrides(cb, "on_run_start"):
                self._call(cb, "on_run_start", info)

    def end(self, status: str, manifest: Mapping[str, Any]) -> None:
        """Tell every callback that the run ended (failed ones too, so they can close)."""
        for cb in self.callbacks:
            if _overrides(cb, "on_run_end"):
                self._call(cb, "on_run_end", status, dict(manifest))

    # ------------------------------------------------------- engine hooks
    def evaluated(self, sim, row: Mapping[str, Any]) -> None:
        updates = update_counts(sim)
        for cb in self._wants["on_evaluation"]:
            self._call(cb, "on_evaluation", dict(row), updates)

    def installed(self, sim, server_version: int, sim_time_s: float, num_client_updates: int,
                  extra: Mapping[str, Any] | None) -> None:
        record = Aggregation(server_version, sim_time_s, num_client_updates, dict(extra or {}))
        for cb in self._wants["on_server_version"]:
            self._call(cb, "on_server_version", record)

    def tasks_ended(self, sim, tasks) -> None:
        c = sim.log.cols
        callbacks = self._wants["on_task_end"]
        for t in tasks:
            i = t.id
            staleness = c["staleness"][i]
            round_ = c["round"][i]
            record = TaskEnd(
                task_id=i,
                client_id=c["client_id"][i],
                task_index=c["task_index"][i],
                round=round_ if round_ >= 0 else None,
                base_version=c["base_version"][i],
                dispatch_time_s=c["dispatch_time_s"][i],
                end_time_s=c["end_time_s"][i],
                download_s=c["download_s"][i],
                compute_s=c["compute_s"][i],
                upload_s=c["upload_s"][i],
                status=_LABELS[c["status"][i]],
                staleness=staleness if staleness >= 0 else None,
                weight=c["weight"][i],
            )
            for cb in callbacks:
                self._call(cb, "on_task_end", record)
