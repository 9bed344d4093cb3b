"""Selectors: the engine side of client selection (see :mod:`simfl.algorithms.selection`).

A selector picks among *eligible* clients — idle, online, past their cool-down — using the
simulation's selection stream, so a policy's choices are a pure function of the seed and of
what happened in the run. ``select`` picks one client (asynchronous replacement dispatch);
``select_round`` picks a FedAvg round's clients (by default: ``select`` repeated, each pick
dispatched before the next). ``observe`` hears of every task that ended.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from simfl.algorithms.selection import (
    oort_cutoff,
    oort_pacer,
    oort_preferred_duration,
    oort_scores,
    oort_system_factor,
    weighted_sample_without_replacement,
)
from simfl.engine.tasks import Status
from simfl.errors import ConfigError
from simfl.scenario.population import samples_per_task

if TYPE_CHECKING:
    from simfl.engine.simulation import Simulation
    from simfl.engine.tasks import Task

__all__ = ["Selector", "build_selector"]

#: Uniform draws tried before selection lists every eligible client.
_REJECTION_TRIES = 32


class Selector(Protocol):
    """Extension point: who is dispatched next."""

    def select(self, sim: "Simulation") -> int | None:
        """One eligible client, or None if there is none."""

    def select_round(self, sim: "Simulation", m: int) -> list[int]:
        """``m`` distinct eligible clients for a round (fewer only if fewer are eligible)."""

    def observe(self, sim: "Simulation", task: "Task") -> None:
        """A task ended (arrived or lost)."""


class _OneAtATime:
    """Base of selectors that pick clients one by one and learn nothing from task ends."""

    observes = False  # observe() does nothing: the engine may skip it

    def select(self, sim: "Simulation") -> int | None:
        raise NotImplementedError

    def select_round(self, sim: "Simulation", m: int) -> list[int]:
        return _sequential(self, sim, m)

    def observe(self, sim: "Simulation", task: "Task") -> None:
        pass


class UniformSelector(_OneAtATime):
    """Uniform among eligible clients: rejection sampling from the selection stream, then, after
    a few misses, a uniform draw from the full list — uniform over the eligible set either way."""

    def select(self, sim: "Simulation") -> int | None:
        busy, n, draw = sim.busy, len(sim.busy), sim.selection_stream.next
        if sim.idle_means_eligible:  # always online, no cool-down: the common fast path
            for _ in range(_REJECTION_TRIES):
                c = int(draw() * n)
                if not busy[c]:
                    return c
        else:
            eligible = sim.is_eligible
            for _ in range(_REJECTION_TRIES):
                c = int(draw() * n)
                if not busy[c] and eligible(c):
                    return c
        candidates = np.flatnonzero(sim.eligible_mask())
        if candidates.size == 0:
            return None
        return int(candidates[sim.selection_stream.index(candidates.size)])


def _sequential(selector, sim: "Simulation", m: int) -> list[int]:
    """``m`` picks, each made unavailable to the next (the caller dispatches them)."""
    chosen: list[int] = []
    for _ in range(m):
        c = selector.select(sim)
        if c is None:
            break
        chosen.append(c)
        sim.busy[c] = True  # reserved; the dispatch that follows keeps it busy
    sim.busy[chosen] = False
    return chosen


class FastestSelector(_OneAtATime):
    """Shortest expected task first; uniform with probability ``epsilon``."""

    def __init__(self, epsilon: float) -> None:
        self.epsilon = epsilon
        self._order: np.ndarray | None = None
        self._uniform = UniformSelector()

    def select(self, sim: "Simulation") -> int | None:
        if self.epsilon > 0 and sim.selection_stream.next() < self.epsilon:
            return self._uniform.select(sim)
        if self._order is None:  # expected durations do not change during a run
            self._order = np.argsort(sim.expected_task_durations(), kind="stable")
        busy, eligible = sim.busy, sim.is_eligible
        for c in self._order.tolist():
            if not busy[c] and eligible(c):
                return c
        return None


class LeastRecentSelector(_OneAtATime):
    """Least recently dispatched first; never-dispatched clients first, in a random order."""

    def __init__(self) -> None:
        self._queue: OrderedDict[int, None] | None = None

    def select(self, sim: "Simulation") -> int | None:
        if self._queue is None:
            order = np.argsort(sim.selection_stream.uniforms(len(sim.busy)), kind="stable")
            self._queue = OrderedDict.fromkeys(order.tolist())
        busy, eligible = sim.busy, sim.is_eligible
        for c in self._queue:
            if not busy[c] and eligible(c):
                self._queue.move_to_end(c)  # dispatched now: the most recent
                return c
        return None


class PowerOfChoiceSelector(_OneAtATime):
    """Cho et al. 2022: ``d`` candidates ∝ data size among eligible, highest local loss first."""

    def __init__(self, d: int) -> None:
        self.d = d
        self.last_candidates: np.ndarray | None = None  # for inspection
        self.last_losses: np.ndarray | None = None

    def _pick(self, sim: "Simulation", m: int) -> list[int]:
        eligible = np.flatnonzero(sim.eligible_mask())
        if eligible.size == 0:
            return []
        u = sim.selection_stream.uniforms(eligible.size)
        weights = sim.population.num_samples[eligible].astype(float)
        candidates = eligible[weighted_sample_without_replacement(weights, max(self.d, m), u)]
        losses = np.asarray(sim.client_losses(candidates))
        self.last_candidates, self.last_losses = candidates, losses
        return candidates[np.argsort(-losses, kind="stable")[:m]].tolist()

    def select(self, sim: "Simulation") -> int | None:
        picked = self._pick(sim, 1)
        return picked[0] if picked else None

    def select_round(self, sim: "Simulation", m: int) -> list[int]:
        return self._pick(sim, m)


class OortSelector(_OneAtATime):
    """Oort (Lai et al. 2021, OSDI) as in its reference code, SymbioticLab/Oort
    (``oort/oort.py``: ``_training_selector``; defaults from ``training/argParser.py``).

    State per client (the reference's "arm"): statistical utility ``r`` (until its first result,
    the prior ``min(num_samples, samples per task)``), duration ``t`` (until its first result,
    the expected task duration), ``L`` (round of its last registered result) and a result
    count; a client is *explored* once it has a registered result.

    Registration. A trained update registers ``r = min(samples, num_samples)·loss_rms`` and
    its task's duration. A task cut by FedAvg over-selection or a deadline, or dropped as too
    stale, registers like the reference's over-committed stragglers: the mean ``r`` of the
    trained updates registered in the current round (else of the last round that had any; else
    nothing) and the task's planned duration (under server-link contention, where it is not
    known ahead, the time until the task ended). A task lost because its client went offline
    registers nothing (the reference never dispatches offline clients): a client whose first
    task is lost stays unexplored, hence explorable, and an explored one keeps its record, so
    its temporal bonus keeps growing. No failure leaves a client outside both pools (the old
    rule — "selected" at dispatch, "explored" only once trained — did, for good).

    A selection round (the reference's ``getTopK``; R counts rounds from 1) begins with:
    the pacer (:func:`~simfl.algorithms.selection.oort_pacer`) on the per-round mean utility of
    exploited clients, ``T`` = the ``round_threshold`` percentile of every client's duration
    (unless ``preferred_duration_s`` fixes it), ``ε ← max(ε·epsilon_decay, epsilon_min)``,
    and the blacklist. Then, among eligible, non-blacklisted clients:

    * exploitation, ``k = ⌊m(1 − ε)⌋`` slots (at most the explored count): utilities
      :func:`~simfl.algorithms.selection.oort_scores` of the explored ones; candidates are those
      with utility ≥ ``cut_off`` × the utility at 0-based rank k; k drawn ∝ utility without
      replacement;
    * exploration, the other slots (at most the unexplored count): weights = prior ×
      ``(T/t)^α`` for t > T; the ``⌊sample_window × slots⌋`` heaviest are candidates, drawn ∝
      weight. When no client at all is unexplored, ε and its floor become 0 for good;
    * slots still empty are filled uniformly among the eligible clients left.

    What a round is. ``select_round(m)`` (FedAvg) is one round of m slots. For asynchronous
    dispatch (``select``, one client per free slot) a round is ``algorithm.concurrency``
    consecutive picks — one turnover of the in-flight pool, the clients a synchronous round of
    that size would pick; each pick is a round of one slot that exploits with probability 1 − ε
    (one uniform from the selection stream), with the cut-off rank of a
    ``concurrency``-slot round. Every draw comes from the selection stream.

    Reference defaults (used here): exploration_factor 0.9, exploration_decay 0.95,
    exploration_min 0.2, round_threshold 10 (%), pacer_step 20, pacer_delta 5, round_penalty
    2, cut_off_util 0.7, clip_bound 0.98, sample_window 5, blacklist_rounds −1 (off),
    blacklist_max_len 0.3, temporal weight 0.1 (hard-coded there).

    Differences from the reference:

    1. The statistical utility is min-max normalised over the explored eligible clients; the
       reference's list also holds unexplored clients' data-size priors (another scale).
    2. Asynchronous rounds as above (the reference's ⌊m(1 − ε)⌋ never exploits at m = 1).
    3. Round 1 is an ordinary Oort round (all exploration); the reference's harness draws the
       first round uniformly.
    4. A cut task gets the plain mean utility of the round's trained updates (as in FedScale;
       the Oort harness weights by data share), falling back to the last round that had any.
    5. ``loss_rms`` is the root mean square over every per-sample loss of the task; the
       reference uses a moving average of batch mean squared losses over the first epoch.
    6. ``preferred_duration_s`` may fix T (the reference always uses the pacer).
    7. Weighted draws without replacement use Efraimidis–Spirakis keys (same law as numpy's
       successive draws in the reference); all draws come from the selection stream.
    8. Edge cases the reference crashes on: the cut-off rank is clamped to the last scored
       client, a negative statistical term counts as 0, zero total weight draws uniformly,
       the blacklist cap is ⌊blacklist_max_len·n⌋.
    9. No utility noise (reference default 0); ``exploration_alpha`` is not used (logging only
       in the reference).
    The pacer's per-round mean counts results registered during the round from clients whose
    latest pick was an exploitation (in FedAvg exactly the reference's last-round exploited
    clients with a result). FedScale's copy of Oort has other defaults (see
    :class:`~simfl.algorithms.selection.OortSelection`).
    """

    observes = False  # everything comes from observe_result and the task log

    def __init__(self, spec) -> None:
        self.spec = spec
        self.round = 0  # R: selection rounds begun
        self.epsilon = spec.epsilon  # ε of the current round
        self.epsilon_min = spec.epsilon_min
        self.round_threshold = spec.round_threshold
        fixed = spec.preferred_duration_s
        self.preferred_duration_s = math.inf if fixed is None else fixed  # T of the current round
        self.history: list[float] = []  # per round: mean utility of exploited clients' results
        self.blacklist = np.zeros(0, dtype=np.int64)
        self._s: _Arms | None = None
        self._picks = 0  # asynchronous picks in the current round
        self._seen = 0  # task ids below this have been put in _open
        self._open: list[int] = []  # tasks whose fate is not final yet
        self._round_sum = self._round_n = 0.0  # trained results registered this round
        self._pacer_sum = self._pacer_n = 0.0  # results of exploited clients registered this round
        self._last_mean: float | None = None  # mean utility of the last round with trained results

    # ------------------------------------------------------------------ state
    def _arrays(self, sim: "Simulation") -> "_Arms":
        if self._s is None:
            num = sim.population.num_samples.astype(float)
            prior = np.minimum(num, samples_per_task(sim.config.train, sim.population.num_samples))
            n = num.size
            self._s = _Arms(prior.astype(float), np.asarray(sim.expected_task_durations(), dtype=float).copy(),
                            np.zeros(n), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool), num)
        return self._s

    @property
    def explored(self) -> np.ndarray:
        """Per client: has a registered result."""
        return self._s.count > 0 if self._s is not None else np.zeros(0, dtype=bool)

    def _register(self, client: int, reward: float, duration: float, trained: bool) -> None:
        a = self._s
        a.reward[client] = reward
        a.duration[client] = duration
        a.last_round[client] = max(self.round, 1)
        a.count[client] += 1
        if trained:
            self._round_sum += reward
            self._round_n += 1
        if a.exploit[client]:
            self._pacer_sum += reward
            self._pacer_n += 1

    def observe_result(self, sim: "Simulation", task: "Task", loss_rms: float, samples: int) -> None:
        """A trained update's statistics (root mean square per-sample loss, samples processed)."""
        if not math.isfinite(loss_rms):
            return
        a = self._arrays(sim)
        c = task.client
        self._register(c, min(float(samples), a.num_samples[c]) * loss_rms, task.end_time - task.dispatch_time, True)

    def _sync(self, sim: "Simulation") -> None:
        """Register tasks that ended without a trained result (cut, discarded or dropped).

        The task log is read because aborted tasks are not reported to selectors.
        """
        log = sim.log
        if log.n > self._seen:
            self._open.extend(range(self._seen, log.n))
            self._seen = log.n
        if not self._open:
            return
        ids = np.asarray(self._open)
        column = np.frombuffer(log.cols["status"], dtype=np.int8)
        status = column[ids]
        del column  # the log's arrays must stay resizable
        pending = (status == Status.IN_FLIGHT) | (status == Status.BUFFERED)
        missed = (status == Status.DISCARDED_DEADLINE) | (status == Status.DROPPED_STALE)
        for tid in ids[missed].tolist():
            self._register_missed(sim, tid)
        self._open = ids[pending].tolist()

    def _register_missed(self, sim: "Simulation", tid: int) -> None:
        mean = self._round_sum / self._round_n if self._round_n else self._last_mean
        if mean is None:
            return  # nothing trained yet: the client stays as it was
        c = sim.log.cols
        planned = c["download_s"][tid] + c["compute_s"][tid] + c["upload_s"][tid]
        planned += c["download_wait_s"][tid] + c["upload_wait_s"][tid]
        if not math.isfinite(planned):  # timing not known ahead (contention): time until it ended
            planned = c["end_time_s"][tid] - c["dispatch_time_s"][tid]
        self._register(int(c["client_id"][tid]), mean, planned, False)

    # -------------------------------------------------------------- a round
    def _begin_round(self, sim: "Simulation") -> None:
        a = self._arrays(sim)
        spec = self.spec
        self.round += 1
        if self._round_n:
            self._last_mean = self._round_sum / self._round_n
        self._round_sum = self._round_n = 0.0
        self.history.append(self._pacer_sum / (self._pacer_n + 1e-4))  # 1e-4 as the reference
        self._pacer_sum = self._pacer_n = 0.0
        if spec.preferred_duration_s is None:
            self.round_threshold = oort_pacer(
                self.history, self.round_threshold, self.round, spec.pacer_step, spec.pacer_delta
            )
            self.preferred_duration_s = oort_preferred_duration(a.duration, self.round_threshold)
        self.epsilon = max(self.epsilon * spec.epsilon_decay, self.epsilon_min)
        if spec.blacklist_rounds is not None:
            order = np.argsort(-a.count, kind="stable")
            over = order[a.count[order] > spec.blacklist_rounds]
            self.blacklist = over[: int(spec.blacklist_max_len * a.count.size)]

    def utilities(self, sim: "Simulation", clients: np.ndarray) -> np.ndarray:
        """Utilities of explored ``clients`` scored together, as in the current round."""
        a = self._arrays(sim)
        spec = self.spec
        return oort_scores(a.reward[clients], a.duration[clients], a.last_round[clients], self.round,
                           self.preferred_duration_s, spec.penalty, spec.temporal_weight, spec.clip_bound)

    def _draw(self, sim: "Simulation", weights: np.ndarray, k: int) -> np.ndarray:
        """``k`` indices without replacement ∝ ``weights`` (uniform if none is positive)."""
        w = np.asarray(weights, dtype=float)
        if not (w > 0).any():
            w = np.ones_like(w)
        u = sim.selection_stream.uniforms(w.size)
        with np.errstate(divide="ignore"):  # weight 0: key -inf, drawn last
            return weighted_sample_without_replacement(w, k, u)

    def _choose(self, sim: "Simulation", m: int, exploit_slots: int, rank_slots: int) -> list[int]:
        """``m`` clients: ``exploit_slots`` by utility above the cut-off at ``rank_slots``, the
        rest by exploration, then uniform."""
        a, spec = self._s, self.spec
        mask = sim.eligible_mask()
        mask[self.blacklist] = False
        eligible = np.flatnonzero(mask)
        if eligible.size == 0:
            return []
        known = a.count[eligible] > 0
        explored, unexplored = eligible[known], eligible[~known]
        picked: list[int] = []
        k = min(exploit_slots, explored.size)
        if k > 0:
            scores = self.utilities(sim, explored)
            candidates = oort_cutoff(scores, min(rank_slots, explored.size), spec.cut_off)
            chosen = explored[candidates[self._draw(sim, scores[candidates], k)]]
            a.exploit[chosen] = True
            picked += chosen.tolist()
        if (a.count == 0).any():
            slots = min(unexplored.size, m - len(picked))
            if slots > 0:
                T = self.preferred_duration_s
                weight = a.reward[unexplored] * oort_system_factor(a.duration[unexplored], T, spec.penalty)
                window = np.argsort(-weight, kind="stable")[: min(int(spec.sample_window * slots), weight.size)]
                chosen = unexplored[window[self._draw(sim, weight[window], slots)]]
                a.exploit[chosen] = False
                picked += chosen.tolist()
        else:  # nobody left to explore
            self.epsilon = self.epsilon_min = 0.0
        if len(picked) < m:
            rest = np.setdiff1d(eligible, picked)
            while len(picked) < m and rest.size:
                j = sim.selection_stream.index(rest.size)
                a.exploit[rest[j]] = False
                picked.append(int(rest[j]))
                rest = np.delete(rest, j)
        return picked

    def select_round(self, sim: "Simulation", m: int) -> list[int]:
        self._arrays(sim)
        self._sync(sim)
        self._begin_round(sim)
        k = int(m * (1.0 - self.epsilon))
        return self._choose(sim, m, k, k)

    def select(self, sim: "Simulation") -> int | None:
        self._arrays(sim)
        self._sync(sim)
        size = sim.config.algorithm.concurrency
        if self.round == 0 or self._picks >= size:
            self._begin_round(sim)
            self._picks = 0
        exploit = int(sim.selection_stream.next() >= self.epsilon)
        picked = self._choose(sim, 1, exploit, int(size * (1.0 - self.epsilon)))
        if not picked:
            return None
        self._picks += 1
        return picked[0]


@dataclass
class _Arms:
    """Oort's per-client record (index = client id)."""

    reward: np.ndarray  # statistical utility of the last result (the prior until then)
    duration: np.ndarray  # duration of the last registered task (expected duration until then)
    last_round: np.ndarray  # L: round of the last registered result
    count: np.ndarray  # registered results
    exploit: np.ndarray  # the latest pick was an exploitation
    num_samples: np.ndarray


def build_selector(spec, trained: bool) -> Selector:
    """The selector for an ``algorithm.selection`` config."""
    if spec.needs_losses and not trained:
        raise ConfigError(f"algorithm.selection.type: {spec.type} needs client losses, so training (no dry run)")
    if spec.type == "uniform":
        return UniformSelector()
    if spec.type == "fastest":
        return FastestSelector(spec.epsilon)
    if spec.type == "least_recent":
        return LeastRecentSelector()
    if spec.type == "power_of_choice":
        return PowerOfChoiceSelector(spec.d)
    if spec.type == "oort":
        return OortSelector(spec)
    raise ConfigError(f"algorithm.selection.type: unknown policy {spec.type!r}")
