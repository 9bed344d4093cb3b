"""Parameters and steps several built-in methods share: a server step through a server
optimizer, and asynchronous dispatch with a staleness function."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from simfl.algorithms.optim import ServerOptimizer, sgd
from simfl.config.params import AlgorithmParams, ParamError, World, builtin_params, component_field, param_error
from simfl.engine.contract import checked_staleness
from simfl.engine.server import InFlight, Policy, Server

if TYPE_CHECKING:
    from simfl.engine.tasks import Task

__all__ = ["ServerStepParams", "AsyncParams", "AsyncMethod", "staleness_field", "default_staleness"]


def default_staleness():
    """FedBuff's ``s(τ) = 1/sqrt(1 + τ)``: polynomial with ``a = 0.5``."""
    return builtin_params("staleness", "polynomial", a=0.5)


def staleness_field():
    """A ``staleness`` field defaulting to :func:`default_staleness`."""
    return Field(
        default_factory=default_staleness,
        description="staleness function s(tau)",
    )


class ServerStepParams(AlgorithmParams):
    """A method whose server applies an aggregated pseudo-gradient: ``server_lr`` or an optimizer."""

    server_lr: float = Field(1.0, gt=0, allow_inf_nan=False, description="server learning rate")
    server_optimizer: component_field("server_optimizer") | None = Field(  # type: ignore[valid-type]
        None,
        description="server optimizer on the aggregated pseudo-gradient (replaces server_lr); null = sgd(server_lr)",
    )

    @model_validator(mode="after")
    def _one_rate(self):
        if self.server_optimizer is not None and self.server_lr != 1.0:
            raise param_error("server_lr", "set the rate in server_optimizer.lr instead")
        return self

    def optimizer(self) -> ServerOptimizer:
        """The server optimizer: ``server_optimizer`` or ``sgd(server_lr)``."""
        return sgd(self.server_lr) if self.server_optimizer is None else self.server_optimizer.build()


class AsyncParams(AlgorithmParams):
    """Keys of the asynchronous methods: tasks in flight, staleness, dispatch rate."""

    concurrency: int = Field(10, ge=1, description="tasks kept in flight")
    staleness: component_field("staleness") = staleness_field()  # type: ignore[valid-type]
    max_staleness: int | None = Field(None, ge=0, description="staler updates are dropped (dropped_stale)")
    max_dispatch_per_s: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="at most this many dispatches per second (null: no limit)"
    )

    def check(self, world: World) -> None:
        if self.concurrency > world.num_clients:
            raise ParamError("concurrency", f"must be <= data.num_clients ({world.num_clients}), got {self.concurrency}")

    def in_flight(self, num_clients: int) -> int:
        return min(self.concurrency, num_clients)


class AsyncMethod(Policy):
    """Keep ``concurrency`` tasks in flight; hand each arrival, with its staleness τ, to :meth:`apply`.

    At a time where tasks end, every arrival is handled first, in dispatch order (τ is the
    server version when it is handled minus the version it was trained from; τ >
    ``max_staleness`` is dropped), and only then are replacements dispatched, once
    (see :class:`~simfl.engine.server.InFlight`). ``params`` needs ``concurrency``; the other
    keys of :class:`AsyncParams` are optional (absent: no staleness function, no limits).
    """

    def __init__(self, params: AsyncParams | AlgorithmParams) -> None:
        self.params = params
        staleness = getattr(params, "staleness", None)
        self.staleness = None if staleness is None else checked_staleness(staleness)
        self.max_staleness = getattr(params, "max_staleness", None)
        self.flight = InFlight(params.concurrency, getattr(params, "max_dispatch_per_s", None))

    def start(self, server: Server) -> None:
        self.flight.refill(server)

    def apply(self, server: Server, task: "Task", tau: int) -> None:
        """Use one arrived update (subclasses)."""
        raise NotImplementedError


    def on_task_ends(self, server: Server, tasks: list["Task"]) -> None:
        limit, apply = self.max_staleness, self.apply
        for task in tasks:
            if task.lost:
                continue
            tau = server.version - task.base_version
            if limit is not None and tau > limit:
                server.drop(task)
            else:
                apply(server, task, tau)
        self.flight.refill(server)

