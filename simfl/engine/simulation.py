"""The simulation: a SimPy environment driving the client pool, the ledger and the server policy.

The clients (who is busy, eligible, how long a task takes) are the
:class:`~simfl.engine.pool.ClientPool`'s; what the run records is the
:class:`~simfl.engine.ledger.Ledger`'s. A task is fully timed when it is dispatched, so it is a
single SimPy event at its end. What happens at a task's end, and who is dispatched, is the server
policy's business; a policy sees the engine only through :class:`~simfl.engine.server.Server`
(the declared API, whose methods do the per-event work on the pool and the ledger). The order of
work at equal times is fixed in :mod:`simfl.engine.events`. The engine is given the settings it
needs (:class:`EngineSettings`), not the run's config.
"""

from __future__ import annotations

import gc
import math
import signal
from functools import partial
import threading
from collections import deque
from operator import attrgetter
from typing import Callable, Sequence

import numpy as np

from simfl.engine.checked_server import server_for
from simfl.engine.client import ServerLinks, TaskRun
from simfl.engine.contract import MANIFEST_KEYS, check_counter
from simfl.engine.events import EVAL, FLUSH, WAKE, Environment, PriorityTimeout
from simfl.engine.ledger import Ledger, eval_columns
from simfl.engine.observers import Observer, hooks
from simfl.engine.pool import ClientPool
from simfl.engine.protocols import Job, Trainer
from simfl.engine.server import Policy, Selector, Server, Timer
from simfl.engine.settings import EngineSettings, SimulationOutcome
from simfl.engine.simpy_fence import event_heap, next_time, queued_events, run_events
from simfl.engine.tasks import Status, Task
from simfl import interrupts
from simfl.rng import BlockUniforms, Purpose
from simfl.scenario.population import Population

__all__ = ["Simulation", "SimulationOutcome", "EngineSettings", "eval_columns"]

_task_id = attrgetter("id")
_LOST = int(Status.LOST_OFFLINE)
_NAN = math.nan
_PROGRESS_EVERY = 1024  # steps between progress refreshes


#: After a first Ctrl-C or SIGTERM, the run stops at the next event boundary; if it has not reached one
#: this many (wall-clock) seconds later — a plugin hook or a trainer that never returns — it is
#: interrupted where it stands, as a second signal would (a scheduler's SIGTERM-then-SIGKILL
#: then finds the run recorded ``interrupted``, not left ``running``).
INTERRUPT_GRACE_S = 5.0


