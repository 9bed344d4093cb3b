"""How evenly a run hears its clients: Jain's fairness index and the Gini coefficient of a count.

For counts ``x_1 … x_n ≥ 0`` (e.g. applied updates per client, zeros included):

* Jain's index ``J = (Σ x)² / (n Σ x²)``: 1 when every client is heard equally often, ``1/n``
  when one client is heard alone (Jain, Chiu & Hawe 1984). NaN when every count is 0.
* Gini coefficient ``G = Σ_i Σ_j |x_i − x_j| / (2 n² x̄)``: 0 for equal counts, ``1 − 1/n``
  when one client has everything. NaN when every count is 0.
* Normalised Jain's index ``J / E₀[J]``: ``E₀[J]`` is the mean of Jain's index when the same number
  ``U`` of updates fall on the ``n`` clients uniformly at random (multinomial). Raw ``J`` mostly
  measures how many updates there were: with ``U = 50`` over ``n = 50`` clients uniform chance alone
  gives about ``U / (n + U − 1) ≈ 0.5``. The normalised index is about 1 for uniform participation at
  any ``U``, below 1 when some clients are heard more than chance would have it.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = ["jain_index", "gini", "uniform_jain_mean", "normalised_jain"]

#: Draws behind :func:`uniform_jain_mean` (its Monte Carlo error is below 0.1 % of the mean).
UNIFORM_DRAWS = 4000


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


@lru_cache(maxsize=1024)
def uniform_jain_mean(updates: int, clients: int) -> float:
    """``E₀[J]``: the mean Jain's index of ``updates`` falling on ``clients`` uniformly at random.

    Estimated from :data:`UNIFORM_DRAWS` multinomial draws of a generator seeded by
    ``(updates, clients)``, so the same counts always give the same value. NaN without updates.
    """
    if updates <= 0 or clients <= 0:
        return math.nan
    if clients == 1:
        return 1.0
    rng = np.random.default_rng([updates, clients])
    counts = rng.multinomial(updates, np.full(clients, 1 / clients), size=UNIFORM_DRAWS)
    return float(np.mean(updates**2 / (clients * np.sum(counts.astype(float) ** 2, axis=1))))


def normalised_jain(x) -> float:
    """Jain's index of the counts ``x`` over its mean under uniform random assignment of as many updates."""
    v = np.asarray(x, dtype=float)
    total = v.sum()
    if not np.allclose(v, np.round(v)):
        raise ValueError("the normalised Jain index is for counts (whole numbers of updates)")
    return jain_index(v) / uniform_jain_mean(int(round(total)), v.size) if total > 0 else math.nan
