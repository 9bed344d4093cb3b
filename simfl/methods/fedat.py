"""FedAT (Chai et al. 2021, "FedAT: A High-Performance and Communication-Efficient Federated
Learning System with Asynchronous Tiers", SC'21): synchronous within tiers, asynchronous
across them.

Clients are split into ``tiers`` groups of equal size by expected task duration (fastest
first). Each tier runs FedAvg rounds of ``clients_per_round`` of its own clients, starting each
round from the current global model. When a tier's round ends, its tier model becomes the
weighted average of the arrived client models (weights ``n_k / Σ n``), the tier's update count
``T_m`` grows by one, and the global model becomes ``x = Σ_m (T_{M+1−m} / T) · w_m``
(:func:`~simfl.algorithms.aggregation.fedat_tier_weights`); tier models start as the initial
model. With ``fedat_weighting = paper`` (the formula as printed), a tier's weight stays 0 until
its mirror tier ``M+1−m`` has reported: the fastest tier counts for nothing until the slowest
tier has reported once, and the versions made while only the fastest tier has reported equal
the initial model (the slowest tier's model, untrained). ``smoothed`` starts every count at 1.
Within a tier, clients are drawn uniformly among the eligible ones from the selection stream
(the ``selection`` policy does not apply to the tiers' private rounds).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, model_validator

from simfl.algorithms.aggregation import fedat_tier_weights, weighted_average
from simfl.config.params import AlgorithmParams, ParamError, World, param_error
from simfl.engine.server import Policy, Server

if TYPE_CHECKING:
    from simfl.engine.tasks import Task

__all__ = ["FedATParams", "FedAT", "speed_tiers"]


class FedATParams(AlgorithmParams):
    """FedAT (Chai et al. 2021): synchronous rounds within speed tiers, combined asynchronously."""

    tiers: int = Field(3, ge=1, description="speed tiers (equal-size groups by expected task duration)")
    clients_per_round: int = Field(10, ge=1, description="K updates per tier round")
    fedat_weighting: Literal["paper", "smoothed"] = Field(
        "paper",
        description="paper = tier m weighs T_(M+1-m)/T as printed (the fastest tier weighs 0 until the slowest "
        "has reported, so early versions equal the initial model) | smoothed = every count starts at 1",
    )

    @model_validator(mode="after")
    def _uniform_only(self):
        if self.selection.type != "uniform":
            raise param_error("selection", "fedat draws each tier's clients uniformly; selection must be uniform")
        return self

    def in_flight(self, num_clients: int) -> int:
        return min(self.tiers * self.clients_per_round, num_clients)

    def check(self, world: World) -> None:
        if self.tiers > world.num_clients:
            raise ParamError("tiers", f"must be <= data.num_clients ({world.num_clients}), got {self.tiers}")


def speed_tiers(expected_durations: np.ndarray, tiers: int) -> list[np.ndarray]:
    """Client ids split into ``tiers`` groups of (nearly) equal size, fastest group first."""
    order = np.argsort(expected_durations, kind="stable")
    return [np.sort(part) for part in np.array_split(order, tiers)]


class FedAT(Policy):
    """Tiers of synchronous rounds, combined asynchronously with FedAT's weights."""

    Params = FedATParams

    def __init__(self, params: FedATParams) -> None:
        self.num_tiers = params.tiers
        self.k = params.clients_per_round
        self.smoothed = params.fedat_weighting == "smoothed"
        self.tiers: list[np.ndarray] = []
        self.tier_of: np.ndarray | None = None
        self.counts = np.zeros(params.tiers, dtype=np.int64)
        self.models: list[np.ndarray | None] = []
        self._rounds: dict[int, dict] = {}  # tier -> the round in progress
        self._round_index = 0
        self._server: Server | None = None

    def start(self, server: Server) -> None:
        self._server = server
        self.tiers = speed_tiers(server.expected_task_durations(), self.num_tiers)
        self.tier_of = np.empty(server.num_clients, dtype=np.int64)
        for m, members in enumerate(self.tiers):
            self.tier_of[members] = m
        self.models = [server.params for _ in self.tiers]
        for m in range(self.num_tiers):
            self._tier_round(m)

    def _pick(self, m: int, count: int) -> list[int]:
        server = self._server
        mask = server.eligible_mask()[self.tiers[m]]
        candidates = self.tiers[m][mask]
        if len(candidates) < count:
            return []
        picked = []
        for _ in range(count):  # uniform without replacement from the selection stream
            j = server.selection_stream.index(len(candidates))
            picked.append(int(candidates[j]))
            candidates = np.delete(candidates, j)
        return picked

    def _tier_round(self, m: int) -> None:
        server = self._server
        clients = self._pick(m, min(self.k, len(self.tiers[m])))
        if not clients:
            t = server.next_eligible_time()
            if t != math.inf:
                server.call_at(t, self._tier_round, m)
            return
        index = self._round_index
        self._round_index += 1
        rnd = {"index": index, "pending": {}, "arrived": []}
        self._rounds[m] = rnd
        for c in clients:
            task = server.dispatch(c, index)
            rnd["pending"][task.id] = task


    def on_task_ends(self, server: Server, tasks: list["Task"]) -> None:
        done = []
        for task in tasks:
            m = int(self.tier_of[task.client])
            rnd = self._rounds[m]
            rnd["pending"].pop(task.id, None)
            if not task.lost:
                rnd["arrived"].append(task)
                server.hold(task)
            if not rnd["pending"] and m not in done:
                done.append(m)
        for m in done:  # in the order the tiers' rounds ended
            self._aggregate(m, self._rounds.pop(m))
            self._tier_round(m)

    def _aggregate(self, m: int, rnd: dict) -> None:
        server = self._server
        arrived = rnd["arrived"]
        if not arrived:
            return
        sizes = [server.num_samples[t.client] for t in arrived]
        total = float(sum(sizes))
        self.counts[m] += 1
        weights = fedat_tier_weights(self.counts, self.smoothed)
        params = server.params
        if params is not None:
            self.models[m] = weighted_average(server.results(arrived), sizes)
            params = weighted_average(self.models, weights)
        for task, n in zip(arrived, sizes):
            server.applied(task, n / total)
        server.install(params, round=rnd["index"], tier=m, tier_weight=float(weights[m]))
