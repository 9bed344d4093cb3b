"""The pure math of client selection: weighted sampling without replacement and Oort's
utility, exploration schedule and pacer (Lai et al. 2021, as in the reference code,
SymbioticLab/Oort).

The selection policies themselves (``algorithm.selection``) are components in
:mod:`simfl.methods.selectors` and :mod:`simfl.methods.oort`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
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
