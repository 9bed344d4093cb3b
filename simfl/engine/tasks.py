"""Client tasks: the in-flight record and the columnar log behind ``client_updates.parquet``."""

from __future__ import annotations

from array import array
from enum import IntEnum

import numpy as np
import pandas as pd
import simpy
from simpy.core import NORMAL

from simfl.engine.simpy_fence import schedule_triggered, set_pending

__all__ = ["Status", "Task", "TaskLog"]


class Status(IntEnum):
    """Outcome of a task (the ``status`` column)."""

    IN_FLIGHT = 0  # still running when the run stopped
    APPLIED = 1  # entered the model (weight = the factor it entered with)
    DROPPED_STALE = 2  # arrived staler than max_staleness
    LOST_OFFLINE = 3  # the client went offline before its upload ended
    DISCARDED_DEADLINE = 4  # FedAvg: missed the round (deadline or over-selection)
    BUFFERED = 5  # arrived, waiting for aggregation when the run stopped (FedBuff buffer, FedAvg round)

    @property
    def label(self) -> str:
        """The name written to the tables (``applied``, ``lost_offline``, ...)."""
        return self.name.lower()


class Task(simpy.Event):
    """One client task in flight (download → compute → upload), and the SimPy event of its end.

    A task is fully timed when dispatched (see :mod:`simfl.engine.simulation`), so it is
    scheduled once, like a :class:`simpy.Timeout`, at its arrival time — or at the moment its
    client goes offline, if that comes first (``lost``).
    """

    #: The SimPy process running the task, when its timing is not known ahead (contention).
    process = None

    def __init__(
        self, env, id, client, k, base_version, dispatch_time, end_time, lost, job, round, params, scheduled=True,
        callback=None,
    ) -> None:
        self.env = env
        self.callbacks = [] if callback is None else [callback]
        self.id = id  # row in the TaskLog, also the dispatch order
        self.client = client
        self.k = k  # the client's k-th task (every dispatched task counts, lost ones included)
        self.base_version = base_version
        self.dispatch_time = dispatch_time
        self.end_time = end_time  # arrival time, or the time the client goes offline if lost
        self.lost = lost
        self.job = job  # the trainer's job (None in a dry run)
        self.round = round
        self.params = params  # the server model the task started from (None in a dry run)
        if scheduled:
            schedule_triggered(env, self, end_time - dispatch_time, NORMAL)
        else:  # ended by its process with succeed() (server contention)
            set_pending(self)


#: Columns known at dispatch, in table order: column -> array.array typecode.
_DISPATCH_COLUMNS: dict[str, str] = {
    "client_id": "q",
    "task_index": "q",
    "round": "q",
    "base_version": "q",
    "dispatch_time_s": "d",
    "download_s": "d",
    "compute_s": "d",
    "upload_s": "d",
    "compute_work_s": "d",
    "num_samples": "q",
}
_NAN = float("nan")
#: Columns filled in later: column -> (typecode, value until then).
_LATER_COLUMNS: dict[str, tuple[str, float]] = {
    "download_wait_s": ("d", 0.0),
    "upload_wait_s": ("d", 0.0),
    "end_time_s": ("d", _NAN),
    "arrival_time_s": ("d", _NAN),
    "aggregated_time_s": ("d", _NAN),
    "train_loss": ("d", _NAN),
    "staleness": ("q", -1),
    "weight": ("d", _NAN),
    "status": ("b", 0),  # Status.IN_FLIGHT
}
#: Every column: (typecode, value of a row not yet written).
_COLUMNS: dict[str, tuple[str, float]] = {**{name: (code, 0) for name, code in _DISPATCH_COLUMNS.items()},
                                          **_LATER_COLUMNS}
_BLOCK = 4096


