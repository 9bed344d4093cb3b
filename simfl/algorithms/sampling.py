"""The pure math of client selection: weighted sampling without replacement, Oort's utility.

The selection policies themselves (``algorithm.selection``) are components in
:mod:`simfl.methods.selectors` and :mod:`simfl.methods.oort`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["oort_utility", "weighted_sample_without_replacement"]


def oort_utility(
    samples: np.ndarray,
    loss_rms: np.ndarray,
    duration_s: np.ndarray,
    last_round: np.ndarray,
    current_round: int,
    preferred_duration_s: float,
    penalty: float,
    temporal_weight: float,
) -> np.ndarray:
    """Oort's utility of explored clients (Lai et al. 2021, §4.2 and Algorithm 1).

    ``U_i = |B_i|·sqrt(Σ_{k∈B_i} Loss(k)²/|B_i|) + sqrt(c·ln R / L_i)``, multiplied by
    ``(T / t_i)^α`` when the client's last task took ``t_i > T``; here ``|B_i|`` is the number
    of samples of its last task, the root mean square loss comes from that task, ``R`` is the
    number of selections made so far and ``L_i`` the selection at which it was last chosen.

    Args:
        samples: |B_i| per client.
        loss_rms: sqrt(mean squared per-sample training loss) of each client's last task.
        duration_s: t_i, each client's last task duration.
        last_round: L_i (≥ 1).
        current_round: R (≥ 1).
        preferred_duration_s: T.
        penalty: α.
        temporal_weight: c.
    """
    statistical = samples * loss_rms
    bonus = np.sqrt(temporal_weight * math.log(max(current_round, 1)) / np.maximum(last_round, 1))
    slow = duration_s > preferred_duration_s
    system = np.where(slow, (preferred_duration_s / np.where(slow, duration_s, 1.0)) ** penalty, 1.0)
    return (statistical + bonus) * system


def weighted_sample_without_replacement(weights: np.ndarray, k: int, u: np.ndarray) -> np.ndarray:
    """Indices of ``k`` items drawn without replacement with probability ∝ ``weights``.

    Efraimidis & Spirakis (2006): keep the ``k`` largest keys ``u_i^(1/w_i)`` for uniforms
    ``u_i`` (computed as ``log(u_i)/w_i`` for stability).
    """
    keys = np.log(u) / np.asarray(weights, dtype=float)
    k = min(k, len(keys))
    top = np.argpartition(-keys, k - 1)[:k] if k < len(keys) else np.arange(len(keys))
    return top[np.argsort(-keys[top], kind="stable")]
