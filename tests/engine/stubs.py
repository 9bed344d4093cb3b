"""Stub trainers and hand-built populations for exact aggregation arithmetic.

A stub trainer returns a chosen vector per client (optionally a function of the model the
task started from), so what the server makes of the updates can be computed by hand.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from simfl.engine.simulation import Simulation
from simfl.running.world import build_policy, engine_settings
from tests.conftest import make_config
from tests.engine.helpers import LowestIdFirst, hand_population

__all__ = ["VectorTrainer", "sized_simulation"]


class VectorTrainer:
    """Client ``c``'s update is ``result(c, start_params)``; records every job it is given.

    Args:
        x0: the initial global model.
        result: ``(client, start_params) -> trained parameters``.
    """

    model_bytes = 8

    def __init__(self, x0, result: Callable[[int, np.ndarray], np.ndarray]) -> None:
        self.x0 = np.asarray(x0, dtype=float)
        self.result_of = result
        self.jobs: dict[int, object] = {}  # task id -> job (its start model)
        self.fetched: list[int] = []
        self.cancelled: set[int] = set()

    def initial_params(self) -> np.ndarray:
        return self.x0

    def submit(self, job) -> None:
        self.jobs[job.task_id] = job

    def result(self, job) -> np.ndarray:
        assert job.task_id not in self.cancelled
        self.fetched.append(job.task_id)
        return np.asarray(self.result_of(job.client_id, job.start_params), dtype=float)

    def results(self, jobs) -> list[np.ndarray]:
        return [self.result(j) for j in jobs]

    def cancel(self, job) -> None:
        self.cancelled.add(job.task_id)

    def evaluate(self, params, sim_time_s):
        return {"test_loss": float(np.sum(params)), "test_accuracy": 0.0}

    def start_of(self, task_id: int) -> np.ndarray:
        """The model task ``task_id`` started from."""
        return self.jobs[task_id].start_params


def sized_simulation(compute_s, sizes, trainer, **sections) -> Simulation:
    """A trained simulation of :func:`~tests.engine.helpers.hand_population` (compute times
    ``compute_s``, data sizes ``sizes``) under ``make_config(**sections)``, dispatching to the
    lowest eligible id first (hand-computable traces)."""
    sections["train"] = {"local_steps": 1, "batch_size": 1, "enabled": True, **sections.get("train", {})}
    sections["data"] = {"num_clients": len(compute_s), **sections.get("data", {})}
    config = make_config(**sections)
    population = hand_population(compute_s, sizes)
    return Simulation(engine_settings(config, population.num_samples), population, build_policy(config),
                      model_bytes=1000, trainer=trainer, selector=LowestIdFirst(), algorithm=config.algorithm)
