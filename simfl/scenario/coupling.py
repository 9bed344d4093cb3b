"""Speed–data coupling: reassign the population's compute speeds to correlate with its data.

The speeds drawn for the population (or read from a trace) keep their distribution; only who
gets which speed changes. A Gaussian copula does it: each client gets a latent score
``z_c = r·s_c + sqrt(1 − r²)·ε_c`` where ``s_c`` is the normal score of the coupled quantity's
rank and ``ε_c`` independent standard normal noise from the seed tree; the k-th fastest speed
goes to the client with the k-th highest score. With ``r = 2 sin(π ρ / 6)`` the population
Spearman correlation between speed and the quantity is ρ (Kruskal 1958: a bivariate normal
with correlation r has Spearman correlation (6/π) arcsin(r/2)); a finite population gets ρ up
to sampling error O(1/√N) and ties in the quantity.

* ``by: size``: the quantity is the client's number of training samples; ρ > 0 makes big
  clients fast.
* ``by: label``: the quantity is the share of the client's training samples whose label is in
  ``labels``; ρ > 0 makes the clients holding those labels *slow* (the score is negated).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from simfl.rng import Purpose, SeedTree

__all__ = ["copula_correlation", "couple_speeds", "label_share"]


def copula_correlation(rho: float) -> float:
    """The normal correlation r whose Gaussian copula has Spearman correlation ``rho``."""
    return 2.0 * math.sin(math.pi * rho / 6.0)


def label_share(labels: np.ndarray, offsets: np.ndarray, chosen: list[int]) -> np.ndarray:
    """Per client, the fraction of its training samples whose label is in ``chosen``."""
    hit = np.isin(labels, chosen).astype(float)
    sizes = np.diff(offsets)
    sums = np.add.reduceat(hit, offsets[:-1]) if len(hit) else np.zeros(len(sizes))
    sums = np.where(sizes > 0, sums, 0.0)
    return np.divide(sums, sizes, out=np.zeros(len(sizes)), where=sizes > 0)


def couple_speeds(seconds_per_sample: np.ndarray, quantity: np.ndarray, rho: float, tree: SeedTree) -> np.ndarray:
    """Reassign ``seconds_per_sample`` among clients so that speed (its inverse) has Spearman
    correlation ``rho`` with ``quantity``.

    Args:
        seconds_per_sample: per-client values to permute (the marginal distribution is kept).
        quantity: per-client coupled quantity (ties are broken at random by the noise).
        rho: target Spearman correlation between speed and ``quantity``, in [-1, 1].
        tree: the seed tree (``Purpose.COUPLING`` noise, one uniform per client).

    Returns:
        The permuted seconds per sample.
    """
    n = len(quantity)
    r = copula_correlation(rho)
    from scipy.stats import rankdata  # scipy.stats takes 0.5 s to import: only when coupling is used

    ranks = rankdata(quantity, method="average")
    score = special.ndtri((ranks - 0.5) / n)
    noise = special.ndtri(tree.uniforms(Purpose.COUPLING, np.arange(n), 0))
    latent = r * score + math.sqrt(max(1.0 - r * r, 0.0)) * noise
    order = np.argsort(latent, kind="stable")  # from the lowest score ...
    out = np.empty(n)
    out[order] = np.sort(seconds_per_sample)[::-1]  # ... which gets the slowest speed
    return out
