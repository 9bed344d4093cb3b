"""The Dask executor: one run's jobs computed on a ``dask.distributed`` cluster, one task per job.

The static training state (the config, the data, the seed tree, the model factory) is shipped
once per worker (``Client.scatter(..., broadcast=True)``); each worker builds its trainer from it
once, with one torch thread, and computes jobs with the same CPU code as the local sequential
executor, so its updates are bitwise equal to it whatever the worker count or scheduling order.

A job is submitted when the engine submits it (its start model travels with it), up to
``max_in_flight`` jobs on the cluster and not yet collected; later jobs wait in this process and
go as others are collected (finished tasks are collected whenever a job is submitted or a result
asked for). A result that is asked for is submitted at once, even beyond the cap. A cancelled
job is dropped from the queue (never computed) or its future cancelled (a task already running
finishes on its worker and is discarded). Tasks are pure: when a worker dies, the scheduler
reruns its tasks elsewhere (up to its ``distributed.scheduler.allowed-failures``).
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from typing import Callable, Sequence

import numpy as np

from simfl.engine.protocols import Job
from simfl.errors import ExecutorError, one_line
from simfl.training.executors.base import Executor, JobComputer, JobStats

__all__ = ["DaskExecutor", "compute_on_worker"]

#: Trainers built on a worker, by executor token (the most recent few runs are kept).
_WORKER_TRAINERS: OrderedDict[str, JobComputer] = OrderedDict()
_KEEP_TRAINERS = 2


def compute_on_worker(replica: Callable[[], JobComputer], token: str, job: Job) -> tuple[np.ndarray, JobStats]:
    """A job computed on a Dask worker by the run's trainer, built there on the first job."""
    trainer = _WORKER_TRAINERS.get(token)
    if trainer is None:
        import torch

        torch.set_num_threads(1)  # the same single-threaded CPU code on every worker
        trainer = _WORKER_TRAINERS[token] = replica()
        while len(_WORKER_TRAINERS) > _KEEP_TRAINERS:
            _WORKER_TRAINERS.popitem(last=False)
    return trainer.compute_job(job)


def _connect(spec):
    """A client of the scheduler at ``spec.address``, or of a new local cluster; and that cluster."""
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if spec.address is None:
            cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            return Client(cluster, timeout=f"{spec.timeout_s}s"), cluster
        return Client(spec.address, timeout=f"{spec.timeout_s}s"), None
    except Exception as exc:
        if cluster is not None:
            cluster.close()
        where = "start a local Dask cluster" if spec.address is None else f"connect to {spec.address}"
        hint = ("; a script that starts one must guard its code with if __name__ == '__main__'"
                if spec.address is None else "")
        raise ExecutorError(f"train.executor: cannot {where}: {type(exc).__name__}: {one_line(exc, 200)}{hint}") from None


class DaskExecutor(Executor):
    """Jobs computed on a Dask cluster (see the module docstring).

    Args:
        spec: the ``train.executor`` mapping (``type: dask``).
        replica: builds, on a worker, a trainer that computes jobs there (picklable).
    """

    name = "dask"

    def __init__(self, spec, replica: Callable[..., JobComputer]) -> None:
        super().__init__()
        self.spec = spec
        self.client, self._cluster = _connect(spec)
        self._token = uuid.uuid4().hex
        try:
            self._replica = self.client.scatter([replica], broadcast=True, hash=False)[0]
        except Exception as exc:
            self.close()
            raise ExecutorError(f"train.executor: cannot ship the training state to the Dask workers: "
                                f"{type(exc).__name__}: {one_line(exc, 200)}") from None
        self._waiting: dict[int, Job] = {}
        self._running: dict[int, tuple[Job, object]] = {}
        #: jobs sent to the cluster
        self.submitted = 0
        #: cancelled jobs that were still waiting here (never computed)
        self.cancelled_waiting = 0
        #: cancelled jobs whose future was cancelled (computed only if their task had started)
        self.cancelled_in_flight = 0

    @property
    def in_flight(self) -> int:
        """Jobs on the cluster and not yet collected."""
        return len(self._running)

    def _send(self, job: Job) -> None:
        future = self.client.submit(compute_on_worker, self._replica, self._token, job,
                                    key=f"simfl-job-{self._token}-{job.task_id}", retries=0)
        self._running[job.task_id] = (job, future)
        self.submitted += 1

    def _collect_finished(self) -> None:
        """Bring the results of finished tasks here, freeing their slots."""
        finished = [tid for tid, (_, f) in self._running.items() if f.status == "finished"]
        if finished:
            self._gather([self._running.pop(tid) for tid in finished])

    def _gather(self, entries: list[tuple[Job, object]]) -> None:
        try:
            values = self.client.gather([f for _, f in entries])
        except Exception as exc:
            if type(exc).__module__.startswith("simfl"):
                raise  # the job's own error (a failing model factory)
            raise ExecutorError(f"train.executor: the Dask cluster could not compute jobs: {type(exc).__name__}: "
                                f"{one_line(exc, 200)}") from None
        for (job, _), (params, stats) in zip(entries, values):
            self._store(job, params, stats)
        self._computed += len(entries)

    def _fill(self) -> None:
        """Send waiting jobs, oldest first, while fewer than ``max_in_flight`` are on the cluster."""
        self._collect_finished()
        while self._waiting and len(self._running) < self.spec.max_in_flight:
            self._send(self._waiting.pop(next(iter(self._waiting))))

    def submit(self, job: Job) -> None:
        """Queue the job and send it if there is room."""
        self._waiting[job.task_id] = job
        self._fill()

    def cancel(self, job: Job) -> None:
        """Drop a waiting job, or cancel its future; forget its result."""
        if self._waiting.pop(job.task_id, None) is not None:
            self.cancelled_waiting += 1
        entry = self._running.pop(job.task_id, None)
        if entry is not None:
            entry[1].cancel()
            self.cancelled_in_flight += 1
        super().cancel(job)

    def results(self, jobs: Sequence[Job]) -> list[np.ndarray]:
        """The jobs' parameters: those not yet on the cluster are sent now, then all gathered."""
        for j in jobs:
            if j.task_id in self._waiting:
                self._send(self._waiting.pop(j.task_id))
            elif j.task_id not in self._running and j.task_id not in self._done:
                self._send(j)
        needed = [self._running.pop(j.task_id) for j in jobs if j.task_id in self._running]
        if needed:
            self._gather(needed)
        self._fill()
        return [self._done.pop(j.task_id) for j in jobs]

    def checkpoint_state(self) -> dict:
        """The jobs not yet collected (resubmitted on resume), unfetched results and statistics."""
        pending = {tid: job for tid, (job, _) in self._running.items()} | dict(self._waiting)
        return {"pending": pending, "done": dict(self._done), "stats": dict(self._stats), "executor": self.name}

    def load_checkpoint_state(self, state: dict) -> None:
        """Restore :meth:`checkpoint_state`: its pending jobs are queued again, by task id."""
        for _, future in self._running.values():
            future.cancel()
        self._running.clear()
        self._waiting = {tid: state["pending"][tid] for tid in sorted(state["pending"])}
        self._done = dict(state["done"])
        self._stats = dict(state["stats"])
        self._fill()

    def close(self) -> None:
        """Close the client, and the local cluster if this executor started it."""
        client, cluster = getattr(self, "client", None), getattr(self, "_cluster", None)
        self.client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
