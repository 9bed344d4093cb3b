"""From the engine's observer hooks to callbacks: records built once, failures contained.

Callbacks are told **off the simulation's critical path**: each callback has its own courier, a
daemon thread fed by a bounded queue, so a slow or hung tracker (an unreachable MLflow server
retrying for minutes) never holds up the simulation. The records are built, as copies, on the
simulation's thread; each callback still hears its hooks in order. At the end of a run the runner
waits at most ``tracking.timeout_s`` for the couriers to catch up (:meth:`CallbackObserver.flush`,
then :meth:`CallbackObserver.end`); a callback that has not caught up by then is warned about once,
named in the manifest's ``tracking_errors`` and left behind (its thread is a daemon: it never keeps
the process alive). A callback more than :data:`QUEUE_SIZE` records behind drops the newest ones,
with one warning.
"""

from __future__ import annotations

import queue
import threading
import time
import warnings
from typing import Any, Mapping, Sequence

from simfl.engine.tasks import Status
from simfl.tracking.callback import Callback
from simfl.tracking.records import Aggregation, RunInfo, TaskEnd, UpdateCounts

__all__ = ["CallbackObserver", "TrackingWarning", "update_counts", "QUEUE_SIZE", "DEFAULT_TIMEOUT_S"]

_LABELS = [s.label for s in Status]
#: Records a callback may fall behind by before the newest are dropped.
QUEUE_SIZE = 100_000
#: How long the end of a run waits for a callback to catch up, unless ``tracking.timeout_s`` says.
DEFAULT_TIMEOUT_S = 30.0


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


class _Courier:
    """One callback's daemon thread: calls its hooks in order, off the simulation's thread."""

    def __init__(self, callback: object, report) -> None:
        self.callback = callback
        self.dropped = 0
        self.failed = False
        self._report = report
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_SIZE)
        self._thread = threading.Thread(target=self._work, name=f"simfl-tracking-{_describe(callback)}", daemon=True)
        self._thread.start()

    def send(self, hook: str, *args: Any) -> None:
        """Queue a call (never blocks: a full queue drops it, with one warning)."""
        if self.failed and hook != "on_run_end":
            return
        try:
            self._queue.put_nowait((hook, args))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                self._report(self, f"{_describe(self.callback)} fell {QUEUE_SIZE} records behind; newer ones are "
                             "dropped", fatal=False)

    def wait(self, timeout_s: float) -> bool:
        """Wait until every queued call is done, at most ``timeout_s``; True if it caught up."""
        deadline = time.monotonic() + timeout_s
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._queue.all_tasks_done.wait(left)
        return True

    def _work(self) -> None:
        while True:
            hook, args = self._queue.get()
            try:
                if not self.failed or hook == "on_run_end":
                    getattr(self.callback, hook)(*args)
            except Exception as exc:  # a tracker never takes the run down with it
                self.failed = True
                self._report(self, f"{_describe(self.callback)}.{hook}() raised {type(exc).__name__}: {exc}")
            finally:
                self._queue.task_done()


class CallbackObserver:
    """An engine observer (:mod:`simfl.engine.observers`) that tells callbacks, each on its own thread.

    Each engine hook is set to None when no callback overrides the matching callback hook, so
    the engine does not call it. A callback that raises is warned about
    (:class:`TrackingWarning`), recorded in :attr:`errors` and told nothing more but
    :meth:`end`. See the module docstring for the threads and the bounded waits.

    Args:
        callbacks: the callbacks, each told its hooks in order.
        timeout_s: the longest :meth:`flush` and :meth:`end` wait for a callback to catch up.
    """

    def __init__(self, callbacks: Sequence[object], timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.callbacks = list(callbacks)
        self.timeout_s = float(timeout_s)
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._couriers = {id(cb): _Courier(cb, self._report) for cb in self.callbacks}
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
    def _report(self, courier: _Courier, message: str, fatal: bool = True) -> None:
        with self._lock:
            self.errors.append(message)
        suffix = "; it is told nothing more of this run" if fatal else ""
        warnings.warn(f"tracking: {message}{suffix}", TrackingWarning, stacklevel=2)

    def _call(self, callback: object, hook: str, *args: Any) -> None:
        self._couriers[id(callback)].send(hook, *args)

    def start(self, info: RunInfo) -> None:
        """Tell every callback that the run starts."""
        for cb in self.callbacks:
            if _overrides(cb, "on_run_start"):
                self._call(cb, "on_run_start", info)

    def flush(self) -> None:
        """Wait, at most ``timeout_s`` in all, for every callback to catch up; name those that did not."""
        deadline = time.monotonic() + self.timeout_s
        for cb in self.callbacks:
            courier = self._couriers[id(cb)]
            if not courier.failed and not courier.wait(max(0.0, deadline - time.monotonic())):
                courier.failed = True  # told nothing more but on_run_end
                self._report(courier, f"{_describe(cb)} did not catch up within tracking.timeout_s = "
                             f"{self.timeout_s:g} s (an unreachable or slow tracker); the run goes on without it")

    def end(self, status: str, manifest: Mapping[str, Any]) -> None:
        """Tell every callback that the run ended (failed ones too, so they can close), waiting at most ``timeout_s``."""
        for cb in self.callbacks:
            if _overrides(cb, "on_run_end"):
                self._call(cb, "on_run_end", status, dict(manifest))
        deadline = time.monotonic() + self.timeout_s
        for cb in self.callbacks:
            self._couriers[id(cb)].wait(max(0.0, deadline - time.monotonic()))

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
