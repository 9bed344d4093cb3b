"""The server contract, enforced where a plugin's code meets the engine.

A plugin's mistake — dispatching a client that does not exist or cannot run, settling an
update twice, installing a model of another size, a selector choosing nobody valid, a
staleness factor outside (0, 1], a server optimizer step of the wrong shape — raises
:class:`ContractError` at once, so the run ends ``failed`` with a one-line error naming the
component and the hook (the runner's blame), never a silent wrong result, a
hang or a traceback from deep inside the engine.

Built-in methods and selection policies use the engine's unchecked calls: they hold these
properties by construction (and are tested for them), so the checks cost the hot path nothing
when no plugin runs. A run with a plugin policy or selector hands it a :class:`CheckedServer`
(chosen once, by :meth:`Server.of <simfl.engine.server.Server.of>`): a plugin policy's calls go
through :class:`CheckedCalls`, a plugin selector's answers through :class:`~simfl.engine.checked_server.CheckedSelection`; a plugin staleness function used by a built-in method is wrapped in
:class:`CheckedStaleness`, and so is one a plugin policy receives (:func:`checked_params`); every
:class:`~simfl.engine.server.OptimizerStep` checks its step.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from simfl.engine.tasks import Status

if TYPE_CHECKING:
    from simfl.engine.services import Engine
    from simfl.engine.tasks import Task

__all__ = ["ContractError", "CheckedCalls", "CheckedStaleness", "checked_staleness",
           "checked_params", "is_builtin", "check_step", "check_counter", "MANIFEST_KEYS"]

#: statuses after which an update's fate is settled (a second applied/drop is a mistake)
_SETTLED = frozenset({int(Status.APPLIED), int(Status.DROPPED_STALE), int(Status.DISCARDED_DEADLINE),
                      int(Status.LOST_OFFLINE)})


class ContractError(RuntimeError):
    """A plugin broke the server contract.

    Args:
        message: what was wrong and what is allowed (one line).
        component: the plugin object whose hook *returned* the bad value (None when the plugin
            *called* the server wrongly: its hook is then found on the traceback).
        hook: the name of that hook (``select``, ``__call__``, ``update``).
    """

    def __init__(self, message: str, component: Any = None, hook: str | None = None) -> None:
        super().__init__(message)
        self.component = component
        self.hook = hook


#: Keys simfl writes in a run's ``manifest.json``: a counter (``server.count``) may not take their name.
MANIFEST_KEYS = frozenset({
    "algorithm", "client_updates", "config_sha256", "dry_run", "fingerprints", "finished_at", "host_seconds", "kind",
    "model", "model_bytes", "name", "population", "search_path", "seed", "server_updates", "sim_end_s", "started_at",
    "status", "steps", "stop_reason", "versions", "error", "executor", "paused_at_s", "resumed_from_s",
    "diverged_at_s", "diverged_version", "diverged_because", "tracking_errors", "tracking_fingerprints",
})


def check_counter(name: Any, n: Any) -> None:
    """Refuse a ``server.count(name, n)`` whose counter could not be written to the manifest.

    Raises:
        ContractError: ``name`` is not a non-empty string or is one of :data:`MANIFEST_KEYS`, or
            ``n`` is not an integer.
    """
    if not isinstance(name, str) or not name or name in MANIFEST_KEYS:
        raise ContractError(f"server.count({name!r}, {n!r}): a counter's name must be a non-empty string other "
                            f"than the manifest's own keys ({', '.join(sorted(MANIFEST_KEYS))})")
    if not _is_int(n):
        raise ContractError(f"server.count({name!r}, {n!r}): the amount must be an integer, got {type(n).__name__}")


def is_builtin(obj: Any) -> bool:
    """True for simfl's own components (the checks skip what they prove by construction)."""
    return type(obj).__module__.startswith("simfl.")


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def client_problem(sim: "Engine", client: Any, allow_reserved: bool = False) -> str | None:
    """Why ``client`` cannot be dispatched now (None: it can)."""
    n = sim.population.size
    if not _is_int(client):
        return f"a client must be an integer in [0, {n}), got {client!r} ({type(client).__name__})"
    if not 0 <= client < n:
        return f"a client must be an integer in [0, {n}), got {client}"
    if sim.pool.busy[client] and not allow_reserved:
        return f"client {client} is busy (a task in flight)"
    if not sim.pool.is_eligible(client):
        return f"client {client} is not eligible now (offline or cooling down)"
    return None