class TaskLog:
    """Columns that grow by one row per dispatched task, indexed by task id.

    One typed ``array.array`` per column, grown in blocks of rows holding each column's initial
    value: a dispatch writes what it knows into its row (an item assignment per column, no
    method call), updating a value costs a few tens of nanoseconds, storage is 8 bytes a value,
    and :meth:`frame` hands the arrays to pandas without copying them. ``cols[name][task_id]``
    reads or writes one value of any column.
    """

    def __init__(self) -> None:
        self.cols: dict[str, array] = {name: array(code) for name, (code, _) in _COLUMNS.items()}
        self._n = 0
        self._capacity = 0
        self._closed = False
        self._bind()

    def _bind(self) -> None:
        """The columns as attributes (the hot path indexes them without a dict lookup)."""
        c = self.cols
        self._client, self._k, self._round, self._base = c["client_id"], c["task_index"], c["round"], c["base_version"]
        self._dispatch, self._down, self._compute = c["dispatch_time_s"], c["download_s"], c["compute_s"]
        self._up, self._work, self._samples = c["upload_s"], c["compute_work_s"], c["num_samples"]
        self._end, self._arrival, self._aggregated = c["end_time_s"], c["arrival_time_s"], c["aggregated_time_s"]
        self._status, self._staleness, self._weight = c["status"], c["staleness"], c["weight"]

    def __getstate__(self) -> dict:
        return {"cols": self.cols, "_n": self._n, "_capacity": self._capacity, "_closed": self._closed}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind()

    @property
    def n(self) -> int:
        """Rows so far."""
        return self._n

    def _grow(self) -> None:
        if self._closed:
            raise RuntimeError("TaskLog.add(): the log is closed (frame() handed its columns over)")
        for name, (code, value) in _COLUMNS.items():
            self.cols[name].extend(array(code, [value]) * _BLOCK)
        self._capacity += _BLOCK

    def add(self, client, k, round_, base_version, dispatch, download, compute, upload, num_samples, work) -> int:
        """Append a dispatched task (its planned phases, ``work`` = compute at nominal speed); returns its id."""
        i = self._n
        if i == self._capacity:
            self._grow()
        self._client[i] = client
        self._k[i] = k
        self._round[i] = round_
        self._base[i] = base_version
        self._dispatch[i] = dispatch
        self._down[i] = download
        self._compute[i] = compute
        self._up[i] = upload
        self._work[i] = work
        self._samples[i] = num_samples
        self._n = i + 1
        return i

    def set_phases(self, task_id: int, download: float, compute: float, upload: float,
                   download_wait: float, upload_wait: float) -> None:
        """The phases as they happened (tasks whose timing was not known at dispatch)."""
        c = self.cols
        c["download_s"][task_id] = download
        c["compute_s"][task_id] = compute
        c["upload_s"][task_id] = upload
        c["download_wait_s"][task_id] = download_wait
        c["upload_wait_s"][task_id] = upload_wait

    def arrive(self, task_id: int, time: float, aggregated_time: float) -> None:
        """A task's update reached the server at ``time`` (its status follows from the server)."""
        self._end[task_id] = time
        self._arrival[task_id] = time
        self._aggregated[task_id] = aggregated_time

    def settle(self, task_id: int, status: int, staleness: int, weight: float) -> None:
        """What the server did with an arrived update."""
        self._status[task_id] = status
        self._staleness[task_id] = staleness
        self._weight[task_id] = weight

    def status(self, task_id: int) -> int:
        """The task's :class:`Status` so far (an int)."""
        return self._status[task_id]

    def finish(self, task_id: int, status: Status, end_time: float, arrival_time: float = _NAN,
               staleness: int = -1, weight: float = _NAN, aggregated_time: float = _NAN) -> None:
        """Record how a task ended."""
        c = self.cols
        c["status"][task_id] = status
        c["end_time_s"][task_id] = end_time
        c["arrival_time_s"][task_id] = arrival_time
        c["staleness"][task_id] = staleness
        c["weight"][task_id] = weight
        c["aggregated_time_s"][task_id] = aggregated_time

    def set_outcome(self, task_id: int, status: Status, weight: float) -> None:
        """Change the status and weight of a task that has already arrived."""
        self.cols["status"][task_id] = status
        self.cols["weight"][task_id] = weight

    def tally(self) -> tuple[list[int], float]:
        """Tasks per status so far (a list indexed by :class:`Status`) and the mean staleness
        of the applied ones (nan: none yet). For observers; costs O(tasks): about 10 ms at 10^6.

        It reads copies of the columns: a numpy view of an ``array.array`` would pin its buffer
        and keep the log from growing.
        """
        n = self._n
        status = np.frombuffer(self._status[:n], dtype=np.int8)
        counts = [int(np.count_nonzero(status == s)) for s in Status]
        if not counts[Status.APPLIED]:
            return counts, _NAN
        applied = status == Status.APPLIED
        return counts, float(np.frombuffer(self._staleness[:n], dtype=np.int64)[applied].mean())

    def frame(self) -> pd.DataFrame:
        """``client_updates.parquet``: one row per task, in dispatch order.

        ``staleness`` and ``round`` are nullable integers (missing for tasks that never arrived
        and for asynchronous runs respectively); ``status`` is a categorical of the labels of
        :class:`Status`.

        The frame's columns are the log's own buffers, not copies (at 10^6 tasks, fresh memory
        costs more than the rest of the frame), so this closes the log: a later :meth:`add` raises.
        """
        n = self._n
        self._capacity, self._closed = n, True  # the arrays are exported to numpy and can no longer grow
        columns: dict = {"task_id": np.arange(n, dtype=np.int64)}
        for name, (code, _) in _COLUMNS.items():
            values = np.frombuffer(self.cols[name], dtype=_NUMPY[code])[:n]
            if name in ("staleness", "round"):
                columns[name] = pd.arrays.IntegerArray(values, values < 0)  # the -1 under the mask are never read
            elif name == "status":
                columns[name] = pd.Categorical.from_codes(values, categories=[s.label for s in Status])
            else:
                columns[name] = values
        return pd.DataFrame(columns, copy=False)  # task_id, then _COLUMNS: the table's order
_NUMPY = {"q": np.int64, "d": np.float64, "b": np.int8}
