"""How evenly a run hears its clients: Jain's fairness index and the Gini coefficient of a count.

For counts ``x_1 … x_n ≥ 0`` (e.g. applied updates per client, zeros included):

* Jain's index ``J = (Σ x)² / (n Σ x²)``: 1 when every client is heard equally often, ``1/n``
  when one client is heard alone (Jain, Chiu & Hawe 1984). NaN when every count is 0.
* Gini coefficient ``G = Σ_i Σ_j |x_i − x_j| / (2 n² x̄)``: 0 for equal counts, ``1 − 1/n``
  when one client has everything. NaN when every count is 0.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["jain_index", "gini"]


def jain_index(x) -> float:
    """Jain's fairness index of non-negative values (NaN if all are 0 or there are none)."""
    v = np.asarray(x, dtype=float)
    if v.size == 0 or (v < 0).any():
        raise ValueError("Jain's index needs at least one value, all ≥ 0")
    sq = float(np.sum(v**2))
    return float(v.sum() ** 2 / (v.size * sq)) if sq > 0 else math.nan


def gini(x) -> float:
    """Gini coefficient of non-negative values (NaN if all are 0 or there are none)."""
    v = np.sort(np.asarray(x, dtype=float))
    if v.size == 0 or (v < 0).any():
        raise ValueError("the Gini coefficient needs at least one value, all ≥ 0")
    total = v.sum()
    if total <= 0:
        return math.nan
    n = v.size
    # Σ_i Σ_j |x_i − x_j| = 2 Σ_i (2i − n − 1) x_(i) over the sorted values (i = 1..n)
    return float(np.sum((2 * np.arange(1, n + 1) - n - 1) * v) / (n * total))
