"""The server a plugin policy or selector is handed: the engine's calls, checked at the boundary
(:mod:`simfl.engine.contract`); built-in components get the plain :class:`Server`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from simfl.engine.contract import CheckedCalls, ContractError, client_problem, is_builtin
from simfl.engine.server import Selector, Server

if TYPE_CHECKING:
    from simfl.engine.services import Engine
    from simfl.engine.tasks import Task

__all__ = ["CheckedServer", "CheckedSelection", "server_for"]


def server_for(sim: "Engine") -> Server:
    """The server a simulation's policy is handed: a :class:`CheckedServer` when the policy or the
    selector is a plugin, else the engine's calls unchecked."""
    if is_builtin(sim.policy) and is_builtin(sim.selector):
        return Server(sim)
    return CheckedServer(sim, policy=not is_builtin(sim.policy), selector=not is_builtin(sim.selector))


class CheckedServer(Server):
    """The :class:`~simfl.engine.server.Server` of a run with a plugin policy (``policy``) or a plugin
    selector (``selector``): their calls and answers are checked, the built-in side's are not."""

    def __init__(self, sim: "Engine", policy: bool, selector: bool) -> None:
        super().__init__(sim)
        self._calls = CheckedCalls(sim)  # reserve/release are checked for either plugin
        self._policy = self._calls if policy else sim
        self._selection = CheckedSelection(sim, self) if selector else None

    def select_one(self) -> int | None:
        return super().select_one() if self._selection is None else self._selection.select_one()

    def select_round(self, m: int) -> list[int]:
        return super().select_round(m) if self._selection is None else self._selection.select_round(m)

    def reserve(self, client: int) -> None:
        self._calls.reserve(client)

    def release(self, clients: Sequence[int]) -> None:
        self._calls.release(clients)

    def dispatch(self, client: int, round: int = -1) -> "Task":  # noqa: A002 (the documented name)
        return self._policy.dispatch(client, round)

    def drop(self, task: "Task") -> None:
        self._policy.drop(task)

    def hold(self, task: "Task", weight: float = math.nan) -> None:
        self._policy.hold(task, weight)

    def applied(self, task: "Task", weight: float, staleness: int | None = None) -> None:
        self._policy.applied(task, weight, staleness)

    def install(self, params: np.ndarray | None, **extra: Any) -> None:
        self._policy.install(params, **extra)

    def results(self, tasks: Sequence["Task"]) -> list[np.ndarray]:
        return self._policy.results(tasks) if self._policy is self._calls else self._sim.fetch_results(tasks)


class CheckedSelection:
    """``select_one`` / ``select_round`` of a plugin selector, each answer checked."""

    def __init__(self, sim: "Engine", server: "Server") -> None:
        self.sim, self.server, self.n = sim, server, sim.population.size

    def _refuse(self, hook: str, value: Any, problem: str) -> None:
        raise ContractError(f"{hook}() returned {value!r}: {problem}; it must return an eligible client "
                            f"(or None{' / a list of distinct ones' if hook == 'select_round' else ''})",
                            component=self.sim.selector, hook=hook)

    def select_one(self) -> int | None:
        """One client from the selector's :meth:`~Selector.select`, or None."""
        sim = self.sim
        client = sim.selector.select(self.server)
        if type(client) is int and 0 <= client < self.n and not sim.pool.busy[client] and (
                sim.pool.idle_means_eligible or sim.pool.is_eligible(client)):  # the common case, quickly
            return client
        if client is not None:
            problem = client_problem(self.sim, client)
            if problem is not None:
                self._refuse("select", client, problem)
            client = int(client)
        return client

    def select_round(self, m: int) -> list[int]:
        """The selector's round: distinct eligible clients."""
        if type(self.sim.selector).select_round is Selector.select_round:
            return self._select_each(m)
        chosen = self.sim.selector.select_round(self.server, m)
        if not isinstance(chosen, (list, tuple, np.ndarray)):
            self._refuse("select_round", chosen, "not a list")
        clients = []
        for client in chosen:
            problem = client_problem(self.sim, client)
            if problem is not None:
                self._refuse("select_round", chosen, problem)
            clients.append(int(client))
        if len(set(clients)) < len(clients):
            self._refuse("select_round", chosen, "a client is chosen twice")
        return clients

    def _select_each(self, m: int) -> list[int]:
        """The default round (:meth:`Selector.select_round`), each :meth:`~Selector.select` checked, so
        that a pick that cannot run (e.g. one already chosen: reserved, hence busy) names ``select``."""
        sim, chosen = self.sim, []
        try:
            for _ in range(m):
                c = self.select_one()
                if c is None:
                    break
                chosen.append(c)
                sim.pool.reserve(c)
        finally:
            sim.pool.release(chosen)
        return chosen
