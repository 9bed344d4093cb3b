"""Synchronous FedAvg rounds (McMahan et al. 2017), with over-selection and deadlines.

A round (a SimPy process):

1. waits until ``M = round(K (1 + over_selection))`` clients are online (the wait is recorded
   as ``availability_wait_s``), then selects M uniformly without replacement among them;
2. ends when every selected task has arrived or been lost, or at the K-th arrival when
   over-selecting, or at ``deadline_s`` — whichever is first. Tasks still running then are
   aborted (``discarded_deadline``), as are arrivals beyond the first K at the same instant;
3. aggregates what arrived, ``x ← x − server_lr · (x − Σ_k n_k x_k / Σ_k n_k)``, and starts
   the next round at once.

A round that ends with fewer than ``min_reports`` arrivals (Bonawitz et al. 2019, "Towards
Federated Learning at Scale: System Design", the round's *goal count*) is **abandoned**: the
model and its version are unchanged, its arrivals are recorded as ``discarded_deadline``
(weight 0) and are never trained, the manifest counts it in ``abandoned_rounds``, and the next
round is selected at once. With the default ``min_reports = 1`` only a round in which nothing
arrived is abandoned. A round's tasks keep its index in the ``round`` column, so the rounds of
``client_updates`` that have no row in ``aggregations`` are exactly the abandoned ones.

Arrivals exactly at the deadline count (the deadline fires after the arrivals at its time).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from simfl.algorithms.aggregation import weighted_average
from simfl.algorithms.optim import ServerOptimizer, apply_update
from simfl.engine.events import WAKE, PriorityTimeout
from simfl.engine.simulation import Simulation
from simfl.engine.tasks import Status, Task

__all__ = ["FedAvgPolicy"]


@dataclass
class _Round:
    index: int
    start: float
    wait: float
    pending: dict[int, Task]  # selected tasks neither applied nor lost yet (running or queued)
    done: simpy.Event
    arrived: list[Task] = field(default_factory=list)


class FedAvgPolicy:
    """Synchronous rounds of ``clients_per_round`` updates."""

    def __init__(
        self,
        clients_per_round: int,
        selected_per_round: int,
        optimizer: ServerOptimizer,
        deadline_s: float | None = None,
        min_reports: int = 1,
    ) -> None:
        if not 1 <= min_reports <= clients_per_round:
            raise ValueError(f"min_reports must be in [1, {clients_per_round}], got {min_reports}")
        self.k = clients_per_round
        self.m = selected_per_round
        self.optimizer = optimizer
        self.deadline_s = deadline_s
        self.min_reports = min_reports
        self._round: _Round | None = None
        self._opt_state = None

    def start(self, sim: Simulation) -> None:
        sim.counters["abandoned_rounds"] = 0
        sim.env.process(self._rounds(sim))

    def _rounds(self, sim: Simulation):
        index = 0
        while True:
            start = sim.now
            while sim.count_available() < self.m:
                t = sim.next_availability()
                if t == float("inf"):
                    return  # nobody else will come online: the run stalls
                yield PriorityTimeout(sim.env, t - sim.now, WAKE)
            rnd = _Round(index, start, sim.now - start, {}, sim.env.event())
            self._round = rnd
            for client in sim.select_round(self.m):
                task = sim.dispatch(client, round_=index)
                rnd.pending[task.id] = task
            waits = [rnd.done]
            if self.deadline_s is not None:
                waits.append(PriorityTimeout(sim.env, self.deadline_s, WAKE))
            yield sim.env.any_of(waits)
            for tid in sorted(rnd.pending):
                sim.abort(rnd.pending[tid], Status.DISCARDED_DEADLINE)
            self._aggregate(sim, rnd)
            index += 1

    def on_task_ends(self, sim: Simulation, tasks: list[Task]) -> None:
        rnd = self._round
        for task in tasks:
            rnd.pending.pop(task.id, None)
            if task.lost:
                continue
            if len(rnd.arrived) < self.k:
                rnd.arrived.append(task)
                sim.settle(task, Status.IN_FLIGHT, 0, float("nan"))  # settled at aggregation
            else:
                sim.settle(task, Status.DISCARDED_DEADLINE, 0, 0.0)
        if (not rnd.pending or len(rnd.arrived) >= self.k) and not rnd.done.triggered:
            rnd.done.succeed()

    def _aggregate(self, sim: Simulation, rnd: _Round) -> None:
        self._round = None
        if len(rnd.arrived) < self.min_reports:
            self._abandon(sim, rnd)
            return
        sizes = [sim.population.num_samples[t.client] for t in rnd.arrived]
        total = float(sum(sizes))
        params = sim.params
        if params is not None:
            if self._opt_state is None:
                self._opt_state = self.optimizer.init(params)
            average = weighted_average(sim.fetch_results(rnd.arrived), sizes)
            update, self._opt_state = self.optimizer.update(params - average, self._opt_state)
            params = apply_update(params, update)
        for task, n in zip(rnd.arrived, sizes):
            sim.log.set_outcome(task.id, Status.APPLIED, n / total)
        sim.new_version(
            params, len(rnd.arrived), round=rnd.index, round_start_s=rnd.start, availability_wait_s=rnd.wait
        )

    def _abandon(self, sim: Simulation, rnd: _Round) -> None:
        """Too few reports: nothing enters the model, the arrivals are discarded."""
        sim.counters["abandoned_rounds"] += 1
        for task in rnd.arrived:
            sim.log.set_outcome(task.id, Status.DISCARDED_DEADLINE, 0.0)
            sim.cancel_job(task)

    def finish(self, sim: Simulation) -> None:
        """Arrivals of the unfinished round were waiting for aggregation (status ``buffered``)."""
        rnd = self._round
        if rnd is None:
            return
        for task in rnd.arrived:
            sim.log.set_outcome(task.id, Status.BUFFERED, float("nan"))
            sim.cancel_job(task)