def _interrupt_later(seconds: float) -> threading.Timer:
    """Send SIGINT to the main thread after ``seconds`` (it wakes a blocked call), unless cancelled."""
    main = threading.main_thread().ident

    timer = threading.Timer(seconds, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.daemon = True
    timer.start()
    return timer


class Simulation:
    """One run of the engine.

    Args:
        settings: what the engine needs of the run's config.
        population: per-client profiles and processes.
        policy: the server policy (FedAvg, FedAsync, FedBuff, a plugin, ...).
        model_bytes: bytes of a model download and of an update upload.
        trainer: the injected trainer, or None for a timing-only dry run.
        progress: called as ``progress(sim)`` now and then (display only).
        selector: the selection policy.
        algorithm: the running method's parameters, readable by selectors (``server.algorithm``).
        observers: read-only watchers told of evaluations, installed models, task ends and the
            run's end (:mod:`simfl.engine.observers`); none costs nothing.
    """

    def __init__(
        self,
        settings: EngineSettings,
        population: Population,
        policy: Policy,
        model_bytes: int,
        trainer: Trainer | None = None,
        progress: Callable[["Simulation"], None] | None = None,
        *,
        selector: Selector,
        algorithm: object = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.env = Environment()
        self.algorithm = algorithm
        self.policy = policy
        self.model_bytes = int(model_bytes)
        self.version = 0
        self.params: np.ndarray | None = trainer.initial_params() if trainer is not None else None
        self.pool = ClientPool(self.env, population, settings.samples_per_task, settings.client_cooldown_s,
                               self.model_bytes)
        self.ledger = Ledger()
        self.in_flight: dict[int, Task] = {}
        self.stop_reason: str | None = None
        #: where and why the model diverged (None: it did not)
        self.diverged: dict | None = None
        self.steps = 0  # events processed
        self.started = False
        #: the simulated time of the last checkpoint (its state: every event up to then done)
        self.checkpoint_time_s: float | None = None
        self.selection_stream = BlockUniforms(population.tree.generator(Purpose.SELECTION))
        self.selector: Selector = selector
        self._attach(settings, population, trainer, progress)
        self.links = ServerLinks(self.env, settings.egress_mbps, settings.ingress_mbps) if settings.contended else None
        self._queue: deque[Task] = deque()
        self._queued: set[int] = set()
        self._aggregating = False  # the aggregation server is busy
        self.collect_end = self._collect  # one bound method for every task-end event
        self._ended: list[Task] = []
        self._flush_pending = False
        self._wake_at: dict = {}  # wake-up callback -> the time of its pending wake-up
        self._plugin_streams: dict[str, np.random.Generator] = {}
        self.server = server_for(self)
        # selection hooks the selector declares (class attributes, not discovered)
        self._observe = self.selector.observe if self.selector.observes else None
        self._observe_result = self.selector.observe_result if self.selector.observes_results else None
        self._observe_missed = self.selector.observe_missed if self.selector.observes_missed else None
        self._set_observers(observers)

    @property
    def log(self):
        """The task log (the ledger's)."""
        return self.ledger.log

    @property
    def busy(self) -> np.ndarray:
        """True for clients with a task in flight (the pool's)."""
        return self.pool.busy

    @property
    def idle_means_eligible(self) -> bool:
        """True when every idle client may be dispatched (always online, no cool-down)."""
        return self.pool.idle_means_eligible

    @property
    def client_updates(self) -> int:
        """Updates received by the server (arrived, whatever their fate)."""
        return self.ledger.client_updates

    @property
    def counters(self) -> dict:
        """Counts a policy keeps for the manifest (e.g. FedAvg's ``abandoned_rounds``)."""
        return self.ledger.counters

    def _set_observers(self, observers: Sequence[Observer]) -> None:
        # observer hooks: a tuple of bound methods, or None (then a hot path pays one `is None` test)
        self._on_evaluated = hooks(observers, "evaluated")
        self.on_installed = hooks(observers, "installed")
        self._on_tasks_ended = hooks(observers, "tasks_ended")
        self._on_finished = hooks(observers, "finished")

    #: What a checkpoint leaves out: it is rebuilt from the config (the population, the trainer and
    #: its data, the settings, the display; the pool's constants: :class:`ClientPool`).
    _REBUILT = ("settings", "population", "trainer", "progress", "_heap", "_watchdog", "limit_versions",
                "_limit_updates", "_aggregation_s", "_on_evaluated", "on_installed", "_on_tasks_ended", "_on_finished")

    def _attach(self, settings: EngineSettings, population: Population, trainer: Trainer | None, progress) -> None:
        """Set what is derived from the config and the population (at creation and on restore)."""
        self.settings = settings
        self.population = population
        self.trainer = trainer
        self.progress = progress
        self._heap = event_heap(self.env)  # SimPy's queue of events, read only
        if getattr(self.pool, "population", None) is not population:
            self.pool.attach(population, settings.samples_per_task, self.model_bytes)
        self._aggregation_s = settings.aggregation_s_per_update
        self._limit_updates = settings.stop_client_updates
        self.limit_versions = settings.stop_server_updates

    def __getstate__(self) -> dict:
        """The dynamic state (clock, queue of events, tasks, models, policy, selector, records)."""
        state = self.__dict__.copy()
        for name in self._REBUILT:
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    @classmethod
    def restore(cls, state: "Simulation", settings: EngineSettings, population: Population, trainer: Trainer | None,
                progress=None, observers: Sequence[Observer] = ()) -> "Simulation":
        """A simulation unpickled from a checkpoint, re-attached to what was rebuilt from its config
        (observers are not part of a checkpoint: they are given again)."""
        state._attach(settings, population, trainer, progress)
        state._set_observers(observers)
        return state

    # ------------------------------------------------------------------ clock
    @property
    def now(self) -> float:
        """Current simulated time (seconds)."""
        return self.env.now

    # -------------------------------------------------------------- selection
    def client_losses(self, clients: np.ndarray) -> np.ndarray:
        """Local training loss of the current global model on each client's data (loss-based selection)."""
        return self.trainer.client_losses(self.params, clients, self.env.now)

    def wake_when_available(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when an idle client next comes online (at WAKE priority).

        A request while a wake-up of the same callback is pending at an earlier or equal time
        is merged into it (the callback re-checks when it runs).
        """
        t = self.pool.next_eligible_time()
        if t < self._wake_at.get(callback, math.inf):
            self._wake_at[callback] = t
            self.call_at(t, self._wake, t, callback)

    def _wake(self, t: float, callback: Callable[[], None]) -> None:
        if self._wake_at.get(callback) == t:
            del self._wake_at[callback]
        callback()

    # ------------------------------------------------------------------ timers
    def call_at(self, time: float, fn: Callable[..., object], *args) -> Timer:
        """Call ``fn(*args)`` at simulated ``time`` (WAKE priority: after the arrivals then)."""
        timer = Timer(fn, args)
        if time == math.inf:
            return timer  # never
        PriorityTimeout(self.env, max(time - self.env.now, 0.0), WAKE).callbacks.append(timer._fire)
        return timer

    def call_later(self, delay: float, fn: Callable[..., object], *args) -> Timer:
        """Call ``fn(*args)`` after ``delay`` simulated seconds."""
        if delay < 0:
            raise ValueError(f"call_later: negative delay {delay}")
        timer = Timer(fn, args)
        if delay != math.inf:
            PriorityTimeout(self.env, delay, WAKE).callbacks.append(timer._fire)
        return timer

    def request_stop(self, reason: str) -> None:
        """End the run after the current event, with ``reason`` as its stop reason."""
        if self.stop_reason is None:
            self.stop_reason = str(reason)

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the manifest counter ``name`` (refused: see :func:`~simfl.engine.contract.check_counter`)."""
        if type(name) is not str or not name or type(n) is not int or name in MANIFEST_KEYS:
            check_counter(name, n)
        self.ledger.count(name, n)

    def plugin_rng(self, name: str) -> np.random.Generator:
        """A generator of the seed tree private to ``name`` (the same one for every call)."""
        if name not in self._plugin_streams:
            import hashlib

            key = int.from_bytes(hashlib.sha256(str(name).encode()).digest()[:4], "little")
            self._plugin_streams[name] = self.population.tree.generator(Purpose.PLUGIN, key)
        return self._plugin_streams[name]

    # ---------------------------------------------------------------- dispatch
    def dispatch(self, client: int, round: int = -1) -> Task:  # noqa: A002 (the documented name)
        """Start ``client``'s next task from the current model (:meth:`Server.dispatch`, unchecked)."""
        return Server.dispatch(self.server, client, round)

    def submit(self, tid: int, client: int, k: int) -> Job:
        """Hand task ``tid`` (the client's ``k``-th) to the trainer; returns its job."""
        job = Job(tid, client, k, self.params, self.env.now)
        self.trainer.submit(job)
        return job

    def dispatch_contended(self, client: int, round_: int) -> Task:
        """Dispatch through :class:`~simfl.engine.client.TaskRun` (shared server links)."""
        nan, now, pool = math.nan, self.env.now, self.pool
        k, work = pool.draw_work(client)
        tid = self.log.add(client, k, round_, self.version, now, nan, nan, nan, pool.samples(client), work)
        job = None if self.trainer is None else self.submit(tid, client, k)
        task = Task(self.env, tid, client, k, self.version, now, nan, False, job, round_, self.params, scheduled=False)
        task.callbacks.append(self.collect_end)
        self.in_flight[tid] = task
        task.process = TaskRun(self, task, work, pool.online_until(client, now))
        return task

    def _collect(self, task: Task) -> None:
        if task.id not in self.in_flight:
            return  # aborted earlier (FedAvg round over); the event is obsolete
        if self._flush_pending:
            self._ended.append(task)
            return
        heap = self._heap  # (time, priority, id, event) entries: see simfl.engine.simpy_fence
        if not heap or heap[0][0] > self.env.now:
            # Nothing else is queued at this time, so a FLUSH event would run next anyway.
            self._end_tasks([task])
        else:
            self._ended.append(task)
            self._flush_pending = True
            PriorityTimeout(self.env, 0, FLUSH).callbacks.append(self._flush)

    def _flush(self, _event=None) -> None:
        """Process every task that ended now, in dispatch order (see :mod:`simfl.engine.events`)."""
        ended, self._ended, self._flush_pending = self._ended, [], False
        ended.sort(key=_task_id)
        self._end_tasks(ended)

    def _end_tasks(self, ended: list[Task]) -> None:
        """Free the clients of ``ended`` (tasks that ended now, in dispatch order), record the
        arrivals and losses, and hand them to the policy."""
        now = self.env.now
        ledger = self.ledger
        log = ledger.log
        in_flight, pool = self.in_flight, self.pool
        busy, ready_at, cooldown = pool.busy, pool.ready_at, pool.cooldown_s
        cols = log.cols  # the log's columns, written in place (one item assignment per value)
        end_col, arrival_col, aggregated_col = cols["end_time_s"], cols["arrival_time_s"], cols["aggregated_time_s"]
        queue = self._queue if self._aggregation_s else None
        aggregated = now if queue is None else _NAN  # without aggregation time, an update is aggregated on arrival
        observe = self._observe
        everything = ended
        arrived = 0
        for t in ended:
            tid = t.id
            del in_flight[tid]
            busy[t.client] = False
            if ready_at is not None:
                ready_at[t.client] = now + cooldown
            if observe is not None:
                observe(self.server, t)
            if t.lost:
                log.finish(tid, _LOST, now)
                self.cancel_job(t)
            else:
                arrived += 1
                end_col[tid] = arrival_col[tid] = now
                aggregated_col[tid] = aggregated
        ledger.client_updates += arrived
        if queue is not None:  # arrivals wait for the server; losses are known at once
            for t in ended:
                if not t.lost:
                    self._enqueue(t)
            ended = [t for t in ended if t.lost]
        if ended:
            self.policy.on_task_ends(self.server, ended)
        if self._on_tasks_ended is not None:
            for hook in self._on_tasks_ended:
                hook(self, everything)
        limit = self._limit_updates
        if limit is not None and ledger.client_updates >= limit and self.stop_reason is None:
            self.stop_reason = "client_updates"

    # ------------------------------------------------------------ bookkeeping
    def hold(self, task: Task, weight: float = _NAN) -> None:
        """:meth:`Server.hold`, unchecked."""
        Server.hold(self.server, task, weight)

    def applied(self, task: Task, weight: float, staleness: int | None = None) -> None:
        """:meth:`Server.applied`, unchecked."""
        Server.applied(self.server, task, weight, staleness)

    def drop(self, task: Task) -> None:
        """An arrived update is not used because it is too stale: ``dropped_stale``."""
        self.ledger.held.pop(task.id, None)
        self.log.settle(task.id, Status.DROPPED_STALE, self.version - task.base_version, 0.0)
        self.cancel_job(task)
        self._missed(task)

    def discard(self, task: Task) -> None:
        """``discarded_deadline``: stop a running task, or discard one that arrived.

        A task still running stops (its client is free, its transfer leaves the link); one
        that arrived but waits for aggregation leaves the queue (work already started by the
        server is not reclaimed); one handed to the policy gets weight 0. A task that was lost
        is left as it is.
        """
        if task.id in self._queued:
            self._queued.discard(task.id)
            self.log.settle(task.id, Status.DISCARDED_DEADLINE, self.version - task.base_version, 0.0)
        elif task.id in self.in_flight:
            del self.in_flight[task.id]
            self.pool.free(task.client, self.env.now)
            self.log.finish(task.id, Status.DISCARDED_DEADLINE, self.env.now)
            if task.process is not None:
                task.process.abort()
            if self._on_tasks_ended is not None:
                for hook in self._on_tasks_ended:
                    hook(self, [task])
        elif task.lost:
            return
        elif self.ledger.held.pop(task.id, None) is not None:
            self.log.set_outcome(task.id, Status.DISCARDED_DEADLINE, 0.0)
        else:
            self.log.settle(task.id, Status.DISCARDED_DEADLINE, self.version - task.base_version, 0.0)
        self.cancel_job(task)
        self._missed(task)

    def _missed(self, task: Task) -> None:
        """Tell the selector (if it asked) of a task that will never be applied."""
        if self._observe_missed is None:
            return
        c = self.log.cols
        tid = task.id
        planned = c["download_s"][tid] + c["compute_s"][tid] + c["upload_s"][tid]
        planned += c["download_wait_s"][tid] + c["upload_wait_s"][tid]
        if not math.isfinite(planned):  # timing not known ahead (contention): the time until it ended
            planned = c["end_time_s"][tid] - c["dispatch_time_s"][tid]
        self._observe_missed(self.server, task, planned)

    # ------------------------------------------------------- aggregation queue
    def _enqueue(self, task: Task) -> None:
        self._queue.append(task)
        self._queued.add(task.id)
        if not self._aggregating:
            self._aggregate_next()

    def _aggregate_next(self, _event=None) -> None:
        """One server, first come first served: each update takes ``aggregation_s_per_update``."""
        while self._queue:
            task = self._queue.popleft()
            if task.id in self._queued:  # else discarded while waiting
                self._aggregating = True
                self.env.timeout(self._aggregation_s).callbacks.append(partial(self._aggregated, task))
                return
        self._aggregating = False

    def _aggregated(self, task: Task, _event) -> None:
        if task.id in self._queued:  # else discarded while being aggregated
            self._queued.discard(task.id)
            self.log.cols["aggregated_time_s"][task.id] = self.env.now
            self.policy.on_task_ends(self.server, [task])
        self._aggregate_next()

    @property
    def outstanding(self) -> int:
        """Tasks dispatched and not yet applied or lost: running, or waiting for aggregation."""
        return len(self.in_flight) + len(self._queued)

    def fetch_results(self, tasks: list[Task]) -> list[np.ndarray]:
        """The trained parameters of ``tasks`` (computed together if the trainer batches),
        recording each update's training loss and telling the selection policy."""
        if self.trainer is None:
            raise RuntimeError("server.results() in a dry run: there are no trained models (server.params is None)")
        results = self.trainer.results([t.job for t in tasks])
        stats = getattr(self.trainer, "job_stats", None)  # optional member of the Trainer protocol
        if stats is not None:
            loss_col = self.log.cols["train_loss"]
            on_result = self._observe_result
            for t in tasks:
                mean, rms, samples = stats(t.job)
                loss_col[t.id] = mean
                if on_result is not None:
                    on_result(self.server, t, rms, samples)
        return results

    def cancel_job(self, task: Task) -> None:
        """The task's update will never be used: tell the trainer (no-op in a dry run)."""
        if task.job is not None:
            self.trainer.cancel(task.job)

    def install(self, params: np.ndarray | None, **extra) -> None:
        """:meth:`Server.install`, unchecked."""
        Server.install(self.server, params, **extra)

    # --------------------------------------------------------------- evaluation
    def _evaluate(self, t: float) -> None:
        ledger = self.ledger
        if ledger.last_eval == (t, self.version):
            return
        ledger.last_eval = (t, self.version)
        metrics = dict(self.trainer.evaluate(self.params, t)) if self.trainer is not None else {}
        split = self.settings.eval_split
        loss, accuracy = metrics.pop(f"{split}_loss", math.nan), metrics.pop(f"{split}_accuracy", math.nan)
        row = {
            "sim_time_s": t,
            "server_version": self.version,
            "client_updates": ledger.client_updates,
            f"{split}_loss": loss,
            f"{split}_accuracy": accuracy,
            **metrics,
        }
        ledger.evals.append(row)
        if self.trainer is not None:
            self._check_loss(loss, split)
        if self._on_evaluated is not None:
            for hook in self._on_evaluated:
                hook(self, row)
        target = self.settings.stop_target_accuracy
        if target is not None and accuracy >= target and self.stop_reason is None:
            self.stop_reason = "target_accuracy"

    def _check_loss(self, loss: float, split: str) -> None:
        """NaN or inf, or a loss beyond ``eval_divergence_factor`` × the first evaluation's: diverged."""
        if not math.isfinite(loss):
            self.diverge(f"the {split} loss is {loss}")
            return
        factor, first = self.settings.eval_divergence_factor, self.ledger.evals[0][f"{split}_loss"]
        if factor is not None and math.isfinite(first) and first > 0 and loss > factor * first:
            self.diverge(f"the {split} loss {loss:.4g} exceeds {factor:g} × the initial model's {first:.4g} "
                           "(eval.divergence_factor)")

    def diverge(self, what: str) -> None:
        """NaN or inf in the model: the run ends after the current event (stop reason ``diverged``);
        ``diverged_version`` is the first version found holding NaN or inf."""
        if self.diverged is None:
            self.diverged = {"diverged_at_s": float(self.env.now), "diverged_version": int(self.version),
                             "diverged_because": what}
        if self.stop_reason is None or self.stop_reason != "interrupted":
            self.stop_reason = "diverged"

    def _eval_tick(self, _event=None) -> None:
        """The k-th periodic evaluation, at the absolute time k·every (no drift from adding floats)."""
        every = self.settings.eval_every_s
        self._evaluate(self.env.now)
        self._eval_k += 1
        PriorityTimeout(self.env, max(self._eval_k * every - self.env.now, 0.0), EVAL).callbacks.append(self._eval_tick)

    def _only_bookkeeping_left(self) -> bool:
        """True when no queued event can make anything happen: only evaluations, cancelled timers
        and the end events of tasks already stopped (the world has stalled, though evaluations
        would go on forever)."""
        eval_tick, collect, in_flight = self._eval_tick, self.collect_end, self.in_flight
        for event in queued_events(self.env):
            for callback in event.callbacks or ():
                if callback == eval_tick or callback == self._eval_once:
                    continue
                if callback == collect and event.id not in in_flight:
                    continue  # a task stopped earlier: its end is obsolete
                owner = getattr(callback, "__self__", None)
                if isinstance(owner, Timer) and owner.cancelled:
                    continue
                return False
        return True

    def _eval_once(self, _event=None) -> None:
        self._evaluate(0.0)

    # --------------------------------------------------------------------- run
    def start(self) -> None:
        """Schedule the first evaluation and start the policy (once, at t = 0)."""
        if self.started:
            return
        self.started = True
        self._eval_k = 0
        every = self.settings.eval_every_s
        PriorityTimeout(self.env, 0, EVAL).callbacks.append(self._eval_tick if every is not None else self._eval_once)
        self.policy.start(self.server)

    def run(self, checkpoint: Callable[["Simulation"], None] | None = None,
            pause_at_s: float | None = None) -> SimulationOutcome:
        """Run until a stop criterion holds; Ctrl-C stops early with what was recorded.

        Args:
            checkpoint: called as ``checkpoint(sim)`` at each multiple of
                ``settings.checkpoint_every_s``, with the state after every event up to it
                (a restored simulation continues from there, see :mod:`simfl.running.checkpoint`).
            pause_at_s: stop once every event up to this simulated time is done, after a last
                ``checkpoint(sim)`` there (stop reason ``paused``): the run continues from that
                checkpoint exactly as if it had not stopped. Nothing is finalized (tasks in flight
                stay in flight, no final evaluation). Needs ``checkpoint``; ignored unless it lies
                after the current time.
        """
        self.start()
        end_time = None
        # Garbage collection: everything allocated before the run (libraries, data, the
        # population) is frozen out of collections, and young-generation collections are made
        # rarer; the loop allocates many short-lived events. Restored when the run ends.
        thresholds = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        previous_handler = self._catch_interrupt()
        try:
            end_time = self._loop(checkpoint, pause_at_s)
        except KeyboardInterrupt:
            self.stop_reason = "interrupted"
        finally:
            watchdog = getattr(self, "_watchdog", None)
            if watchdog is not None:
                watchdog.cancel()  # the run reached an event boundary in time
            for signum, handler in (previous_handler or {}).items():
                if handler is not None:  # None: a handler installed outside Python, left alone
                    signal.signal(signum, handler)
            gc.set_threshold(*thresholds)
            gc.unfreeze()
        if end_time is None:
            end_time = self.env.now
        if self.stop_reason != "paused":  # a paused run goes on from its checkpoint: nothing ends here
            self._finish(end_time)
        if self.progress is not None:
            self.progress(self)
        outcome = self._outcome(end_time)
        if self._on_finished is not None:
            for hook in self._on_finished:
                hook(self, outcome)
        return outcome

    def _loop(self, checkpoint: Callable[["Simulation"], None] | None, pause_at_s: float | None) -> float | None:
        """Process events until a stop reason is set; returns the run's end time when it is not the
        clock's (``sim_time_s``: the limit; ``paused``: the pause)."""
        settings = self.settings
        until = settings.stop_sim_time_s if settings.stop_sim_time_s is not None else math.inf
        every_ckpt = settings.checkpoint_every_s if checkpoint is not None else None
        pause = pause_at_s if checkpoint is not None and pause_at_s is not None and pause_at_s > self.env.now else None
        next_ckpt = _next_checkpoint(self.env.now, every_ckpt, pause)
        env, heap, progress, inf = self.env, self._heap, self.progress, math.inf
        limit, work = settings.max_events_per_instant, (self.in_flight, self._queued)
        state = [self.steps, -inf, 0]  # events so far, time of the last, events before it at that time
        try:
            while self.stop_reason is None:
                t = next_time(heap)
                if t > until:
                    self.stop_reason = "sim_time_s"
                    return until
                if t == inf or (not work[0] and not work[1] and self._only_bookkeeping_left()):
                    self.stop_reason = "stalled"  # nothing left to happen (e.g. nobody ever online)
                    return None
                while t > next_ckpt:  # every event up to the checkpoint time is done
                    self.steps = state[0]
                    self.checkpoint_time_s = next_ckpt
                    checkpoint(self)
                    if next_ckpt == pause:
                        self.stop_reason = "paused"
                        return pause
                    next_ckpt = _next_checkpoint(next_ckpt, every_ckpt, pause, t)
                budget = _PROGRESS_EVERY - state[0] % _PROGRESS_EVERY
                run_events(env, heap, self, min(until, next_ckpt), budget, limit, work, state)
                if state[2] > limit:
                    self.stop_reason = "no_progress"  # e.g. tasks of zero duration: time cannot advance
                    return None
                if progress is not None and not state[0] % _PROGRESS_EVERY:
                    progress(self)
            return None
        finally:
            self.steps = state[0]

    def _outcome(self, end_time: float) -> SimulationOutcome:
        """What the run recorded, as tables and counters."""
        counters = {**self.counters, "client_updates": self.client_updates, "server_updates": self.version,
                    "steps": self.steps}
        if self.diverged is not None:
            counters.update(self.diverged)
        evals = self.ledger.evals_frame(self.settings.eval_split)
        return SimulationOutcome(client_updates=self.log.frame(), aggregations=self.ledger.aggregation_frame(), evals=evals,
                                 stop_reason=self.stop_reason, sim_end_s=float(end_time), final_params=self.params,
                                 counters=counters)

    def _finish(self, end_time: float) -> None:
        """The end of the run: the policy finishes, unfinished jobs are cancelled, and the final
        model is evaluated (unless the run was interrupted or broke down)."""
        self.policy.finish(self.server)
        for task in self.in_flight.values():
            self.cancel_job(task)
        for task in self.ledger.held.values():  # buffered, never applied
            self.cancel_job(task)
        if self.stop_reason not in ("interrupted", "diverged", "no_progress"):
            self._evaluate(end_time)

    def _catch_interrupt(self):
        """Make Ctrl-C (SIGINT) or SIGTERM (``kill``, ``timeout``, cluster schedulers) stop the run
        between two events, never inside one (the tables stay consistent); a second signal
        interrupts at once. Returns ``{signal: handler}`` to restore (None off the main thread,
        where signals cannot be handled)."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum, frame):
            if self.stop_reason is not None:
                signal.default_int_handler(signum, frame)
            self.stop_reason = "interrupted"
            self._watchdog = _interrupt_later(INTERRUPT_GRACE_S)

        previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
        if interrupts.requested():  # sent before, and dropped by whatever caught it (simfl/interrupts.py)
            self.stop_reason = "interrupted"
        return previous

def _next_checkpoint(now: float, every: float | None, pause: float | None, after: float | None = None) -> float:
    """The next checkpoint time after ``now``: the next multiple of ``every`` beyond ``after``
    (default ``now``), or the pause if it comes first (``inf``: none)."""
    periodic = math.inf if every is None else (math.floor((now if after is None else after) / every) + 1) * every
    if pause is not None and now < pause:
        return min(periodic, pause)
    return periodic
