"""Oort (Lai et al. 2021, "Oort: Efficient Federated Learning via Guided Participant Selection",
OSDI) as in its reference code: ``algorithm.selection: {type: oort}``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import Field

from simfl.algorithms.sampling import (
    oort_cutoff,
    oort_pacer,
    oort_preferred_duration,
    oort_scores,
    oort_system_factor,
    weighted_sample_without_replacement,
)
from simfl.config.params import SelectionParams
from simfl.engine.server import Selector, Server

if TYPE_CHECKING:
    from simfl.engine.tasks import Task

__all__ = ["Oort"]


class Oort(Selector):
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
    the pacer (:func:`~simfl.algorithms.sampling.oort_pacer`) on the per-round mean utility of
    exploited clients, ``T`` = the ``round_threshold`` percentile of every client's duration
    (unless ``preferred_duration_s`` fixes it), ``ε ← max(ε·epsilon_decay, epsilon_min)``,
    and the blacklist. Then, among eligible, non-blacklisted clients:

    * exploitation, ``k = ⌊m(1 − ε)⌋`` slots (at most the explored count): utilities
      :func:`~simfl.algorithms.sampling.oort_scores` of the explored ones; candidates are those
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

    Differences from the reference, and FedScale's other defaults: listed once, in
    :class:`Oort.Params` (hence in ``docs/config.md``).

    The pacer's per-round mean counts results registered during the round from clients whose
    latest pick was an exploitation (in FedAvg exactly the reference's last-round exploited
    clients with a result).
    """

    observes_results = True  # trained updates' statistics
    observes_missed = True  # tasks cut, discarded or dropped (registered at the next selection)

    class Params(SelectionParams):
        """Lai et al. 2021 (Oort), following the reference code (SymbioticLab/Oort, ``oort/oort.py``
        and its training harness, whose defaults are the defaults here): of a round's m slots,
        ⌊m(1 − ε)⌋ exploit explored clients, drawn ∝ utility among those with utility ≥ ``cut_off`` ×
        the utility ranked just below those slots, and the rest explore never-explored clients, drawn
        ∝ data-size prior × system penalty among the ``sample_window`` × slots heaviest (any slot
        left is filled uniformly); utility = (min-max normalised, clipped statistical utility +
        sqrt(c·ln R / L)) × (T / t)^α when t > T; ε decays
        by ``epsilon_decay`` per round to ``epsilon_min`` (0 once nobody is unexplored); T is the
        ``round_threshold`` percentile of client durations, moved by the pacer, unless
        ``preferred_duration_s`` fixes it. A lost task (client offline) registers nothing, so its
        client stays explorable; a task cut by over-selection or a deadline (or dropped as stale) is
        registered as in the reference's over-commitment: the round's mean utility and the task's
        planned duration. Differences from the reference: (1) normalisation over explored eligible
        clients only (the reference also mixes in unexplored clients' data-size priors); (2)
        asynchronous dispatch: a round is ``algorithm.concurrency`` single picks, each exploiting with
        probability 1 − ε (the reference's ⌊m(1 − ε)⌋ slots never exploit at m = 1), the cut-off rank
        taken as for a round of that size; (3) round 1 is an ordinary Oort round (the reference's
        harness picks it uniformly); (4) a cut task gets the plain mean utility of the round's trained
        updates (as FedScale, and as the Oort harness with its default ``is_even_avg``, which sums
        them with weight 1/(clients run in the round); data shares only with ``is_even_avg`` off), or
        of the last round that had any, and nothing before the first trained update; (5) the loss term is the root mean square
        of every per-sample loss of the task (the reference: a moving average over the first epoch's
        batches); (6) an optional fixed T; (7) every draw comes from the selection stream
        (Efraimidis–Spirakis keys for weighted draws without replacement: same law as the reference's
        successive draws); (8) edge cases the reference crashes on are defined: the cut-off rank is
        clamped to the last scored client, negative statistical terms count as 0, zero total weight
        draws uniformly, the blacklist cap is int(blacklist_max_len·n); (9) no utility noise
        (reference default 0) and no ``exploration_alpha`` (reference: logging only). FedScale's copy
        of Oort uses other defaults (epsilon_decay 0.98, epsilon_min 0.3, round_threshold 30,
        clip_bound 0.9, a cut-off of 0.05 keeping at least 10× the exploitation slots).

        The pacer (every ``pacer_step`` rounds, from round 2·step on): with U = the summed per-round
        mean utility of exploited clients over the last ``pacer_step`` rounds and U' the same over
        the step before, ``round_threshold`` grows by ``pacer_delta`` (at most 100: T = ∞) when
        |U − U'| ≤ 0.1·U' and shrinks by it (at least ``pacer_delta``) when |U − U'| ≥ 5·U'.
        """

        type: str = "oort"
        epsilon: float = Field(
            0.9, ge=0, le=1, description="initial exploration factor: share of a round's slots for unexplored clients"
        )
        epsilon_decay: float = Field(
            0.95, gt=0, le=1, description="epsilon is multiplied by this at the start of every selection round"
        )
        epsilon_min: float = Field(
            0.2, ge=0, le=1, description="floor of the decaying epsilon (0 once every client is explored)"
        )
        preferred_duration_s: float | None = Field(
            None, gt=0, allow_inf_nan=False,
            description="T: tasks slower than this are penalized; null = the pacer's round_threshold percentile "
            "of client durations",
        )
        round_threshold: float = Field(
            10.0, ge=0, le=100, allow_inf_nan=False,
            description="initial percentile (0-100) of client durations taken as T by the pacer (100: T = infinity)",
        )
        pacer_step: int = Field(20, ge=1, description="rounds between pacer decisions (compares the last two windows)")
        pacer_delta: float = Field(
            5.0, ge=0, allow_inf_nan=False, description="percentile points the pacer moves round_threshold by (0: no pacer)"
        )
        penalty: float = Field(2.0, ge=0, allow_inf_nan=False, description="alpha: exponent of the (T / t) penalty")
        temporal_weight: float = Field(
            0.1, ge=0, allow_inf_nan=False, description="weight c of the bonus sqrt(c ln R / L) for clients unseen for long"
        )
        cut_off: float = Field(
            0.7, ge=0, le=1,
            description="exploitation draws among clients with utility >= cut_off x the utility ranked just below "
            "the exploitation slots",
        )
        clip_bound: float = Field(
            0.98, gt=0, le=1, description="statistical utilities are clipped at this quantile before normalisation"
        )
        sample_window: float = Field(
            5.0, ge=1, allow_inf_nan=False,
            description="exploration draws among the sample_window x slots unexplored clients of highest prior",
        )
        blacklist_rounds: int | None = Field(
            None, ge=0, description="clients with more registered results than this are not selected; null = never"
        )
        blacklist_max_len: float = Field(
            0.3, ge=0, le=1, description="at most this share of the population is blacklisted (most results first)"
        )
        needs_losses: ClassVar[bool] = True

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
        self._missed: list[tuple[int, int, float]] = []  # (task id, client, planned duration) not registered yet
        self._round_sum = self._round_n = 0.0  # trained results registered this round
        self._pacer_sum = self._pacer_n = 0.0  # results of exploited clients registered this round
        self._last_mean: float | None = None  # mean utility of the last round with trained results

    # ------------------------------------------------------------------ state
    def _arrays(self, server: Server) -> "_Arms":
        if self._s is None:
            num = server.num_samples.astype(float)
            prior = np.minimum(num, server.samples_per_task)
            n = num.size
            self._s = _Arms(prior.astype(float), np.asarray(server.expected_task_durations(), dtype=float).copy(),
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

    def observe_result(self, server: Server, task: "Task", loss_rms: float, samples: int) -> None:
        """A trained update's statistics (root mean square per-sample loss, samples processed)."""
        if not math.isfinite(loss_rms):
            return
        a = self._arrays(server)
        c = task.client
        self._register(c, min(float(samples), a.num_samples[c]) * loss_rms, task.end_time - task.dispatch_time, True)

    def observe_missed(self, server: Server, task: "Task", planned_s: float) -> None:
        """A task cut by over-selection or a deadline, or dropped as stale: registered (as the
        reference's over-committed stragglers) at the next selection, once the round's trained
        results are all in."""
        self._missed.append((task.id, task.client, planned_s))

    def _sync(self, server: Server) -> None:
        """Register the missed tasks reported since the last selection, in dispatch order."""
        if not self._missed:
            return
        missed, self._missed = sorted(self._missed), []
        mean = None
        for _, client, planned in missed:
            mean = self._round_sum / self._round_n if self._round_n else self._last_mean
            if mean is None:
                return  # nothing trained yet: the clients stay as they were
            self._register(client, mean, planned, False)

    # -------------------------------------------------------------- a round
    def _begin_round(self, server: Server) -> None:
        a = self._arrays(server)
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

    def utilities(self, server: Server, clients: np.ndarray) -> np.ndarray:
        """Utilities of explored ``clients`` scored together, as in the current round."""
        a = self._arrays(server)
        spec = self.spec
        return oort_scores(a.reward[clients], a.duration[clients], a.last_round[clients], self.round,
                           self.preferred_duration_s, spec.penalty, spec.temporal_weight, spec.clip_bound)

    def _draw(self, server: Server, weights: np.ndarray, k: int) -> np.ndarray:
        """``k`` indices without replacement ∝ ``weights`` (uniform if none is positive)."""
        w = np.asarray(weights, dtype=float)
        if not (w > 0).any():
            w = np.ones_like(w)
        u = server.selection_stream.uniforms(w.size)
        with np.errstate(divide="ignore"):  # weight 0: key -inf, drawn last
            return weighted_sample_without_replacement(w, k, u)

    def _choose(self, server: Server, m: int, exploit_slots: int, rank_slots: int) -> list[int]:
        """``m`` clients: ``exploit_slots`` by utility above the cut-off at ``rank_slots``, the
        rest by exploration, then uniform."""
        a, spec = self._s, self.spec
        mask = server.eligible_mask()
        mask[self.blacklist] = False
        eligible = np.flatnonzero(mask)
        if eligible.size == 0:
            return []
        known = a.count[eligible] > 0
        explored, unexplored = eligible[known], eligible[~known]
        picked: list[int] = []
        k = min(exploit_slots, explored.size)
        if k > 0:
            scores = self.utilities(server, explored)
            candidates = oort_cutoff(scores, min(rank_slots, explored.size), spec.cut_off)
            chosen = explored[candidates[self._draw(server, scores[candidates], k)]]
            a.exploit[chosen] = True
            picked += chosen.tolist()
        if (a.count == 0).any():
            slots = min(unexplored.size, m - len(picked))
            if slots > 0:
                T = self.preferred_duration_s
                weight = a.reward[unexplored] * oort_system_factor(a.duration[unexplored], T, spec.penalty)
                window = np.argsort(-weight, kind="stable")[: min(int(spec.sample_window * slots), weight.size)]
                chosen = unexplored[window[self._draw(server, weight[window], slots)]]
                a.exploit[chosen] = False
                picked += chosen.tolist()
        else:  # nobody left to explore
            self.epsilon = self.epsilon_min = 0.0
        if len(picked) < m:
            rest = np.setdiff1d(eligible, picked)
            while len(picked) < m and rest.size:
                j = server.selection_stream.index(rest.size)
                a.exploit[rest[j]] = False
                picked.append(int(rest[j]))
                rest = np.delete(rest, j)
        return picked

    def select_round(self, server: Server, m: int) -> list[int]:
        self._arrays(server)
        self._sync(server)
        self._begin_round(server)
        k = int(m * (1.0 - self.epsilon))
        return self._choose(server, m, k, k)

    def select(self, server: Server) -> int | None:
        self._arrays(server)
        self._sync(server)
        size = getattr(server.algorithm, "concurrency", None) or 1  # one turnover of the in-flight pool
        if self.round == 0 or self._picks >= size:
            self._begin_round(server)
            self._picks = 0
        exploit = int(server.selection_stream.next() >= self.epsilon)
        picked = self._choose(server, 1, exploit, int(size * (1.0 - self.epsilon)))
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
