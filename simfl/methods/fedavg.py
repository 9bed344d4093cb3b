"""Synchronous FedAvg rounds (McMahan et al. 2017), with over-selection, deadlines and a
minimum number of reports.

A round:

1. waits until ``M = round(K (1 + over_selection))`` clients are eligible (the wait is recorded
   as ``availability_wait_s``), then selects M of them with the selection policy;
2. ends when every selected task has arrived or been lost, or at the K-th arrival when
   over-selecting, or at ``deadline_s`` — whichever is first. Tasks still running then are
   discarded (``discarded_deadline``), as are arrivals beyond the first K at the same instant;
3. aggregates what arrived, ``x ← x − server_lr · (x − Σ_k n_k x_k / Σ_k n_k)`` (or the server
   optimizer on that pseudo-gradient), and starts the next round at once.

A round that ends with fewer than ``min_reports`` arrivals is **abandoned**, as in
Bonawitz et al. 2019, "Towards Federated Learning at Scale: System Design", §2.2, where a round
completes only if enough devices report in time. Their *goal count* is the target number of
devices, here K (``clients_per_round``); ``min_reports`` is the "enough" (their selection phase
likewise needs a minimal share of the goal count). In an abandoned round the
model and its version are unchanged, its arrivals are recorded as ``discarded_deadline``
(weight 0) and are never trained, the manifest counts it in ``abandoned_rounds``, and the next
round is selected at once. With the default ``min_reports = 1`` only a round in which nothing
arrived is abandoned. A round's tasks keep its index in the ``round`` column, so the rounds of
``client_updates`` that have no row in ``aggregations`` are exactly the abandoned ones.

Arrivals exactly at the deadline count (the deadline fires after the arrivals at its time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from simfl.config.params import ParamError, World, param_error
from simfl.engine.server import OptimizerStep, Policy, Server, Timer, weighted_mean
from simfl.methods.common import ServerStepParams

if TYPE_CHECKING:
    from simfl.engine.tasks import Task

__all__ = ["FedAvgParams", "FedAvg"]


class FedAvgParams(ServerStepParams):
    """FedAvg (McMahan et al. 2017): synchronous rounds of K client updates."""

    clients_per_round: int = Field(10, ge=1, description="K: updates aggregated per round")
    over_selection: float = Field(
        0.0, ge=0, allow_inf_nan=False, description="select round(K*(1+o)) clients, aggregate the first K"
    )
    deadline_s: float | None = Field(None, gt=0, allow_inf_nan=False, description="round deadline (s)")
    min_reports: int = Field(
        1, ge=1,
        description="a round that ends (deadline, or every task arrived or lost) with fewer arrivals is abandoned: "
        "no new version, its arrivals discarded_deadline, a new round at once (Bonawitz et al. 2019, §2.2: "
        "a round without enough reports is abandoned)",
    )

    @model_validator(mode="after")
    def _reports(self):
        if self.min_reports > self.clients_per_round:
            raise param_error("min_reports", f"must be <= clients_per_round ({self.clients_per_round}), got {self.min_reports}")
        return self

    @property
    def selected_per_round(self) -> int:
        """Clients selected per round: round(K (1 + o)), halves rounded up."""
        return int(math.floor(self.clients_per_round * (1 + self.over_selection) + 0.5 + 1e-9))

    def in_flight(self, num_clients: int) -> int:
        return min(self.selected_per_round, num_clients)

    def check(self, world: World) -> None:
        m = self.selected_per_round
        if m > world.num_clients:
            key = "over_selection" if self.clients_per_round <= world.num_clients else "clients_per_round"
            raise ParamError(key, f"a round selects {m} clients (clients_per_round {self.clients_per_round}, "
                                  f"over_selection {self.over_selection}) but data.num_clients is {world.num_clients}")


@dataclass
class _Round:
    index: int
    start: float
    wait: float
    pending: dict[int, "Task"] = field(default_factory=dict)  # selected, neither arrived nor lost
    arrived: list["Task"] = field(default_factory=list)
    deadline: Timer | None = None


class FedAvg(Policy):
    """Synchronous rounds of ``clients_per_round`` updates."""

    Params = FedAvgParams

    def __init__(self, params: FedAvgParams) -> None:
        self.k = params.clients_per_round
        self.m = params.selected_per_round
        self.deadline_s = params.deadline_s
        self.min_reports = params.min_reports
        self.step = OptimizerStep(params.optimizer)
        self._round: _Round | None = None
        self._index = 0
        self._opened_at = 0.0
        self._server: Server | None = None

    def start(self, server: Server) -> None:
        self._server = server
        server.count("abandoned_rounds", 0)
        self._open()

    def _open(self) -> None:
        self._opened_at = self._server.now
        self._try_open()

    def _try_open(self) -> None:
        server = self._server
        if server.count_eligible() < self.m:
            t = server.next_eligible_time()
            if t != math.inf:  # else nobody will come online again: the run stalls
                server.call_at(t, self._try_open)
            return
        rnd = _Round(self._index, self._opened_at, server.now - self._opened_at)
        self._round = rnd
        for client in server.select_round(self.m):
            task = server.dispatch(client, self._index)
            rnd.pending[task.id] = task
        if self.deadline_s is not None:
            rnd.deadline = server.call_later(self.deadline_s, self._close, rnd)


    def on_task_ends(self, server: Server, tasks: list["Task"]) -> None:
        rnd = self._round
        for task in tasks:
            rnd.pending.pop(task.id, None)
            if task.lost:
                continue
            if len(rnd.arrived) < self.k:
                rnd.arrived.append(task)
                server.hold(task)  # applied (or discarded) when the round ends
            else:
                server.discard(task)
        if not rnd.pending or len(rnd.arrived) >= self.k:
            self._close(rnd)

    def _close(self, rnd: _Round) -> None:
        if rnd is not self._round:
            return  # the deadline of a round that already ended
        server = self._server
        if rnd.deadline is not None:
            rnd.deadline.cancel()
        for tid in sorted(rnd.pending):
            server.discard(rnd.pending[tid])
        self._round = None
        self._aggregate(rnd)
        self._index += 1
        self._open()

    def _aggregate(self, rnd: _Round) -> None:
        server = self._server
        if len(rnd.arrived) < self.min_reports:  # abandoned: nothing enters the model
            server.count("abandoned_rounds")
            for task in rnd.arrived:
                server.discard(task)
            return
        sizes = [server.num_samples[t.client] for t in rnd.arrived]
        total = float(sum(sizes))
        params = server.params
        if params is not None:
            average = weighted_mean(server, rnd.arrived, sizes)
            params = self.step(params, params - average)
        for task, n in zip(rnd.arrived, sizes):
            server.applied(task, n / total)
        server.install(params, round=rnd.index, round_start_s=rnd.start, availability_wait_s=rnd.wait)
