"""The devices executor: several devices of this machine (GPUs), jobs spread over them by task id.

Job ``t`` goes to device ``t mod n`` (placement never depends on timing); each device has its
own trainer (the model and the data copied there once) and its own local executor, batched or
sequential. When results are asked for, every device computes its share of the missing jobs
at once, one thread per device (torch releases the GIL while kernels run). Per device, the jobs
grouped are those pending there, so results are the local executor's up to float rounding
(batched) — bitwise equal to sequential on the same device type with ``batched: false``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import numpy as np

from simfl.engine.protocols import Job
from simfl.errors import ConfigError
from simfl.training.executors.base import Executor, JobComputer, JobStats
from simfl.training.device import resolve_device
from simfl.training.executors.local import LocalExecutor

__all__ = ["DevicesExecutor", "device_names"]


def device_names(spec) -> list[str]:
    """The devices of a ``type: devices`` spec: as listed, or every visible CUDA device."""
    if spec.devices is not None:
        return list(spec.devices)
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise ConfigError("train.executor.devices: no CUDA device is visible; list the devices "
                          "(e.g. [cuda:0, cuda:1], or [cpu, cpu] to test) or use train.executor: batched")
    return [f"cuda:{i}" for i in range(count)]


class DevicesExecutor(Executor):
    """Jobs spread over several devices by task id (see the module docstring).

    Args:
        spec: the ``train.executor`` mapping (``type: devices``).
        replica: builds a trainer on the device it is given (``replica(device=name)``).
    """

    name = "devices"

    def __init__(self, spec, replica: Callable[..., JobComputer]) -> None:
        super().__init__()
        self.devices = device_names(spec)
        for name in self.devices:  # a device that is not present: one line naming the key
            resolve_device(name, key="train.executor.devices")
        self.parts = [LocalExecutor(replica(device=d), batched=spec.batched) for d in self.devices]
        self._threads = ThreadPoolExecutor(len(self.parts), thread_name_prefix="simfl-device")

    @property
    def computed(self) -> int:
        """Jobs computed on every device."""
        return sum(p.computed for p in self.parts)

    def _part(self, job: Job) -> LocalExecutor:
        return self.parts[job.task_id % len(self.parts)]

    def submit(self, job: Job) -> None:
        """Hand the job to its device's executor."""
        self._part(job).submit(job)

    def cancel(self, job: Job) -> None:
        """Forget the job on its device."""
        self._part(job).cancel(job)

    def job_stats(self, job: Job) -> JobStats:
        """The job's loss statistics, from its device."""
        return self._part(job).job_stats(job)

    def results(self, jobs: Sequence[Job]) -> list[np.ndarray]:
        """Each job's parameters; every device computes its share at the same time."""
        shares: dict[int, list[Job]] = {}
        for j in jobs:
            shares.setdefault(j.task_id % len(self.parts), []).append(j)
        futures = {k: self._threads.submit(self.parts[k].results, share) for k, share in shares.items()}
        done = {j.task_id: w for k, f in futures.items() for j, w in zip(shares[k], f.result())}
        return [done[j.task_id] for j in jobs]

    def checkpoint_state(self) -> dict:
        """Every device's executor state."""
        return {"executor": self.name, "parts": [p.checkpoint_state() for p in self.parts]}

    def load_checkpoint_state(self, state: dict) -> None:
        """Restore :meth:`checkpoint_state`."""
        for part, saved in zip(self.parts, state["parts"], strict=True):
            part.load_checkpoint_state(saved)

    def close(self) -> None:
        """Stop the device threads."""
        self._threads.shutdown(wait=True)
