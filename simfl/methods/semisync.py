"""Semi-synchronous periodic aggregation: rounds of fixed length in which late updates are
not wasted.

Every ``period_s`` seconds the server aggregates whatever arrived during the period, then
dispatches new tasks (from the new model) so that ``concurrency`` tasks are in flight. A task
that does not finish within its period keeps running and joins the aggregation of the period
it arrives in, with its staleness τ (server version at that aggregation − the version it
started from). The step is ``x ← x − server_lr · Σ_k w_k Δ_k / Σ_k w_k`` with
``Δ_k = x_start,k − x_k`` and ``w_k = n_k · s(τ_k)`` (data size times the staleness function),
in the spirit of SAFA, the semi-asynchronous protocol of Wu et al. 2021 (IEEE Trans. Computers
70(5); arXiv:1910.01355), and of the semi-synchronous protocol of Stripelis et al. 2022 (ACM TIST
13(5)); with no late update it is FedAvg's step.
A period in which nothing arrived changes nothing (no new version).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import Field

from simfl.config.params import ParamError, World, component_field
from simfl.engine.contract import checked_staleness
from simfl.engine.server import OptimizerStep, Policy, Server, weighted_delta
from simfl.methods.common import ServerStepParams, staleness_field

if TYPE_CHECKING:
    from simfl.engine.tasks import Task

__all__ = ["SemiSyncParams", "SemiSync"]


class SemiSyncParams(ServerStepParams):
    """Semi-synchronous periodic aggregation: every period_s, the arrivals of the period."""

    period_s: float = Field(10.0, gt=0, allow_inf_nan=False, description="aggregation period (s)")
    concurrency: int = Field(10, ge=1, description="tasks in flight after each aggregation")
    staleness: component_field("staleness") = staleness_field()  # type: ignore[valid-type]

    def in_flight(self, num_clients: int) -> int:
        return min(self.concurrency, num_clients)

    def check(self, world: World) -> None:
        if self.concurrency > world.num_clients:
            raise ParamError("concurrency", f"must be <= data.num_clients ({world.num_clients}), got {self.concurrency}")


class SemiSync(Policy):
    """Fixed periods; every arrival is aggregated at the end of the period it arrives in."""

    Params = SemiSyncParams

    def __init__(self, params: SemiSyncParams) -> None:
        self.period_s = params.period_s
        self.concurrency = params.concurrency
        self.staleness = checked_staleness(params.staleness)
        self.step = OptimizerStep(params.optimizer)
        self._arrived: list["Task"] = []
        self._period = 0
        self._server: Server | None = None

    def start(self, server: Server) -> None:
        self._server = server
        self._begin_period()

    def _begin_period(self) -> None:
        server = self._server
        for _ in range(self.concurrency - server.outstanding):
            client = server.select_one()
            if client is None:
                break  # the next period tries again
            server.dispatch(client, self._period)
        self._period += 1
        if not server.outstanding and not self._arrived and server.count_eligible() == 0 \
                and server.next_eligible_time() == math.inf:
            return  # nobody will ever train again: no more periods (the run stalls)
        # a timer: arrivals exactly at the period's end belong to it
        server.call_at(self.period_s * self._period, self._end_period)

    def _end_period(self) -> None:
        self._aggregate(self._server)
        self._begin_period()

    def on_arrivals(self, server: Server, updates: list["Task"]) -> None:
        for task in updates:
            self._arrived.append(task)
            server.hold(task)

    def _aggregate(self, server: Server) -> None:
        arrived, self._arrived = self._arrived, []
        if not arrived:
            return
        taus = [server.version - t.base_version for t in arrived]
        weights = [float(server.num_samples[t.client]) * float(self.staleness(tau)) for t, tau in zip(arrived, taus)]
        total = sum(weights)
        params = server.params
        if params is not None:
            params = self.step(params, weighted_delta(server, arrived, weights, total))
        for t, tau, w in zip(arrived, taus, weights):
            server.applied(t, w / total, staleness=tau)
        server.install(params, round=self._period - 1)
