"""The server API: everything a server policy (and a selection policy) may read and do.

A *policy* decides when the server aggregates and whom it dispatches; the engine owns the
clock, the clients, the tasks, the trainer and the tables. A policy talks to the engine only
through the :class:`Server` it is handed, and implements the hooks of :class:`Policy`.
Built-in methods (:mod:`simfl.methods`) use nothing else, so what holds for them holds for any
plugin.

The API — what a policy may read and call, how each call is recorded in the tables — and the
rules a policy keeps so that the event order (:mod:`simfl.engine.events`) and the common
random numbers hold for it are written once, in ``docs/plugins.md`` ("What the server
offers", "Rules your component must keep"); the engine's side is ``docs/architecture.md``.

In a timing-only dry run (``train.enabled: false``) ``server.params`` is None: there is no
model, :meth:`Server.results` must not be called, and :meth:`Server.install` takes None.
"""

from __future__ import annotations

import abc
import math
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

import numpy as np

from simfl.algorithms.optim import ServerOptimizer, apply_update
from simfl.engine.tasks import Status, Task

if TYPE_CHECKING:
    from simfl.engine.services import Engine

__all__ = [
    "Server",
    "Policy",
    "Selector",
    "Timer",
    "OptimizerStep",
    "InFlight",
    "weighted_mean",
    "weighted_delta",
]

_BUFFERED = int(Status.BUFFERED)
_APPLIED = int(Status.APPLIED)


