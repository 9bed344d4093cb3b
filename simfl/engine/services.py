"""What the simulation offers its parts: one :class:`Engine` protocol.

The server API, the contract checks, task runs under contention and observers are handed the
running :class:`~simfl.engine.simulation.Simulation`; they name it by this protocol, so none of
them imports the module that imports them (the engine's modules import one way: simulation →
its parts → this leaf).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

import numpy as np

from simfl.engine.ledger import Ledger
from simfl.engine.pool import ClientPool
from simfl.engine.protocols import Job, Trainer
from simfl.engine.settings import EngineSettings
from simfl.engine.simpy_fence import Environment
from simfl.engine.tasks import Task, TaskLog
from simfl.rng import BlockUniforms
from simfl.scenario.population import Population

__all__ = ["Engine"]


class Engine(Protocol):
    """The members of the simulation that its parts use (a policy uses :class:`Server` instead)."""

    env: Environment
    settings: EngineSettings
    population: Population
    pool: ClientPool
    ledger: Ledger
    trainer: Trainer | None
    #: the running method and selection rule (see :mod:`simfl.engine.server`)
    algorithm: Any
    policy: Any
    selector: Any
    #: the server's shared links under contention (:class:`~simfl.engine.client.ServerLinks`), else None
    links: Any
    model_bytes: int
    version: int
    params: np.ndarray | None
    stop_reason: str | None
    limit_versions: int | None
    selection_stream: BlockUniforms
    #: tasks dispatched and not yet ended, by task id; arrived tasks waiting for the server
    in_flight: dict[int, Task]
    _queued: Any
    #: hooks called after each installed model (None: none)
    on_installed: list[Callable] | None
    #: the callback of every task-end event
    collect_end: Callable[[Task], None]

    @property
    def log(self) -> TaskLog:
        """The task log (the ledger's)."""

    def submit(self, tid: int, client: int, k: int) -> Job: ...
    def dispatch(self, client: int, round: int = -1) -> Task: ...  # noqa: A002
    def dispatch_contended(self, client: int, round_: int) -> Task: ...
    def hold(self, task: Task, weight: float = ...) -> None: ...
    def applied(self, task: Task, weight: float, staleness: int | None = None) -> None: ...
    def drop(self, task: Task) -> None: ...
    def discard(self, task: Task) -> None: ...
    def install(self, params: np.ndarray | None, **extra: Any) -> None: ...
    def fetch_results(self, tasks: list[Task]) -> list[np.ndarray]: ...
    def client_losses(self, clients: np.ndarray) -> np.ndarray: ...
    def diverge(self, what: str) -> None: ...
    def wake_when_available(self, callback: Callable[[], None]) -> None: ...
    def call_at(self, time: float, fn: Callable[..., object], *args: Any) -> Any: ...
    def call_later(self, delay: float, fn: Callable[..., object], *args: Any) -> Any: ...
    def request_stop(self, reason: str) -> None: ...
    def count(self, name: str, n: int = 1) -> None: ...
    def plugin_rng(self, name: str) -> np.random.Generator: ...
