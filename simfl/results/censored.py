"""Normal linear regression with left- and right-censored responses, by maximum likelihood.

On the log scale this is a log-normal accelerated-failure-time model: ``y = log R`` with
``y_i = x_i·θ + σ ε_i``, ``ε_i ~ N(0, 1)``. An observation is *exact* (``y_i`` seen), *right-censored*
(only ``y_i > c_i`` is known) or *left-censored* (only ``y_i < c_i``). The log-likelihood is

    Σ_exact [log φ(z_i) − log σ] + Σ_right log(1 − Φ(z_i)) + Σ_left log Φ(z_i),   z_i = (c_i − x_i·θ)/σ,

maximised over ``(θ, log σ)`` (BFGS with the analytic gradient, from the least-squares fit of the
exact observations). The covariance of ``θ̂`` is the inverse observed information (the Hessian of
the negative log-likelihood by central differences of its gradient).

Small samples: the covariance is scaled by ``k / (k − p)`` and intervals use Student-t quantiles
with ``k − p`` degrees of freedom (``k`` observations, ``p`` coefficients). Without censoring this
is exactly the least-squares t interval (``σ̂² = RSS / k`` scaled to ``RSS / (k − p)``); with
censoring its coverage was measured by simulation (tests/results/test_coverage.py, docs/statistics.md).

The same fit as lifelines' ``LogNormalFitter.fit_interval_censoring`` (checked in the tests), about
a hundred times faster, which is what lets the tests measure its coverage on thousands of samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

__all__ = ["EXACT", "RIGHT", "LEFT", "CensoredFit", "fit_censored_normal"]

#: Kinds of observation: seen exactly, known to be larger (right-censored), known to be smaller.
EXACT, RIGHT, LEFT = 0, 1, -1


@dataclass(frozen=True)
class CensoredFit:
    """A fitted model: coefficients, their small-sample covariance, ``σ̂`` and the counts behind it."""

    coef: np.ndarray
    cov: np.ndarray
    sigma: float
    n: int
    n_exact: int

    @property
    def df(self) -> int:
        """Degrees of freedom of the t intervals: observations minus coefficients."""
        return self.n - self.coef.size

    def interval(self, j: int = 0, level: float = 0.95) -> tuple[float, float, float]:
        """``(θ̂_j, low, high)``: the Student-t interval of coefficient ``j``."""
        half = stats.t.ppf((1 + level) / 2, self.df) * math.sqrt(self.cov[j, j])
        return float(self.coef[j]), float(self.coef[j] - half), float(self.coef[j] + half)


def _gradient(params: np.ndarray, y: np.ndarray, kind: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Negative log-likelihood and its gradient in ``(θ, log σ)``."""
    theta, log_sigma = params[:-1], params[-1]
    sigma = math.exp(log_sigma)
    z = (y - x @ theta) / sigma
    exact, right, left = kind == EXACT, kind == RIGHT, kind == LEFT
    ll = np.zeros_like(z)
    ll[exact] = stats.norm.logpdf(z[exact]) - log_sigma
    ll[right] = stats.norm.logsf(z[right])
    ll[left] = stats.norm.logcdf(z[left])
    # d ll / d z: −z (exact), −φ/(1−Φ) (right), φ/Φ (left)
    dz = np.zeros_like(z)
    dz[exact] = -z[exact]
    dz[right] = -np.exp(stats.norm.logpdf(z[right]) - stats.norm.logsf(z[right]))
    dz[left] = np.exp(stats.norm.logpdf(z[left]) - stats.norm.logcdf(z[left]))
    d_theta = -(dz / sigma) @ x
    d_log_sigma = -np.sum(dz * z) - exact.sum()
    return -float(ll.sum()), -np.append(d_theta, d_log_sigma)


def _hessian(params: np.ndarray, *args) -> np.ndarray:
    step = 1e-5 * np.maximum(1.0, np.abs(params))
    rows = []
    for j in range(params.size):
        e = np.zeros_like(params)
        e[j] = step[j]
        rows.append((_gradient(params + e, *args)[1] - _gradient(params - e, *args)[1]) / (2 * step[j]))
    h = np.array(rows)
    return (h + h.T) / 2


def _least_squares(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    theta, *_ = np.linalg.lstsq(x, y, rcond=None)
    return theta, float(np.sum((y - x @ theta) ** 2))


def fit_censored_normal(y, kind, x=None) -> CensoredFit | None:
    """Fit ``y ~ N(x·θ, σ²)`` to exact and censored observations (see the module docstring).

    Args:
        y: the observed value, or the censoring bound.
        kind: :data:`EXACT`, :data:`RIGHT` (the value is above ``y``) or :data:`LEFT` (below).
        x: the design, one row per observation (default: a column of ones: the mean alone).

    Returns:
        The fit, or None when the exact observations cannot identify it: fewer than ``p + 1`` of
        them, or a design without full rank on them (the maximum-likelihood estimate does not exist
        or is degenerate: e.g. every informative pair censored the same way).
    """
    y = np.asarray(y, dtype=float)
    kind = np.asarray(kind, dtype=int)
    x = np.ones((y.size, 1)) if x is None else np.asarray(x, dtype=float).reshape(y.size, -1)
    exact = kind == EXACT
    p, k = x.shape[1], y.size
    if exact.sum() < p + 1 or np.linalg.matrix_rank(x[exact]) < p:
        return None
    theta, rss = _least_squares(y[exact], x[exact])
    if exact.all():  # least squares: the t interval of the textbook
        return CensoredFit(theta, rss / (k - p) * np.linalg.inv(x.T @ x), math.sqrt(rss / k), k, k)
    start = np.append(theta, math.log(math.sqrt(rss / exact.sum()) or 0.1))
    result = optimize.minimize(_gradient, start, args=(y, kind, x), jac=True, method="BFGS")
    sigma = math.exp(result.x[-1])
    if sigma < 1e-9 * (1 + np.abs(result.x[:-1]).max()):  # every value on the line: nothing left to estimate
        return CensoredFit(result.x[:-1], np.zeros((p, p)), 0.0, k, int(exact.sum()))
    cov = np.linalg.inv(_hessian(result.x, y, kind, x))[:p, :p] * k / (k - p)
    return CensoredFit(result.x[:-1], cov, sigma, k, int(exact.sum()))
