"""Client selection policies: their config (``algorithm.selection``) and their pure math.

Who trains next, for FedAvg rounds and for asynchronous replacement dispatch alike. The
engine's selectors (:mod:`simfl.engine.selection`) apply these among the *eligible* clients:
idle, online, and past their cool-down (``algorithm.client_cooldown_s``).

* ``uniform``: uniformly at random (the default).
* ``fastest``: resource-aware; the client with the shortest expected task (download +
  compute at its base speed × E[jitter] + upload), except that with probability ``epsilon``
  it picks uniformly instead (exploration).
* ``least_recent``: the client not dispatched to for the longest time (never-dispatched
  clients first, in a random order): a round robin over the population.
* ``power_of_choice`` (Cho, Wang, Joshi 2022, "Towards Understanding Biased Client Selection
  in Federated Learning", AISTATS): sample ``d`` candidates without replacement with
  probability ∝ data size, ask each for its local loss at the current global model, take the
  ones with the highest loss.
* ``oort`` (Lai et al. 2021, "Oort: Efficient Federated Learning via Guided Participant
  Selection", OSDI), as in the reference code: utility = (normalised statistical utility +
  temporal bonus) × system penalty (see :func:`oort_scores`); a decaying share ε of each
  round explores unexplored clients, the rest is drawn ∝ utility above a cut-off; the
  preferred duration T follows the pacer (see :class:`OortSelection`).
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from simfl.tagged import tagged_union

__all__ = [
    "UniformSelection",
    "FastestSelection",
    "LeastRecentSelection",
    "PowerOfChoiceSelection",
    "OortSelection",
    "SELECTION_POLICIES",
    "SelectionSpec",
    "oort_utility",
    "oort_scores",
    "oort_normalization",
    "oort_system_factor",
    "oort_cutoff",
    "oort_exploration",
    "oort_pacer",
    "oort_preferred_duration",
    "weighted_sample_without_replacement",
]


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: True when the policy needs client losses from a trainer (no dry run).
    needs_losses: ClassVar[bool] = False


class UniformSelection(_Policy):
    """Uniformly at random among eligible clients."""

    type: Literal["uniform"] = "uniform"


class FastestSelection(_Policy):
    """The eligible client with the shortest expected task; uniform with probability ``epsilon``."""

    type: Literal["fastest"] = "fastest"
    epsilon: float = Field(0.0, ge=0, le=1, description="probability of a uniform pick instead (exploration)")


class LeastRecentSelection(_Policy):
    """The eligible client dispatched to least recently (never-dispatched first): a round robin."""

    type: Literal["least_recent"] = "least_recent"


class PowerOfChoiceSelection(_Policy):
    """Cho et al. 2022: ``d`` candidates ∝ data size, the highest local losses win."""

    type: Literal["power_of_choice"] = "power_of_choice"
    d: int = Field(10, ge=1, description="candidates sampled per selection (at least the number selected)")
    needs_losses: ClassVar[bool] = True


class OortSelection(_Policy):
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
    updates (as FedScale; the Oort harness weights by data share), or of the last round that had
    any, and nothing before the first trained update; (5) the loss term is the root mean square
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

    type: Literal["oort"] = "oort"
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


SELECTION_POLICIES = {
    cls.model_fields["type"].default: cls
    for cls in (UniformSelection, FastestSelection, LeastRecentSelection, PowerOfChoiceSelection, OortSelection)
}
SelectionSpec = tagged_union(SELECTION_POLICIES)


def oort_normalization(rewards: np.ndarray, clip_bound: float) -> tuple[float, float, float]:
    """Oort's min-max normalisation of statistical utilities: ``(clip, low, span)``.

    Over the positive ``rewards`` r_(1) ≤ … ≤ r_(n): ``clip = r_(min(⌊n·clip_bound⌋, n−1)+1)``
    (0-based index ``min(⌊n·clip_bound⌋, n−1)``), ``low = 0.999·r_(1)``,
    ``span = max(r_(n) − low, 1e-4)``; a utility r normalises to ``(min(r, clip) − low) / span``
    (the span uses the unclipped maximum, as in the reference). No positive reward: (0, 0, 1).
    """
    r = np.sort(np.asarray(rewards, dtype=float))
    r = r[r > 0]
    if r.size == 0:
        return 0.0, 0.0, 1.0
    clip = float(r[min(int(r.size * clip_bound), r.size - 1)])
    low = float(r[0]) * 0.999
    return clip, low, max(float(r[-1]) - low, 1e-4)


def oort_system_factor(duration_s: np.ndarray, preferred_duration_s: float, penalty: float) -> np.ndarray:
    """``(T / t)^α`` for clients slower than T (t floored at 1e-4 s), else 1."""
    t = np.asarray(duration_s, dtype=float)
    slow = t > preferred_duration_s
    return np.where(slow, (preferred_duration_s / np.maximum(np.where(slow, t, 1.0), 1e-4)) ** penalty, 1.0)


def oort_scores(
    reward: np.ndarray,
    duration_s: np.ndarray,
    last_round: np.ndarray,
    current_round: int,
    preferred_duration_s: float,
    penalty: float,
    temporal_weight: float,
    clip_bound: float = 0.98,
) -> np.ndarray:
    """Oort's utility of explored clients from their statistical utilities ``reward``.

    ``U_i = (max(0, (min(r_i, clip) − low) / span) + sqrt(c·ln R / L_i)) · (T / t_i)^α``
    (the factor only when ``t_i > T``), with ``clip, low, span`` from
    :func:`oort_normalization` over the ``reward`` given (the clients scored together).

    Args:
        reward: statistical utility r_i = |B_i|·sqrt(mean squared per-sample loss).
        duration_s: t_i, each client's last task duration.
        last_round: L_i, the round its last result was registered (≥ 1).
        current_round: R, the round being selected (≥ 1).
        preferred_duration_s: T.
        penalty: α.
        temporal_weight: c.
        clip_bound: quantile at which statistical utilities are clipped.
    """
    reward = np.asarray(reward, dtype=float)
    clip, low, span = oort_normalization(reward, clip_bound)
    statistical = np.maximum((np.minimum(reward, clip) - low) / span, 0.0)
    bonus = np.sqrt(temporal_weight * math.log(max(current_round, 1)) / np.maximum(last_round, 1))
    return (statistical + bonus) * oort_system_factor(duration_s, preferred_duration_s, penalty)


def oort_utility(
    samples: np.ndarray,
    loss_rms: np.ndarray,
    duration_s: np.ndarray,
    last_round: np.ndarray,
    current_round: int,
    preferred_duration_s: float,
    penalty: float,
    temporal_weight: float,
    clip_bound: float = 0.98,
) -> np.ndarray:
    """Oort's utility (Lai et al. 2021, §4.2, Algorithm 1, as in the reference code) of clients
    scored together: :func:`oort_scores` of ``r_i = |B_i|·sqrt(Σ_{k∈B_i} Loss(k)²/|B_i|)``.

    Args:
        samples: |B_i| per client.
        loss_rms: sqrt(mean squared per-sample training loss) of each client's last task.
        duration_s, last_round, current_round, preferred_duration_s, penalty, temporal_weight,
            clip_bound: as in :func:`oort_scores`.
    """
    reward = np.asarray(samples, dtype=float) * np.asarray(loss_rms, dtype=float)
    return oort_scores(reward, duration_s, last_round, current_round, preferred_duration_s, penalty,
                       temporal_weight, clip_bound)


def oort_cutoff(scores: np.ndarray, rank: int, cut_off: float) -> np.ndarray:
    """Indices of the exploitation candidates: ``scores ≥ cut_off × s_(rank)``, where
    ``s_(rank)`` is the score at 0-based ``rank`` in decreasing order (clamped to the last),
    in decreasing order of score (ties by index)."""
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(-scores, kind="stable")
    if order.size == 0:
        return order
    bar = scores[order[min(max(rank, 0), order.size - 1)]] * cut_off
    return order[scores[order] >= bar]


def oort_exploration(rounds: int, initial: float, decay: float, minimum: float) -> float:
    """ε after ``rounds`` selection rounds: ``max(initial·decay^rounds, minimum)`` (each round
    first sets ``ε ← max(ε·decay, minimum)``; with decay ≤ 1 the two agree)."""
    return max(initial * decay**rounds, minimum)


def oort_pacer(history: list[float], threshold: float, current_round: int, step: int, delta: float) -> float:
    """Oort's pacer: the new ``round_threshold`` (percentile) at selection round ``current_round``.

    ``history`` holds one mean exploited utility per round so far (the latest last). From round
    2·step on, every ``step`` rounds: with ``U`` = the sum of the last ``step`` entries and ``U'``
    of the ``step`` before, ``min(100, threshold + delta)`` if ``|U − U'| ≤ 0.1·U'`` (utility
    flat: admit slower clients), ``max(delta, threshold − delta)`` if ``|U − U'| ≥ 5·U'``.
    """
    if current_round < 2 * step or current_round % step or len(history) < 2 * step:
        return threshold
    previous = sum(history[-2 * step : -step])
    current = sum(history[-step:])
    change = abs(current - previous)
    if change <= 0.1 * previous:
        return min(100.0, threshold + delta)
    if change >= 5 * previous:
        return max(delta, threshold - delta)
    return threshold


def oort_preferred_duration(durations_s: np.ndarray, threshold: float) -> float:
    """T from the pacer: the duration at 0-based index ``min(⌊n·threshold/100⌋, n−1)`` of the
    sorted client durations, or ∞ when ``threshold ≥ 100``."""
    if threshold >= 100:
        return math.inf
    d = np.sort(np.asarray(durations_s, dtype=float))
    return float(d[min(int(d.size * threshold / 100.0), d.size - 1)])


def weighted_sample_without_replacement(weights: np.ndarray, k: int, u: np.ndarray) -> np.ndarray:
    """Indices of ``k`` items drawn without replacement with probability ∝ ``weights``.

    Efraimidis & Spirakis (2006): keep the ``k`` largest keys ``u_i^(1/w_i)`` for uniforms
    ``u_i`` (computed as ``log(u_i)/w_i`` for stability).
    """
    keys = np.log(u) / np.asarray(weights, dtype=float)
    k = min(k, len(keys))
    top = np.argpartition(-keys, k - 1)[:k] if k < len(keys) else np.arange(len(keys))
    return top[np.argsort(-keys[top], kind="stable")]
