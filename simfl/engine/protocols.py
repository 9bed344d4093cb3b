"""The trainer the engine is given (server policies: :mod:`simfl.engine.server`).

The engine never imports torch. A trainer is any object with the :class:`Trainer` methods;
parameters cross the boundary as flat numpy vectors that are never modified in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

import numpy as np

__all__ = ["Job", "Trainer"]


@dataclass(frozen=True, slots=True)
class Job:
    """A client's local training, a pure function of its fields and the trainer's config.

    The update depends only on (start parameters, the client's data as they are at
    ``dispatch_time_s`` — see concept drift —, the local config, the client's
    ``task_index``-th training stream of the seed tree), so the same job gives the same result
    whichever algorithm dispatched it, and whenever (or batched with whatever) it runs.
    """

    task_id: int
    client_id: int
    task_index: int
    start_params: np.ndarray
    dispatch_time_s: float = 0.0  # the client's data are as they are then (concept drift)


class Trainer(Protocol):
    """What the engine needs from a trainer. Extension point: implement these members.

    A trainer that can be checkpointed (``run.checkpoint_every_s``) also has
    ``checkpoint_state() -> dict`` (its jobs and unfetched results; picklable) and
    ``load_checkpoint_state(state)``.

    A trainer that holds its own data also has ``client_sizes``: training samples per client
    (int array, one per client). :func:`simfl.run` then takes the clients' sizes (FedAvg weights,
    compute times, ``clients.parquet``) from it rather than from ``config.data``; a trainer
    without the attribute (a stub) is timed with the sizes of ``config.data``.
    """

    #: Bytes of one model (and of one update) on the wire.
    model_bytes: int

    def initial_params(self) -> np.ndarray:
        """The initial global model as a flat vector."""

    def submit(self, job: Job) -> None:
        """A task started: its result will probably be asked for (it may be computed lazily)."""

    def result(self, job: Job) -> np.ndarray:
        """The client's parameters after local training (flat vector, same dtype as the model)."""

    def results(self, jobs: Sequence[Job]) -> list[np.ndarray]:
        """:meth:`result` for several jobs at once (a batched trainer computes them together)."""

    def cancel(self, job: Job) -> None:
        """The job's result will never be asked for (lost, dropped or discarded task)."""

    def evaluate(self, params: np.ndarray, sim_time_s: float) -> Mapping[str, float]:
        """Metrics of a global model on the held-out data as they are at ``sim_time_s``: at least
        ``test_loss`` and ``test_accuracy`` (``validation_loss`` and ``validation_accuracy`` when the
        run evaluates on its validation rows, ``eval.split: validation``)."""
