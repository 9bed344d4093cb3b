"""The local executor: jobs computed in this process, one at a time or batched.

Jobs are computed lazily, when the engine first asks for a result. ``sequential`` then trains
that job alone; ``batched`` trains every job submitted so far together
(:mod:`simfl.training.batched`) and keeps the results until they are asked for — in FedAsync
the first arrival computes the whole set in flight, FedAvg and FedBuff ask for a round or a
buffer at once. Which jobs are grouped depends only on the simulation (what is pending when a
result is first needed), never on the host.

``model.type: torch`` is batched through ``torch.func.vmap``; the first time it cannot (or the
first batched group disagrees with the sequential result of its first job), one line is logged
saying why and every later job is computed sequentially — same results, slower.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from simfl.engine.protocols import Job
from simfl.training.executors.base import CannotBatch, Executor, JobComputer

_log = logging.getLogger(__name__)

__all__ = ["LocalExecutor", "group_jobs"]

#: Largest number of sample slots (jobs × steps × batch × input size) gathered at once.
MAX_BATCH_ELEMENTS = 1 << 24
MAX_BATCH_JOBS = 512
#: Largest |batched − sequential| on the first batched job of a ``type: torch`` model that is
#: taken as float rounding (relative to the largest parameter, at least 1).
_VERIFY_TOLERANCE = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-9}


def group_jobs(jobs: Sequence[Job], steps: dict[int, int], slots_per_step: int) -> list[list[Job]]:
    """Jobs cut into batches of similar step counts that fit in memory: sorted by (steps, task
    id); a group's jobs run as many steps as its longest, so step counts stay within 1.5x."""
    ordered = sorted(jobs, key=lambda j: (steps[j.task_id], j.task_id))
    per_job = max(steps.values()) * slots_per_step
    cap = max(1, min(MAX_BATCH_JOBS, MAX_BATCH_ELEMENTS // max(per_job, 1)))
    groups: list[list[Job]] = []
    group: list[Job] = []
    for job in ordered:
        if group and (len(group) == cap or steps[job.task_id] > 1.5 * steps[group[0].task_id]):
            groups.append(group)
            group = []
        group.append(job)
    if group:
        groups.append(group)
    return groups


class LocalExecutor(Executor):
    """Jobs computed in this process by ``trainer``, lazily; ``batched``: all pending together.

    Args:
        trainer: computes the jobs (on its device).
        batched: train every pending job together when a result is first needed.
    """

    def __init__(self, trainer: JobComputer, batched: bool) -> None:
        super().__init__()
        self.trainer = trainer
        self.batched = batched
        self.name = "batched" if batched else "sequential"
        self._pending: dict[int, Job] = {}
        self._verified = False  # type torch: the first batched group was checked against sequential

    def submit(self, job: Job) -> None:
        """Remember the job; it is computed when its result is first needed."""
        self._pending[job.task_id] = job

    def cancel(self, job: Job) -> None:
        """Forget the job, computed or not."""
        self._pending.pop(job.task_id, None)
        super().cancel(job)

    def results(self, jobs: Sequence[Job]) -> list[np.ndarray]:
        """Each job's parameters (batched: every pending job is trained together)."""
        missing = [j for j in jobs if j.task_id not in self._done]
        if missing:
            if self.batched:
                for j in missing:
                    self._pending[j.task_id] = j
                self._train_pending()
            else:
                for j in missing:
                    self._pending.pop(j.task_id, None)
                    self._compute(j)
        return [self._done.pop(j.task_id) for j in jobs]

    def _compute(self, job: Job) -> None:
        self._store(job, *self.trainer.compute_job(job))

    def _train_pending(self) -> None:
        """Train every pending job, in groups of similar step counts that fit in memory."""
        jobs = list(self._pending.values())
        self._pending.clear()
        steps = {j.task_id: self.trainer.steps(j) for j in jobs}
        for group in group_jobs(jobs, steps, self.trainer.slots_per_step):
            self._train_group(group)

    def _train_group(self, group: list[Job]) -> None:
        if len(group) == 1 or not self.batched:
            for j in group:
                self._compute(j)
            return
        try:
            w, stats = self.trainer.compute_group(group)
        except CannotBatch as exc:
            self._fall_back(str(exc), group)
            return
        if self.trainer.custom and not self._verified:
            self._verified = True
            why = self._disagreement(group[0], w[0])
            if why is not None:
                self._fall_back(why, group)
                return
        for j, row, s in zip(group, w, stats):
            self._store(j, row, s)

    def _disagreement(self, job: Job, batched: np.ndarray) -> str | None:
        """Why a module's batched result of ``job`` is not its sequential one (None: it is, up to rounding)."""
        reference, _ = self.trainer.compute_job(job)
        gap = float(np.max(np.abs(reference - batched))) if len(reference) else 0.0
        scale = max(1.0, float(np.max(np.abs(reference))) if len(reference) else 1.0)
        if gap <= _VERIFY_TOLERANCE[reference.dtype] * scale:
            return None
        return f"its batched result differs from the sequential one by {gap:.3g}"

    def _fall_back(self, why: str, group: list[Job]) -> None:
        """Compute ``group`` and every later job sequentially, saying why in one logged line."""
        self.batched = False
        self.name = "sequential"
        _log.warning("train.executor: batched cannot run model %s (%s); its jobs run one at a time (same results, "
                     "slower)", self.trainer.model_source, why)
        for j in group:
            self._compute(j)

    def checkpoint_state(self) -> dict:
        """Pending jobs, unfetched results and statistics; restored exactly, the same jobs are grouped."""
        return {"pending": dict(self._pending), "done": dict(self._done), "stats": dict(self._stats),
                "executor": self.name, "batched": self.batched, "verified": self._verified}

    def load_checkpoint_state(self, state: dict) -> None:
        """Restore :meth:`checkpoint_state`."""
        self._pending = dict(state["pending"])
        self._done = dict(state["done"])
        self._stats = dict(state["stats"])
        self.name, self.batched, self._verified = state["executor"], state["batched"], state["verified"]
