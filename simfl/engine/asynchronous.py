"""Asynchronous server policies: FedAsync and FedBuff.

Both keep ``concurrency`` tasks in flight (running, or arrived and waiting for the server to
aggregate them when aggregation takes time). At a simulated time where tasks end, every arrival
is applied first, in dispatch order, and only then are replacements dispatched — uniformly
among idle, online clients from the selection stream, identically for both algorithms — so
a replacement starts from the model that includes every arrival at that time. If too few
clients are available, the policy waits for the next client to come online.

Staleness τ of an update = server version when it arrives, before it is applied − the
version it was trained from. Updates with τ > ``max_staleness`` are dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simfl.algorithms.aggregation import accumulate, accumulate_init, accumulated_mean, mix
from simfl.algorithms.optim import ServerOptimizer, apply_update
from simfl.algorithms.staleness import StalenessFunction
from simfl.engine.events import WAKE, PriorityTimeout
from simfl.engine.simulation import Simulation
from simfl.engine.tasks import Status, Task

__all__ = ["AsyncPolicy", "FedAsyncRule", "FedBuffRule"]


class FedAsyncRule:
    """Xie, Koyejo, Gupta (2019): ``x ← (1 − α s(τ)) x + α s(τ) x_client``, one version per arrival.

    With a server optimizer, the arrival's pseudo-gradient ``g = α s(τ)·(x − x_client)`` goes
    through it instead (``sgd(1)`` is the plain rule).
    """

    def __init__(self, alpha: float, staleness: StalenessFunction, optimizer: ServerOptimizer | None = None) -> None:
        self.alpha = alpha
        self.staleness = staleness
        self.optimizer = optimizer
        self._opt_state = None

    def apply(self, sim: Simulation, task: Task, tau: int) -> None:
        weight = self.alpha * self.staleness(tau)
        params = sim.params
        if params is not None:
            x_client = sim.fetch_results([task])[0]
            if self.optimizer is None:
                params = mix(params, x_client, weight)
            else:
                if self._opt_state is None:
                    self._opt_state = self.optimizer.init(params)
                update, self._opt_state = self.optimizer.update(weight * (params - x_client), self._opt_state)
                params = apply_update(params, update)
        sim.settle(task, Status.APPLIED, tau, weight)
        sim.new_version(params, 1)

    def finish(self, sim: Simulation) -> None:
        """Nothing is held between arrivals."""


@dataclass
class FedBuffRule:
    """Nguyen et al. (2022): buffer ``s(τ)·Δ`` with ``Δ = x_start − x_client``; after
    ``buffer_size`` = K arrivals ``x ← x + opt(g)`` (``opt = sgd(server_lr)``: ``x − lr·g``) with

    * ``normalization = "count"`` (the paper, Algorithm 1): ``g = Σ s(τ_k)·Δ_k / K``, so stale
      updates shrink the step;
    * ``normalization = "weight"`` (FLSim's ``FedBuff`` aggregator, a weighted average):
      ``g = Σ s(τ_k)·Δ_k / Σ s(τ_k)``, so staleness reweights the updates but the step keeps
      the size of a plain mean.

    With ``s ≡ 1`` both are the mean of the deltas. Client results are fetched when the buffer is
    full, all at once, so a batched trainer can compute them together; the arithmetic is the
    same as adding them one by one.
    """

    buffer_size: int
    staleness: StalenessFunction
    optimizer: ServerOptimizer
    normalization: str = "count"
    _buffer: list[tuple[Task, float]] = field(default_factory=list)
    _opt_state: object = None

    def apply(self, sim: Simulation, task: Task, tau: int) -> None:
        weight = float(self.staleness(tau))
        sim.settle(task, Status.BUFFERED, tau, weight)
        self._buffer.append((task, weight))
        if len(self._buffer) == self.buffer_size:
            self._step(sim)

    def _step(self, sim: Simulation) -> None:
        params = sim.params
        if params is not None:
            if self._opt_state is None:
                self._opt_state = self.optimizer.init(params)
            results = sim.fetch_results([t for t, _ in self._buffer])
            acc = accumulate_init(params)
            for (t, w), x_client in zip(self._buffer, results):
                acc = accumulate(acc, t.params - x_client, w)
            g = accumulated_mean(acc) if self.normalization == "count" else acc.total / acc.weight_sum
            update, self._opt_state = self.optimizer.update(g, self._opt_state)
            params = apply_update(params, update)
        for t, w in self._buffer:
            sim.log.set_outcome(t.id, Status.APPLIED, w)
        n = len(self._buffer)
        self._buffer = []
        sim.new_version(params, n)

    def finish(self, sim: Simulation) -> None:
        """Updates still in a partial buffer never enter the model (status ``buffered``)."""
        for t, _ in self._buffer:
            sim.cancel_job(t)


class AsyncPolicy:
    """Keep ``concurrency`` tasks in flight and hand each arrival to ``rule``.

    With ``max_dispatch_per_s`` = r, consecutive dispatches are at least 1/r seconds apart
    (a token bucket holding one token): a slot that frees earlier waits for its turn.
    """

    def __init__(self, concurrency: int, rule, max_staleness: int | None = None,
                 max_dispatch_per_s: float | None = None) -> None:
        self.concurrency = concurrency
        self.rule = rule
        self.max_staleness = max_staleness
        self._spacing = 0.0 if max_dispatch_per_s is None else 1.0 / max_dispatch_per_s
        self._next_dispatch = -math.inf
        self._throttled = False

    def start(self, sim: Simulation) -> None:
        self._refill(sim)

    def _refill(self, sim: Simulation) -> None:
        selector, dispatch = sim.selector, sim.dispatch
        for _ in range(self.concurrency - sim.outstanding):
            if self._spacing:
                if sim.now < self._next_dispatch:
                    if not self._throttled:  # one pending wake-up is enough
                        self._throttled = True
                        PriorityTimeout(sim.env, self._next_dispatch - sim.now, WAKE).callbacks.append(
                            lambda _ev: self._unthrottle(sim)
                        )
                    return
            client = selector.select(sim)
            if client is None:
                sim.wake_when_available(lambda: self._refill(sim))
                return
            dispatch(client)
            if self._spacing:
                self._next_dispatch = sim.now + self._spacing

    def _unthrottle(self, sim: Simulation) -> None:
        self._throttled = False
        self._refill(sim)

    def on_task_ends(self, sim: Simulation, tasks: list[Task]) -> None:
        limit, apply = self.max_staleness, self.rule.apply
        for task in tasks:
            if task.lost:
                continue
            tau = sim.version - task.base_version
            if limit is not None and tau > limit:
                sim.settle(task, Status.DROPPED_STALE, tau, 0.0)
            else:
                apply(sim, task, tau)
        self._refill(sim)

    def finish(self, sim: Simulation) -> None:
        self.rule.finish(sim)