class Timer:
    """A pending call made by :meth:`Server.call_at`; :meth:`cancel` stops it from running."""

    __slots__ = ("fn", "args", "cancelled")

    def __init__(self, fn: Callable[..., Any], args: tuple) -> None:
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run the call (harmless if it already ran)."""
        self.cancelled = True

    def _fire(self, _event) -> None:
        if not self.cancelled:
            self.fn(*self.args)


class Server:
    """The engine as a policy sees it. Read the attributes, call the methods; nothing else.

    Attributes (read-only):
        version: version of the global model (0 = the initial model; +1 per :meth:`install`).
        params: the global model as a flat vector (never modify it in place); None in a dry run.
        algorithm: the running method's validated parameters (a frozen model; e.g. a selection
            policy may read ``getattr(server.algorithm, "concurrency", None)``).
        num_clients: size of the population.
        num_samples: training samples per client (int array; FedAvg's weights).
        samples_per_task: samples one task of each client processes (int array).
        busy: True for clients with a task in flight (bool array; never write it).
        idle_means_eligible: True when every idle client may be dispatched (always online,
            no cool-down): a selection policy may skip eligibility checks then.
        selection_stream: the seed tree's selection draws (``next()`` → a uniform in [0, 1),
            ``index(n)`` → an integer in [0, n), ``uniforms(n)`` → an array); every policy
            that selects the same way from it makes the same choices.
    """

    def __init__(self, sim: "Engine") -> None:
        self._sim = sim
        self._pool, self._ledger, self._in_flight, self._queued = sim.pool, sim.ledger, sim.in_flight, sim._queued
        #: version of the global model (0 = the initial model; +1 per :meth:`install`); kept by the engine
        self.version: int = sim.version
        #: the global model as a flat vector (never modify it in place); None in a dry run; kept by the engine
        self.params: np.ndarray | None = sim.params
        self.algorithm: Any = sim.algorithm
        self.num_clients: int = sim.population.size
        self.samples_per_task: np.ndarray = np.asarray(sim.settings.samples_per_task)
        self.num_samples: np.ndarray = sim.population.num_samples
        self.busy: np.ndarray = sim.pool.busy
        self.idle_means_eligible: bool = sim.pool.idle_means_eligible
        self.selection_stream = sim.selection_stream
        self._selector = sim.selector

    # ----------------------------------------------------------------- state
    @property
    def now(self) -> float:
        """Current simulated time (s)."""
        return self._sim.env.now

    @property
    def outstanding(self) -> int:
        """Tasks dispatched and not yet handed to the policy or lost (running, or queued for aggregation)."""
        return len(self._in_flight) + len(self._queued)

    def staleness(self, task: "Task") -> int:
        """Server versions since the task's start model: ``version − task.base_version``."""
        return self.version - task.base_version

    # ------------------------------------------------------------- selection
    def eligible_mask(self) -> np.ndarray:
        """Clients that may be dispatched now: idle, online, past their cool-down."""
        return self._pool.eligible_mask()

    def is_eligible(self, client: int) -> bool:
        """Online now and past its cool-down (idle or not)."""
        return self._pool.is_eligible(client)

    def count_eligible(self) -> int:
        """Number of eligible clients now."""
        return self._pool.count_eligible()

    def next_eligible_time(self) -> float:
        """Earliest time an idle, not eligible client becomes eligible (inf: never)."""
        return self._pool.next_eligible_time()

    def expected_task_durations(self) -> np.ndarray:
        """Per client: download + compute at base speed × E[jitter] + upload."""
        return self._pool.expected_task_durations()

    def client_losses(self, clients: np.ndarray) -> np.ndarray:
        """Loss of the current global model on each client's training data (needs training)."""
        return self._sim.client_losses(clients)

    def select_one(self) -> int | None:
        """One eligible client chosen by the configured selection policy (None: nobody)."""
        return self._selector.select(self)

    def select_round(self, m: int) -> list[int]:
        """``m`` distinct eligible clients by the selection policy (fewer if fewer are eligible)."""
        return self._selector.select_round(self, m)

    def reserve(self, client: int) -> None:
        """Count an idle client as busy while a round is being picked (see :meth:`release`)."""
        self._pool.reserve(client)

    def release(self, clients: Sequence[int]) -> None:
        """Undo :meth:`reserve` for clients that were not dispatched."""
        self._pool.release(clients)

    # ---------------------------------------------------------------- tasks
    def dispatch(self, client: int, round: int = -1) -> "Task":  # noqa: A002 (the documented name)
        """Start the client's next task from the current model; ``round`` is recorded."""
        sim = self._sim
        if sim.links is not None:
            return sim.dispatch_contended(client, round)
        env = sim.env
        now = env.now
        k, work, down, compute, up, end, lost, samples = self._pool.plan(client, now)
        version, params = self.version, self.params
        tid = self._ledger.log.add(client, k, round, version, now, down, compute, up, samples, work)
        job = None if sim.trainer is None else sim.submit(tid, client, k)
        task = Task(env, tid, client, k, version, now, end, lost, job, round, params, True, sim.collect_end)
        self._in_flight[tid] = task
        return task

    def discard(self, task: "Task") -> None:
        """``discarded_deadline``: stop a running task, or discard an arrived one (weight 0)."""
        self._sim.discard(task)

    def drop(self, task: "Task") -> None:
        """``dropped_stale``: an arrived update is not used (weight 0)."""
        self._sim.drop(task)

    def hold(self, task: "Task", weight: float = math.nan) -> None:
        """``buffered``: an arrived update waits (its staleness is recorded now)."""
        ledger = self._ledger
        ledger.log.settle(task.id, _BUFFERED, self.version - task.base_version, weight)
        ledger.held[task.id] = task

    def applied(self, task: "Task", weight: float, staleness: int | None = None) -> None:
        """The update enters the model installed next, with this weight (and staleness).

        Its staleness is the one recorded when it was held, else ``version − base_version`` now.
        """
        ledger, tid = self._ledger, task.id
        if ledger.held.pop(tid, None) is None and staleness is None:
            staleness = self.version - task.base_version
        cols = ledger.log.cols  # one item assignment per value (a hot path), as the engine's task ends
        cols["status"][tid] = _APPLIED
        cols["weight"][tid] = weight
        if staleness is not None:
            cols["staleness"][tid] = staleness
        ledger.applied_since += 1

    def install(self, params: np.ndarray | None, **extra: Any) -> None:
        """A new global model (version + 1), counting the updates applied since the last one;
        ``extra`` columns go to ``aggregations.parquet``."""
        sim = self._sim
        if (params is None) != (sim.trainer is None):
            raise RuntimeError("server.install(): pass the new model (None only in a dry run)")
        self.params = sim.params = params
        version = self.version = sim.version = self.version + 1
        now = sim.env.now
        count = self._ledger.installed(version, now, extra)
        if params is not None and not math.isfinite(float(np.sum(params, dtype=np.float64))):
            sim.diverge("the global model holds NaN or inf")
        if sim.on_installed is not None:
            for hook in sim.on_installed:
                hook(sim, version, now, count, extra or None)
        limit = sim.limit_versions
        if limit is not None and version >= limit and sim.stop_reason is None:
            sim.stop_reason = "server_updates"

    def results(self, tasks: Sequence["Task"]) -> list[np.ndarray]:
        """The trained parameters of arrived tasks (computed together when the trainer batches)."""
        return self._sim.fetch_results(tasks)

    # --------------------------------------------------------------- timers
    def call_at(self, time: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Call ``fn(*args)`` at simulated ``time`` (after the arrivals at that time)."""
        return self._sim.call_at(time, fn, *args)

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Call ``fn(*args)`` after ``delay`` simulated seconds."""
        return self._sim.call_later(delay, fn, *args)

    def wake_when_eligible(self, fn: Callable[[], Any]) -> None:
        """Call ``fn()`` when an idle client next becomes eligible (one pending call per ``fn``)."""
        self._sim.wake_when_available(fn)

    # ------------------------------------------------------------ the run
    def stop(self, reason: str) -> None:
        """End the run after the current event (the manifest's ``stop_reason``)."""
        self._sim.request_stop(reason)

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to a counter written to the manifest (``count(name, 0)`` creates it)."""
        self._sim.count(name, n)

    def rng(self, name: str) -> np.random.Generator:
        """A random stream of the seed tree private to ``name`` (same seed, same stream)."""
        return self._sim.plugin_rng(name)


class Policy:
    """The hooks a server policy implements. Subclass it; ``Params`` declares its keys.

    Required: :meth:`start`, and :meth:`on_arrivals` (or :meth:`on_task_ends` for full
    control of the order of arrivals and losses). Optional: :meth:`on_lost`, :meth:`finish`.
    A policy is built once per run as ``cls(params)``.
    """

    #: The method's parameters (a subclass of :class:`simfl.config.params.AlgorithmParams`).
    Params: ClassVar[type]

    @abc.abstractmethod
    def start(self, server: Server) -> None:
        """Called once at t = 0: dispatch the first tasks, start timers."""

    @abc.abstractmethod
    def on_arrivals(self, server: Server, updates: list["Task"]) -> None:
        """Updates that arrived now (in dispatch order). Decide each one's fate (apply, hold,
        drop, discard); dispatch replacements after handling them all."""

    def on_lost(self, server: Server, tasks: list["Task"]) -> None:
        """Tasks whose client went offline now (default: nothing). Called after :meth:`on_arrivals`."""

    def on_task_ends(self, server: Server, tasks: list["Task"]) -> None:
        """Every task that ended now, in dispatch order (``task.lost`` tells which were lost).

        Default: :meth:`on_arrivals` with the arrivals, then :meth:`on_lost` with the losses.
        Override it (instead of :meth:`on_arrivals`) to handle arrivals and losses in one pass.
        """
        arrived = [t for t in tasks if not t.lost]
        if arrived:
            self.on_arrivals(server, arrived)
        if len(arrived) < len(tasks):
            self.on_lost(server, [t for t in tasks if t.lost])

    on_task_ends.__simfl_default__ = True  # type: ignore[attr-defined]  (the registry's hook check)

    def finish(self, server: Server) -> None:
        """The run stops (default: nothing; held updates stay ``buffered``)."""


class Selector:
    """The hooks of a client-selection policy (``algorithm.selection``). Subclass it.

    Required: :meth:`select`. Optional: :meth:`select_round` (default: :meth:`select` repeated),
    :meth:`observe` (set ``observes = True``), :meth:`observe_result` (``observes_results = True``),
    :meth:`observe_missed` (``observes_missed = True``).
    """

    #: The policy's parameters (a subclass of :class:`simfl.config.params.SelectionParams`).
    Params: ClassVar[type]
    #: True to be told of every task that ended (:meth:`observe`).
    observes: ClassVar[bool] = False
    #: True to be told each trained update's loss statistics (:meth:`observe_result`).
    observes_results: ClassVar[bool] = False
    #: True to be told of every task the server discards or drops (:meth:`observe_missed`).
    observes_missed: ClassVar[bool] = False

    @abc.abstractmethod
    def select(self, server: Server) -> int | None:
        """One eligible client (idle, online, past its cool-down), or None if there is none."""

    def select_round(self, server: Server, m: int) -> list[int]:
        """``m`` distinct eligible clients; default: :meth:`select` ``m`` times, each pick
        reserved before the next."""
        chosen: list[int] = []
        for _ in range(m):
            c = self.select(server)
            if c is None:
                break
            chosen.append(c)
            server.reserve(c)
        server.release(chosen)
        return chosen

    def observe(self, server: Server, task: "Task") -> None:
        """A task ended (arrived or lost); called only when ``observes`` is True."""

    def observe_result(self, server: Server, task: "Task", loss_rms: float, samples: int) -> None:
        """A trained update: root mean square per-sample training loss, samples processed."""

    def observe_missed(self, server: Server, task: "Task", planned_s: float) -> None:
        """A task the server discarded (deadline, over-selection, abandoned round) or dropped as
        stale; ``planned_s`` is how long it was planned to take (download + compute + upload,
        with link waits; under contention, the time until it ended)."""


# ------------------------------------------------------------------ shared steps
class OptimizerStep:
    """``x ← x + opt(g)`` for a pseudo-gradient ``g``: a server optimizer and its state,
    created at the first step from the model it applies to.

    Args:
        optimizer: a :class:`~simfl.algorithms.optim.ServerOptimizer`, or a function of no
            arguments that builds one (e.g. ``params.server_optimizer.build``). With a function, a
            checkpoint keeps only the function and the state, and rebuilds the optimizer when it is
            loaded, so optimizers made of closures (lambdas) need not be picklable.
    """

    def __init__(self, optimizer: ServerOptimizer | Callable[[], ServerOptimizer]) -> None:
        if isinstance(optimizer, ServerOptimizer):
            self.factory = None
            self.optimizer = optimizer
        else:
            self.factory = optimizer
            self.optimizer = optimizer()
        self.state: Any = None

    def __call__(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The model after one step (a new array in the dtype of ``x``)."""
        if self.state is None:
            self.state = self.optimizer.init(x)
        update, self.state = self.optimizer.update(g, self.state)
        if getattr(update, "shape", None) != x.shape:
            from simfl.engine.contract import check_step

            check_step(self.optimizer, x, update)
        return apply_update(x, update)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if self.factory is not None:
            del state["optimizer"]  # rebuilt from the factory
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.factory is not None:
            self.optimizer = self.factory()


