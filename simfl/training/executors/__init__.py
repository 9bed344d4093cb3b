"""Executors: where and when the trainer's jobs are computed (``train.executor``).

* :class:`LocalExecutor` — in this process, one job at a time (``sequential``) or every pending
  job together (``batched``), on ``train.device`` (one GPU: ``train.device: cuda``).
* :class:`DevicesExecutor` — several devices of this machine; jobs spread by task id.
* :class:`DaskExecutor` — a ``dask.distributed`` cluster, one job per task.

Every executor computes the same pure per-job function (the trainer's), so results do not depend
on where or when a job ran; see docs/scale.md.
"""

from __future__ import annotations

from typing import Callable

from simfl.training.executors.base import CannotBatch, Executor, JobComputer, JobStats, job_stats
from simfl.training.executors.local import LocalExecutor

__all__ = ["CannotBatch", "Executor", "JobComputer", "JobStats", "job_stats", "LocalExecutor", "build_executor"]


def build_executor(train, trainer: JobComputer, replica: Callable[..., JobComputer]) -> Executor:
    """The executor of a ``train`` config section for ``trainer``.

    Args:
        train: the ``train`` section (``executor``: a name or a ``{type: ...}`` spec).
        trainer: the run's trainer (the local executor computes with it).
        replica: builds a trainer that computes jobs where it is called, given a device name
            (picklable: a Dask worker calls it with no argument).
    """
    spec = train.executor
    kind = spec if isinstance(spec, str) else spec.type
    if kind in ("batched", "sequential"):
        return LocalExecutor(trainer, batched=kind == "batched")
    if kind == "devices":
        from simfl.training.executors.devices import DevicesExecutor

        return DevicesExecutor(spec, replica)
    from simfl.training.executors.cluster import DaskExecutor  # dask is imported only when used

    return DaskExecutor(spec, replica)
