"""FedAsync (Xie, Koyejo, Gupta 2019): ``x ← (1 − α s(τ)) x + α s(τ) x_client``, one version per arrival.

With a server optimizer, the arrival's pseudo-gradient ``g = α s(τ)·(x − x_client)`` goes
through it instead (``sgd(1)`` is the plain rule).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from simfl.algorithms.aggregation import mix
from simfl.config.params import component_field
from simfl.engine.server import OptimizerStep, Server
from simfl.methods.common import AsyncMethod, AsyncParams

if TYPE_CHECKING:
    from simfl.engine.tasks import Task

__all__ = ["FedAsyncParams", "FedAsync"]


class FedAsyncParams(AsyncParams):
    """FedAsync (Xie et al. 2019): mix every arrival into the model with weight alpha * s(tau)."""

    alpha: float = Field(0.6, gt=0, le=1, description="mixing weight")
    server_optimizer: component_field("server_optimizer") | None = Field(  # type: ignore[valid-type]
        None,
        description="server optimizer on g = alpha*s(tau)*(x - x_client) instead of the plain mixing; null = mixing",
    )


class FedAsync(AsyncMethod):
    """One server version per arrival."""

    Params = FedAsyncParams

    def __init__(self, params: FedAsyncParams) -> None:
        super().__init__(params)
        self.alpha = params.alpha
        self.step = None if params.server_optimizer is None else OptimizerStep(params.server_optimizer.build)

    def apply(self, server: Server, task: "Task", tau: int) -> None:
        weight = self.alpha * self.staleness(tau)
        params = server.params
        if params is not None:
            x_client = server.results([task])[0]
            params = mix(params, x_client, weight) if self.step is None else self.step(params, weight * (params - x_client))
        server.applied(task, weight, tau)
        server.install(params)
