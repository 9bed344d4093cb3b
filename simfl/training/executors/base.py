"""What every executor is: jobs submitted, cancelled, collected; results kept until fetched.

An executor decides where and when the trainer's jobs are computed; the computation itself is
the trainer's (:class:`JobComputer`): a job's result is a pure function of the job, so every
executor gives the same updates as the local one doing the same per-job computation.
"""

from __future__ import annotations

import math
from typing import Protocol, Sequence

import numpy as np

from simfl.engine.protocols import Job

__all__ = ["CannotBatch", "Executor", "JobComputer", "JobStats", "job_stats", "NO_STATS"]

#: A trained job's loss statistics: (mean, root mean square, samples) of its per-sample losses.
JobStats = tuple[float, float, int]
#: The statistics of a job that was never trained.
NO_STATS: JobStats = (float("nan"), float("nan"), 0)


def job_stats(loss_sum: float, loss_sq_sum: float, samples: int) -> JobStats:
    """:data:`JobStats` from the sums a training loop keeps."""
    n = max(int(samples), 1)
    return float(loss_sum) / n, math.sqrt(float(loss_sq_sum) / n), int(samples)


class CannotBatch(Exception):
    """A group of jobs cannot be trained together (a module ``torch.func.vmap`` cannot run)."""


class JobComputer(Protocol):
    """What an executor needs from the trainer (:class:`~simfl.training.trainer.TorchTrainer`)."""

    #: sample slots one job's step gathers (batch size × input size): bounds a batched group
    slots_per_step: int
    #: the model is a ``torch.nn.Module`` (``type: torch``): batched through vmap, verified once
    custom: bool
    #: the model's name, for messages
    model_source: str

    def compute_job(self, job: Job) -> tuple[np.ndarray, JobStats]:
        """One job's parameters after training, and its loss statistics."""

    def compute_group(self, group: Sequence[Job]) -> tuple[np.ndarray, list[JobStats]]:
        """Several jobs trained together (raises :class:`CannotBatch`)."""

    def steps(self, job: Job) -> int:
        """Local SGD steps of a job."""


class Executor:
    """Base of the executors: the results computed and not yet fetched, and their statistics.

    Subclasses implement :meth:`submit`, :meth:`results` (filling :attr:`_done` and
    :attr:`_stats`), :meth:`cancel` (calling ``super().cancel``), and the checkpoint state.
    """

    #: what the manifest records as ``executor``
    name = "executor"

    def __init__(self) -> None:
        self._done: dict[int, np.ndarray] = {}
        self._stats: dict[int, JobStats] = {}
        self._computed = 0

    @property
    def computed(self) -> int:
        """Jobs computed by this executor (a cancelled job that was never computed is not counted)."""
        return self._computed

    def _store(self, job: Job, params: np.ndarray, stats: JobStats) -> None:
        """Keep a computed job's result until it is fetched (and count it)."""
        self._computed += 1
        self._done[job.task_id] = params
        self._stats[job.task_id] = stats

    def submit(self, job: Job) -> None:
        """A task started: its result will probably be asked for."""
        raise NotImplementedError

    def results(self, jobs: Sequence[Job]) -> list[np.ndarray]:
        """The parameters after each job, in order (computed now if not yet)."""
        raise NotImplementedError

    def cancel(self, job: Job) -> None:
        """The job's result will never be asked for: forget it (and its statistics)."""
        self._done.pop(job.task_id, None)
        self._stats.pop(job.task_id, None)

    def job_stats(self, job: Job) -> JobStats:
        """The loss statistics of a job whose result was fetched (removed once read)."""
        return self._stats.pop(job.task_id, NO_STATS)

    def checkpoint_state(self) -> dict:
        """The executor's jobs and unfetched results (picklable; no handles)."""
        raise NotImplementedError

    def load_checkpoint_state(self, state: dict) -> None:
        """Restore :meth:`checkpoint_state`."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the executor holds (a cluster, threads); idempotent."""
