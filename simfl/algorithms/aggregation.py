"""Aggregation math on flat parameter vectors: small pure functions and init/update pairs.

*How* client updates combine lives here; *when* they combine is the server policy's business
(:mod:`simfl.engine`). Nothing here mutates its inputs: a server model vector, once made, is
never written again, so a dispatched task can hold a reference to the model it started from.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

__all__ = [
    "mix",
    "weighted_average",
    "Accumulator",
    "accumulate_init",
    "accumulate",
    "accumulated_mean",
    "fedat_tier_weights",
]


def mix(x: np.ndarray, x_client: np.ndarray, weight: float) -> np.ndarray:
    """FedAsync's update ``(1 − w)·x + w·x_client``, computed as ``x + w·(x_client − x)``."""
    return x + weight * (x_client - x)


def weighted_average(vectors: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """``Σ w_k v_k / Σ w_k`` (FedAvg with weights ``n_k``)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.size == 0 or w.sum() <= 0:
        raise ValueError("weighted_average needs at least one positive weight")
    out = np.zeros_like(vectors[0])
    for v, wk in zip(vectors, w / w.sum()):
        out += v * wk.astype(out.dtype)
    return out


class Accumulator(NamedTuple):
    """Running sum of weighted vectors (FedBuff's buffer)."""

    total: np.ndarray
    weight_sum: float
    count: int


def accumulate_init(like: np.ndarray) -> Accumulator:
    """An empty accumulator shaped like ``like``."""
    return Accumulator(np.zeros_like(like), 0.0, 0)


def accumulate(state: Accumulator, vector: np.ndarray, weight: float) -> Accumulator:
    """Add ``weight · vector``."""
    return Accumulator(state.total + weight * vector, state.weight_sum + weight, state.count + 1)


def accumulated_mean(state: Accumulator) -> np.ndarray:
    """``total / count``: FedBuff's ``mean(buffer)`` of already-weighted entries."""
    if state.count == 0:
        raise ValueError("the accumulator is empty")
    return state.total / state.count


def fedat_tier_weights(updates_per_tier, smoothed: bool = False) -> np.ndarray:
    """FedAT's cross-tier weights (Chai et al. 2021, SC'21, §4.3).

    Tiers are ordered fastest first; tier m's model gets weight ``T_{M+1−m} / T``, where
    ``T_k`` is how many times tier k has updated the global model and ``T = Σ_k T_k``: the
    counts are mirrored, so the slowest tier gets the weight earned by the fastest one and
    fast tiers cannot dominate the global model. Before any update the weights are equal.

    As printed (``smoothed=False``), a tier's weight is 0 until its mirror tier has reported:
    at the start, when only the fastest tier has reported, the global model is the mix of the
    tiers that have not (their models still the initial one). ``smoothed=True`` starts every
    count at 1 (``T_k + 1``), so every tier has a positive weight from the first update.
    """
    counts = np.asarray(updates_per_tier, dtype=float) + (1.0 if smoothed else 0.0)
    total = counts.sum()
    if total == 0:
        return np.full(len(counts), 1.0 / len(counts))
    return counts[::-1] / total
