"""Client selection policies: who is dispatched next, for FedAvg rounds and asynchronous
replacement dispatch alike (``algorithm.selection``).

A selector picks among *eligible* clients — idle, online, past their cool-down
(``algorithm.client_cooldown_s``) — using the server's selection stream, so its choices are a
pure function of the seed and of what happened in the run. ``select`` picks one client;
``select_round`` picks a round's clients (by default ``select`` repeated).

* ``uniform``: uniformly at random (the default).
* ``fastest``: resource-aware; the client with the shortest expected task (download +
  compute at its base speed × E[jitter] + upload), except that with probability ``epsilon``
  it picks uniformly instead (exploration).
* ``least_recent``: the client not dispatched to for the longest time (never-dispatched
  clients first, in a random order): a round robin over the population.
* ``power_of_choice`` (Cho, Wang, Joshi 2022, "Towards Understanding Biased Client Selection
  in Federated Learning", AISTATS): sample ``d`` candidates without replacement with
  probability ∝ data size, ask each for its local loss at the current global model, take the
  ones with the highest loss.
* ``oort``: :mod:`simfl.methods.oort`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import ClassVar

import numpy as np
from pydantic import Field

from simfl.algorithms.sampling import weighted_sample_without_replacement
from simfl.config.params import SelectionParams
from simfl.engine.server import Selector, Server

__all__ = ["Uniform", "Fastest", "LeastRecent", "PowerOfChoice"]

#: Uniform draws tried before selection lists every eligible client.
_REJECTION_TRIES = 32


class Uniform(Selector):
    """Uniformly at random among eligible clients."""

    class Params(SelectionParams):
        """Uniformly at random among eligible clients."""

        type: str = "uniform"

    def __init__(self, params: "Uniform.Params | None" = None) -> None:
        self.params = params

    def select(self, server: Server) -> int | None:
        """Rejection sampling from the selection stream, then, after a few misses, a uniform
        draw from the full list — uniform over the eligible set either way."""
        busy, n, draw = server.busy, len(server.busy), server.selection_stream.next
        if server.idle_means_eligible:  # always online, no cool-down: the common fast path
            c = int(draw() * n)  # the first try, written out: it mostly succeeds
            if not busy[c]:
                return c
            for _ in range(_REJECTION_TRIES - 1):
                c = int(draw() * n)
                if not busy[c]:
                    return c
        else:
            eligible = server.is_eligible
            for _ in range(_REJECTION_TRIES):
                c = int(draw() * n)
                if not busy[c] and eligible(c):
                    return c
        candidates = np.flatnonzero(server.eligible_mask())
        if candidates.size == 0:
            return None
        return int(candidates[server.selection_stream.index(candidates.size)])


class Fastest(Selector):
    """Shortest expected task first; uniform with probability ``epsilon``."""

    class Params(SelectionParams):
        """The eligible client with the shortest expected task; uniform with probability ``epsilon``."""

        type: str = "fastest"
        epsilon: float = Field(0.0, ge=0, le=1, description="probability of a uniform pick instead (exploration)")

    def __init__(self, params: "Fastest.Params") -> None:
        self.epsilon = params.epsilon
        self.order: np.ndarray | None = None  # clients by expected task duration (fixed during a run)
        self._uniform = Uniform()

    def fastest_order(self, server: Server) -> np.ndarray:
        """Clients sorted by expected task duration (ties by id)."""
        if self.order is None:
            self.order = np.argsort(server.expected_task_durations(), kind="stable")
        return self.order

    def select(self, server: Server) -> int | None:
        if self.epsilon > 0 and server.selection_stream.next() < self.epsilon:
            return self._uniform.select(server)
        busy, eligible = server.busy, server.is_eligible
        for c in self.fastest_order(server).tolist():
            if not busy[c] and eligible(c):
                return c
        return None


class LeastRecent(Selector):
    """Least recently dispatched first; never-dispatched clients first, in a random order."""

    class Params(SelectionParams):
        """The eligible client dispatched to least recently (never-dispatched first): a round robin."""

        type: str = "least_recent"

    def __init__(self, params: "LeastRecent.Params") -> None:
        self._queue: OrderedDict[int, None] | None = None

    def select(self, server: Server) -> int | None:
        if self._queue is None:
            order = np.argsort(server.selection_stream.uniforms(server.num_clients), kind="stable")
            self._queue = OrderedDict.fromkeys(order.tolist())
        busy, eligible = server.busy, server.is_eligible
        for c in self._queue:
            if not busy[c] and eligible(c):
                self._queue.move_to_end(c)  # dispatched now: the most recent
                return c
        return None


class PowerOfChoice(Selector):
    """Cho et al. 2022: ``d`` candidates ∝ data size among eligible, highest local loss first."""

    class Params(SelectionParams):
        """Cho et al. 2022: ``d`` candidates ∝ data size, the highest local losses win."""

        type: str = "power_of_choice"
        d: int = Field(10, ge=1, description="candidates sampled per selection (at least the number selected)")
        needs_losses: ClassVar[bool] = True

    def __init__(self, params: "PowerOfChoice.Params") -> None:
        self.d = params.d
        self.last_candidates: np.ndarray | None = None  # for inspection
        self.last_losses: np.ndarray | None = None

    def _pick(self, server: Server, m: int) -> list[int]:
        eligible = np.flatnonzero(server.eligible_mask())
        if eligible.size == 0:
            return []
        u = server.selection_stream.uniforms(eligible.size)
        weights = server.num_samples[eligible].astype(float)
        candidates = eligible[weighted_sample_without_replacement(weights, max(self.d, m), u)]
        losses = np.asarray(server.client_losses(candidates))
        self.last_candidates, self.last_losses = candidates, losses
        return candidates[np.argsort(-losses, kind="stable")[:m]].tolist()

    def select(self, server: Server) -> int | None:
        picked = self._pick(server, 1)
        return picked[0] if picked else None

    def select_round(self, server: Server, m: int) -> list[int]:
        return self._pick(server, m)