def weighted_mean(server: Server, tasks: Sequence["Task"], weights: Sequence[float]) -> np.ndarray:
    """``Σ w_k x_k / Σ w_k`` over the tasks' trained models (FedAvg's average)."""
    from simfl.algorithms.aggregation import weighted_average

    return weighted_average(server.results(tasks), weights)


def weighted_delta(server: Server, tasks: Sequence["Task"], weights: Sequence[float], divisor: float) -> np.ndarray:
    """``Σ w_k (x_start,k − x_k) / divisor``: weighted client deltas, each against the model its
    task started from (FedBuff, semi-synchronous steps)."""
    from simfl.algorithms.aggregation import accumulate, accumulate_init

    results = server.results(tasks)
    acc = accumulate_init(server.params)
    for t, w, x in zip(tasks, weights, results):
        acc = accumulate(acc, t.params - x, w)
    return acc.total / divisor


class InFlight:
    """Keep ``concurrency`` tasks in flight, replacing each as it ends (asynchronous methods).

    Each free slot is filled with :meth:`Server.select_one`; when nobody is eligible the refill
    waits for the next client to come online. With ``max_dispatch_per_s`` = r, consecutive
    dispatches are at least 1/r seconds apart (a token bucket holding one token).
    """

    def __init__(self, concurrency: int, max_dispatch_per_s: float | None = None) -> None:
        self.concurrency = concurrency
        self._spacing = 0.0 if max_dispatch_per_s is None else 1.0 / max_dispatch_per_s
        self._next_dispatch = -math.inf
        self._throttled = False
        self._server: Server | None = None
        self._select: Callable[[], int | None] | None = None

    def refill(self, server: Server) -> None:
        """Dispatch until ``concurrency`` tasks are outstanding (or nobody is eligible)."""
        select = self._select
        if select is None or server is not self._server:
            select = self._bind(server)
        dispatch, spacing = server.dispatch, self._spacing
        free = self.concurrency - len(server._in_flight) - len(server._queued)  # - server.outstanding
        while free > 0:
            free -= 1
            if spacing and server.now < self._next_dispatch:
                if not self._throttled:  # one pending wake-up is enough
                    self._throttled = True
                    server.call_at(self._next_dispatch, self._unthrottle)
                return
            client = select()
            if client is None:
                server.wake_when_eligible(self._wake)
                return
            dispatch(client)
            if spacing:
                self._next_dispatch = server.now + spacing

    def _bind(self, server: Server) -> Callable[[], int | None]:
        """Remember ``server`` and how to select one client of it: the engine's own server calls its
        selector directly (one call fewer per dispatch); a checked server checks the choice."""
        self._server = server
        own = type(server).select_one is Server.select_one
        self._select = partial(server._selector.select, server) if own else server.select_one
        return self._select

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_select": None}

    def _wake(self) -> None:
        self.refill(self._server)

    def _unthrottle(self) -> None:
        self._throttled = False
        self.refill(self._server)
