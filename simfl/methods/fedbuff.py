"""FedBuff (Nguyen et al. 2022): buffer ``s(τ)·Δ`` with ``Δ = x_start − x_client``; after
``buffer_size`` = K arrivals ``x ← x + opt(g)`` (``opt = sgd(server_lr)``: ``x − lr·g``) with

* ``buffer_normalization = count`` (the paper, Algorithm 1): ``g = Σ s(τ_k)·Δ_k / K``, so stale
  updates shrink the step;
* ``buffer_normalization = weight``: ``g = Σ s(τ_k)·Δ_k / Σ s(τ_k)``, so staleness reweights the
  updates but the step keeps the size of a plain mean (FLSim's ``FedBuffAggregator`` with its
  reducer set to ``WEIGHTED_AVERAGE``);
* ``buffer_normalization = sum``: ``g = Σ s(τ_k)·Δ_k``, no division, so the step grows with K
  (FLSim's ``FedBuffAggregator`` as configured by default: ``AsyncAggregatorConfig.reducer`` is
  a ``WEIGHTED_SUM`` reducer, with weight = example weight × staleness weight and equal example
  weights by default; checked in facebookresearch/FLSim, ``flsim/optimizers/async_aggregators.py``
  and ``flsim/reducers/base_round_reducer.py``). ``server_lr = η/K`` with ``sum`` is ``count``
  with ``server_lr = η``, up to rounding.

With ``s ≡ 1``, ``count`` and ``weight`` are the mean of the deltas and ``sum`` is K times it. Client results are fetched when the buffer is
full, all at once, so a batched trainer can compute them together; the arithmetic is the same
as adding them one by one. Updates still in a partial buffer when the run stops stay
``buffered``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from simfl.engine.server import OptimizerStep, Server, weighted_delta
from simfl.methods.common import AsyncMethod, AsyncParams, ServerStepParams

if TYPE_CHECKING:
    from simfl.engine.tasks import Task

__all__ = ["FedBuffParams", "FedBuff"]


class FedBuffParams(ServerStepParams, AsyncParams):
    """FedBuff (Nguyen et al. 2022): a server step every K buffered, staleness-weighted deltas."""

    buffer_size: int = Field(10, ge=1, description="K updates per server step")
    buffer_normalization: Literal["count", "weight", "sum"] = Field(
        "count",
        description="count = sum of s(tau)*delta divided by K (the paper: staleness shrinks the step) | "
        "weight = divided by the sum of s(tau) (staleness reweights, the step keeps its size; FLSim with a "
        "WEIGHTED_AVERAGE reducer) | sum = not divided (FLSim's default WEIGHTED_SUM reducer: the step grows with K)",
    )


class FedBuff(AsyncMethod):
    """Buffered asynchronous aggregation."""

    Params = FedBuffParams

    def __init__(self, params: FedBuffParams) -> None:
        super().__init__(params)
        self.buffer_size = params.buffer_size
        self.normalization = params.buffer_normalization
        self.step = OptimizerStep(params.optimizer)
        self._buffer: list[tuple["Task", float]] = []

    def apply(self, server: Server, task: "Task", tau: int) -> None:
        weight = float(self.staleness(tau))
        server.hold(task, weight)
        self._buffer.append((task, weight))
        if len(self._buffer) == self.buffer_size:
            self._step(server)

    def _step(self, server: Server) -> None:
        tasks = [t for t, _ in self._buffer]
        weights = [w for _, w in self._buffer]
        params = server.params
        if params is not None:
            divisor = {"count": len(tasks), "weight": sum(weights), "sum": 1.0}[self.normalization]
            params = self.step(params, weighted_delta(server, tasks, weights, divisor))
        for t, w in self._buffer:
            server.applied(t, w)
        self._buffer = []
        server.install(params)
