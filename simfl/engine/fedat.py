"""FedAT (Chai et al. 2021, "FedAT: A High-Performance and Communication-Efficient Federated
Learning System with Asynchronous Tiers", SC'21): synchronous within tiers, asynchronous
across them.

Clients are split into ``tiers`` groups of equal size by expected task duration (fastest
first). Each tier runs FedAvg rounds of ``clients_per_round`` of its own clients (a SimPy
process per tier), starting each round from the current global model. When a tier's round
ends, its tier model becomes the weighted average of the arrived client models (weights
``n_k / Σ n``), the tier's update count ``T_m`` grows by one, and the global model becomes
``x = Σ_m (T_{M+1−m} / T) · w_m`` (:func:`~simfl.algorithms.aggregation.fedat_tier_weights`);
tier models start as the initial model. With ``weighting = "paper"`` (the formula as printed),
a tier's weight stays 0 until its mirror tier ``M+1−m`` has reported: the fastest tier counts
for nothing until the slowest tier has reported once, and the versions made while only the
fastest tier has reported equal the initial model (the slowest tier's model, untrained). ``"smoothed"`` starts
every count at 1 (:func:`~simfl.algorithms.aggregation.fedat_tier_weights`). Within a tier, clients are drawn uniformly among the
eligible ones (the ``selection`` policy does not apply across tiers' private rounds).
"""

from __future__ import annotations

import numpy as np

from simfl.algorithms.aggregation import fedat_tier_weights, weighted_average
from simfl.engine.events import WAKE, PriorityTimeout
from simfl.engine.simulation import Simulation
from simfl.engine.tasks import Status, Task

__all__ = ["FedATPolicy", "speed_tiers"]


def speed_tiers(expected_durations: np.ndarray, tiers: int) -> list[np.ndarray]:
    """Client ids split into ``tiers`` groups of (nearly) equal size, fastest group first."""
    order = np.argsort(expected_durations, kind="stable")
    return [np.sort(part) for part in np.array_split(order, tiers)]


class FedATPolicy:
    """Tiers of synchronous rounds, combined asynchronously with FedAT's weights."""

    def __init__(self, tiers: int, clients_per_round: int, weighting: str = "paper") -> None:
        self.smoothed = weighting == "smoothed"
        self.num_tiers = tiers
        self.k = clients_per_round
        self.tiers: list[np.ndarray] = []
        self.tier_of: np.ndarray | None = None
        self.counts = np.zeros(tiers, dtype=np.int64)
        self.models: list[np.ndarray | None] = []
        self._rounds: dict[int, dict] = {}  # tier -> the round in progress
        self._round_index = 0

    def start(self, sim: Simulation) -> None:
        self.tiers = speed_tiers(sim.expected_task_durations(), self.num_tiers)
        self.tier_of = np.empty(len(sim.busy), dtype=np.int64)
        for m, members in enumerate(self.tiers):
            self.tier_of[members] = m
        self.models = [sim.params for _ in self.tiers]
        for m in range(self.num_tiers):
            sim.env.process(self._tier(sim, m))

    def _pick(self, sim: Simulation, m: int, count: int) -> list[int]:
        mask = sim.eligible_mask()[self.tiers[m]]
        candidates = self.tiers[m][mask]
        if len(candidates) < count:
            return []
        picked = []
        for _ in range(count):  # uniform without replacement from the selection stream
            j = sim.selection_stream.index(len(candidates))
            picked.append(int(candidates[j]))
            candidates = np.delete(candidates, j)
        return picked

    def _tier(self, sim: Simulation, m: int):
        k = min(self.k, len(self.tiers[m]))
        while True:
            clients = self._pick(sim, m, k)
            while not clients:
                t = sim.next_availability()
                if t == float("inf"):
                    return
                yield PriorityTimeout(sim.env, t - sim.now, WAKE)
                clients = self._pick(sim, m, k)
            index = self._round_index
            self._round_index += 1
            rnd = {"index": index, "pending": {}, "arrived": [], "done": sim.env.event()}
            self._rounds[m] = rnd
            for c in clients:
                task = sim.dispatch(c, round_=index)
                rnd["pending"][task.id] = task
            yield rnd["done"]
            self._aggregate(sim, m, rnd)

    def on_task_ends(self, sim: Simulation, tasks: list[Task]) -> None:
        for task in tasks:
            m = int(self.tier_of[task.client])
            rnd = self._rounds[m]
            rnd["pending"].pop(task.id, None)
            if not task.lost:
                rnd["arrived"].append(task)
                sim.settle(task, Status.IN_FLIGHT, sim.version - task.base_version, float("nan"))
            if not rnd["pending"] and not rnd["done"].triggered:
                rnd["done"].succeed()

    def _aggregate(self, sim: Simulation, m: int, rnd: dict) -> None:
        del self._rounds[m]
        arrived = rnd["arrived"]
        if not arrived:
            return
        sizes = [sim.population.num_samples[t.client] for t in arrived]
        total = float(sum(sizes))
        self.counts[m] += 1
        weights = fedat_tier_weights(self.counts, self.smoothed)
        params = sim.params
        if params is not None:
            self.models[m] = weighted_average(sim.fetch_results(arrived), sizes)
            params = weighted_average(self.models, weights)
        for task, n in zip(arrived, sizes):
            sim.log.set_outcome(task.id, Status.APPLIED, n / total)
        sim.new_version(params, len(arrived), round=rnd["index"], tier=m, tier_weight=float(weights[m]))

    def finish(self, sim: Simulation) -> None:
        """Arrivals of unfinished tier rounds were waiting for aggregation (``buffered``)."""
        for rnd in self._rounds.values():
            for task in rnd["arrived"]:
                sim.log.set_outcome(task.id, Status.BUFFERED, float("nan"))
                sim.cancel_job(task)