class CheckedCalls:
    """The server calls that change state, checked, for a plugin policy."""

    def __init__(self, sim: "Engine") -> None:
        self.sim, self.n = sim, sim.population.size
        self.reserved: set[int] = set()  # clients reserved (busy) while a round is picked
        #: every result fetched since the last install was finite (a NaN model made from finite ones
        #: is the policy's arithmetic; one made from NaN results is the training's divergence)
        self.inputs_finite = True

    def dispatch(self, client: int, round: int = -1) -> "Task":  # noqa: A002 (the documented name)
        """:meth:`Simulation.dispatch`, refusing a client that does not exist or cannot run."""
        sim, reserved = self.sim, self.reserved
        if type(client) is int and 0 <= client < self.n and not sim.pool.busy[client] and (
                sim.pool.idle_means_eligible or sim.pool.is_eligible(client)):  # the common case, quickly
            return sim.dispatch(client, round)
        problem = client_problem(sim, client, allow_reserved=_is_int(client) and client in reserved)
        if problem is not None:
            raise ContractError(f"server.dispatch({client!r}): {problem}")
        reserved.discard(client)
        return sim.dispatch(int(client), round)

    def _settled(self, call: str, task: "Task") -> None:
        status = self.sim.log.status(task.id)
        if status in _SETTLED:
            raise ContractError(f"server.{call}(task {task.id}): its update is already {Status(status).label} "
                                f"(applied/drop once per update)")
        if task.id in self.sim.in_flight or task.id in self.sim._queued:
            raise ContractError(f"server.{call}(task {task.id}): it has not been handed to the policy yet")

    def applied(self, task: "Task", weight: float, staleness: int | None = None) -> None:
        """:meth:`Simulation.applied`, refusing an update already settled or a weight that is not a
        finite number >= 0."""
        self._settled("applied", task)
        if not ((type(weight) is float or _is_real(weight)) and 0 <= weight < math.inf):  # a float: the common case
            raise ContractError(f"server.applied(task {task.id}, weight {weight!r}): a weight must be a finite "
                                "number >= 0")
        self.sim.applied(task, weight, staleness)

    def hold(self, task: "Task", weight: float = math.nan) -> None:
        """:meth:`Simulation.hold`, refusing an update already settled or held, or a weight that is
        not NaN (none yet) or a finite number >= 0."""
        if task.id in self.sim.ledger.held:
            raise ContractError(f"server.hold(task {task.id}): it is already buffered (hold once, then applied "
                                "or drop)")
        self._settled("hold", task)
        if not (_is_real(weight) and (math.isnan(weight) or 0 <= weight < math.inf)):
            raise ContractError(f"server.hold(task {task.id}, weight {weight!r}): a weight must be a finite "
                                "number >= 0 (or NaN: not known yet)")
        self.sim.hold(task, weight)

    def results(self, tasks: Sequence["Task"]) -> list[np.ndarray]:
        """:meth:`Simulation.fetch_results`, noting whether every model fetched is finite."""
        models = self.sim.fetch_results(tasks)
        if self.inputs_finite:
            self.inputs_finite = all(math.isfinite(float(np.sum(x, dtype=np.float64))) for x in models)
        return models

    def drop(self, task: "Task") -> None:
        """:meth:`Simulation.drop`, refusing an update already settled."""
        self._settled("drop", task)
        self.sim.drop(task)

    def install(self, params: np.ndarray | None, **extra: Any) -> None:
        """:meth:`Simulation.install`, refusing a model of another size or dtype, or one the policy made
        NaN or inf from finite models (from diverged client models it is the run's divergence)."""
        current = self.sim.params
        if current is not None and params is not None:
            if not isinstance(params, np.ndarray):
                raise ContractError(f"server.install(): the model must be a numpy array, got {type(params).__name__}")
            if params.shape != current.shape or params.dtype != current.dtype:
                raise ContractError(f"server.install(): the model must be a flat {current.dtype} vector of "
                                    f"{current.size} values (like server.params), got shape {params.shape} "
                                    f"of {params.dtype}")
            if not math.isfinite(float(np.sum(params, dtype=np.float64))) and self.inputs_finite and \
                    math.isfinite(float(np.sum(current, dtype=np.float64))):
                raise ContractError("server.install(): the model holds NaN or inf, though server.params and every "
                                    "result fetched since the last install were finite")
        self.inputs_finite = True
        self.sim.install(params, **extra)

    def reserve(self, client: int) -> None:
        """:meth:`Simulation.reserve`, refusing a client that cannot be dispatched."""
        problem = client_problem(self.sim, client)
        if problem is not None:
            raise ContractError(f"server.reserve({client!r}): {problem}")
        self.reserved.add(int(client))
        self.sim.pool.reserve(int(client))

    def release(self, clients) -> None:
        """:meth:`Simulation.release` of reserved clients only."""
        clients = list(clients)
        for client in clients:
            if not _is_int(client) or client not in self.reserved:
                raise ContractError(f"server.release({clients!r}): client {client!r} is not reserved")
        self.reserved.difference_update(clients)
        self.sim.pool.release(clients)


class CheckedStaleness:
    """A plugin staleness function whose every factor is checked to lie in (0, 1]."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def __getattr__(self, name: str) -> Any:  # the function's own parameters (``s.a``) read through
        return getattr(self.fn, name)

    def __call__(self, tau):
        s = self.fn(tau)
        if isinstance(s, numbers.Real) and not isinstance(s, (bool, np.bool_)):
            ok = 0.0 < s <= 1.0
        elif isinstance(s, np.ndarray) and s.dtype.kind in "fiu" and s.shape == np.shape(tau):
            ok = bool(np.all((s > 0) & (s <= 1)))
        else:
            ok = False
        if not ok:
            raise ContractError(f"__call__({tau!r}) returned {s!r}: a staleness factor must be a number in (0, 1]",
                                component=self.fn, hook="__call__")
        return s


def checked_staleness(fn: Any) -> Any:
    """``fn`` itself if it is a built-in staleness function, else ``fn`` checked (:class:`CheckedStaleness`)."""
    return fn if is_builtin(fn) else CheckedStaleness(fn)


def check_step(optimizer: Any, x: np.ndarray, update: Any) -> None:
    """Refuse a server optimizer step that is not an array of the model's shape."""
    if np.shape(update) != x.shape or not isinstance(update, np.ndarray):
        raise ContractError(f"update() returned a step of shape {np.shape(update)} ({type(update).__name__}): "
                            f"it must be an array of the model's shape {x.shape}",
                            component=optimizer.update, hook="update")


def checked_params(params: Any) -> Any:
    """A plugin policy's parameters with each plugin staleness function among them checked
    (:class:`CheckedStaleness`): a copy for its constructor, the config itself unchanged."""
    from simfl.algorithms.staleness import StalenessFunction

    wrapped = {name: CheckedStaleness(value) for name, value in params
               if isinstance(value, StalenessFunction) and not is_builtin(value)}
    return params.model_copy(update=wrapped) if wrapped else params
