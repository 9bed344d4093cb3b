"""The Dask executor: one run's jobs computed on a ``dask.distributed`` cluster, one task per job.

The static training state (the config, the data, the seed tree, the model factory) is shipped
once per worker, as a worker plugin (:class:`TrainingState`: a worker that joins or restarts
gets it too); each worker builds its trainer from it once and computes jobs with the same CPU
code as the local sequential executor, with as many torch threads as this process (``torch_threads``: CPU kernels round by thread count), so its
updates are bitwise equal to it whatever the worker count or scheduling order. A start model
is sent once and shared by the jobs that start from it (a FedAvg round, a FedBuff version).

A job is submitted when the engine submits it (its start model travels with it), up to
``max_in_flight`` jobs on the cluster and not yet collected; later jobs wait in this process and
go as others are collected (finished tasks are collected whenever a job is submitted or a result
asked for). A result that is asked for is submitted at once, even beyond the cap. A cancelled
job is dropped from the queue (never computed) or its future cancelled (a task already running
finishes on its worker and is discarded). Tasks are pure: when a worker dies, the scheduler
reruns its tasks elsewhere (up to its ``distributed.scheduler.allowed-failures``); a cluster left
with no worker at all for ``timeout_s`` while results are awaited fails the run in one line.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
import warnings
from collections import OrderedDict
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np
from distributed import WorkerPlugin

from simfl.engine.protocols import Job
from simfl.errors import ExecutorError, one_line
from simfl.training.executors.base import Executor, JobComputer, JobStats

__all__ = ["DaskExecutor", "TrainingState", "compute_on_worker"]

#: On each worker, by executor token: the run's replica builder (from the worker plugin) and,
#: once built on the first job, its trainer.
_WORKER_STATE: dict[str, Callable[[], JobComputer]] = {}
_WORKER_TRAINERS: dict[str, JobComputer] = {}
#: Distinct start models kept on the cluster (the jobs of one model version share one).
_KEEP_MODELS = 8
#: Seconds between looks at the cluster's workers while waiting for results.
_POLL_S = 1.0


class TrainingState(WorkerPlugin):
    """A worker plugin holding the run's static training state (config, data, seed tree, model
    factory): the scheduler sends it once to every worker, also to a worker that joins or is
    restarted later; removed at the end of the run."""

    def __init__(self, token: str, replica: Callable[[], JobComputer]) -> None:
        self.token, self.replica = token, replica

    def setup(self, worker) -> None:
        """Keep the state on the worker (the trainer is built on the first job)."""
        _WORKER_STATE[self.token] = self.replica

    def teardown(self, worker) -> None:
        """Forget the state and the trainer."""
        _WORKER_STATE.pop(self.token, None)
        _WORKER_TRAINERS.pop(self.token, None)


def compute_on_worker(token: str, threads: int, job: Job, start_params: np.ndarray) -> tuple[np.ndarray, JobStats]:
    """A job computed on a Dask worker by the run's trainer (built there on the first job) with
    ``threads`` torch threads (CPU kernels round by thread count)."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    trainer = _WORKER_TRAINERS.get(token)
    if trainer is None:
        trainer = _WORKER_TRAINERS[token] = _WORKER_STATE[token]()
    return trainer.compute_job(replace(job, start_params=start_params))


def _hold(params: np.ndarray) -> np.ndarray:
    """A start model, as a task's result on a worker (recomputable from the scheduler's graph)."""
    return params


def _connect(spec):
    """A client of the scheduler at ``spec.address``, or of a new local cluster; and that cluster."""
    from distributed import Client, LocalCluster  # noqa: PLC0415

    cluster = None
    try:
        if spec.address is None:
            cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.ERROR)
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
        self._plugin = f"simfl-training-{self._token}"
        try:
            self.client.register_plugin(TrainingState(self._token, replica), name=self._plugin)
        except Exception as exc:
            self.close()
            raise ExecutorError(f"train.executor: cannot ship the training state to the Dask workers: "
                                f"{type(exc).__name__}: {one_line(exc, 200)}") from None
        import torch

        self._threads = spec.torch_threads or torch.get_num_threads()
        self._models: OrderedDict[int, tuple[np.ndarray, object]] = OrderedDict()  # id → (array, its future)
        self._sent_models = 0
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

    def _start_model(self, params: np.ndarray):
        """The start model on the cluster, sent once per distinct array (one per model version).

        It is a task's argument rather than scattered data: the scheduler keeps it, so a worker
        that dies holding the model has it recomputed elsewhere (scattered data would be lost).
        """
        entry = self._models.get(id(params))
        if entry is None or entry[0] is not params:
            self._sent_models += 1
            with warnings.catch_warnings():  # a model is a large graph by design
                warnings.filterwarnings("ignore", message="Sending large graph")
                future = self.client.submit(_hold, params, key=f"simfl-model-{self._token}-{self._sent_models}")
            entry = self._models[id(params)] = (params, future)
            while len(self._models) > _KEEP_MODELS:
                self._models.popitem(last=False)
        return entry[1]

    def _send(self, job: Job) -> None:
        future = self.client.submit(compute_on_worker, self._token, self._threads,
                                    replace(job, start_params=None), self._start_model(job.start_params),
                                    key=f"simfl-job-{self._token}-{job.task_id}", retries=0)
        self._running[job.task_id] = (job, future)
        self.submitted += 1

    def _collect_finished(self) -> None:
        """Bring the results of finished tasks here, freeing their slots."""
        finished = [tid for tid, (_, f) in self._running.items() if f.status == "finished"]
        if finished:
            self._gather([self._running.pop(tid) for tid in finished])

    def _wait(self, futures: list) -> None:
        """Wait until ``futures`` are done; a cluster with no worker for ``timeout_s`` is an error
        (its tasks would wait forever: a worker that dies is replaced only by its nanny)."""
        from distributed import wait  # noqa: PLC0415

        poll, workerless_since = min(_POLL_S, self.spec.timeout_s), None
        while True:
            try:
                wait(futures, timeout=poll)
                return
            except TimeoutError:
                pass
            if self.client.scheduler_info().get("workers"):
                workerless_since = None
            elif workerless_since is None:
                workerless_since = time.monotonic()
            elif time.monotonic() - workerless_since >= self.spec.timeout_s:
                raise ExecutorError(f"train.executor: the Dask cluster has had no worker for {self.spec.timeout_s:g} s "
                                    f"({len(futures)} jobs waiting); start workers, or raise timeout_s") from None

    def _gather(self, entries: list[tuple[Job, object]]) -> None:
        self._wait([f for _, f in entries])
        try:
            values = self.client.gather([f for _, f in entries])
        except Exception as exc:
            if type(exc).__module__.startswith("simfl"):
                raise  # the job's own error (a failing model factory)
            raise ExecutorError(f"train.executor: the Dask cluster could not compute jobs: {type(exc).__name__}: "
                                f"{one_line(exc, 200)}") from None
        for (job, _), (params, stats) in zip(entries, values):
            self._store(job, params, stats)

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
            if cluster is None:  # a shared cluster: remove this run's state from its workers
                with contextlib.suppress(Exception):
                    client.unregister_worker_plugin(self._plugin)
            client.close()
        if cluster is not None:
            cluster.close()
