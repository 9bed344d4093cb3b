"""Confidence intervals for means over a few runs (3–20 seeds), calibrated at those sizes.

Every interval is a Student-t interval over independent units (seeds, or runs of one method),
computed on a scale where the values are close to normal and mapped back:

* ``identity``: ``m ± t_{n−1} · s / √n`` (differences, counts, times);
* ``logit``: the same on ``logit(v)`` for quantities in [0, 1] (accuracies, Jain's index), mapped
  back with the logistic function, so the interval stays inside (0, 1). Values are clipped to
  ``[ε, 1 − ε]`` first (:data:`LOGIT_EPS`): an accuracy of exactly 1 would have an infinite logit.
  The estimate is the *logit mean* ``expit(mean(logit v))``, the centre the interval covers;
* ``log``: the same on ``log(v)`` for positive ratios: the geometric mean and its interval.

At n = 3 seeds the t interval keeps its nominal coverage when the values (on its scale) are
normal; the percentile bootstrap at n = 3 covered 68 % of the time for a nominal 95 %
(docs/statistics.md has the measured coverage of every interval simfl draws).
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from scipy import stats

__all__ = ["Scale", "SCALES", "LOGIT_EPS", "t_interval", "t_intervals", "interval_name", "scale_for"]

Scale = Literal["identity", "logit", "log"]
#: The scales an interval can be computed on.
SCALES: tuple[str, ...] = ("identity", "logit", "log")
#: Values of a [0, 1] quantity are clipped to ``[LOGIT_EPS, 1 − LOGIT_EPS]`` before the logit.
LOGIT_EPS = 1e-3

_NAMES = {
    "identity": "mean, Student-t interval",
    "logit": "mean on the logit scale, Student-t interval",
    "log": "geometric mean, Student-t interval on logs",
}


def interval_name(scale: str, level: float, over: str = "seeds") -> str:
    """``95% Student-t interval over seeds (mean on the logit scale)``: what a caption says."""
    return f"{_NAMES[_check_scale(scale)]} ({level:.0%}, over {over})"


def scale_for(column: str) -> str:
    """``logit`` for a column of accuracies (or other [0, 1] quantities named so), else ``identity``."""
    return "logit" if column.endswith(("accuracy", "jain")) else "identity"


def _check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    return scale


def _forward(v: np.ndarray, scale: str) -> np.ndarray:
    if scale == "logit":
        c = np.clip(v, LOGIT_EPS, 1 - LOGIT_EPS)
        return np.log(c / (1 - c))
    if scale == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), np.nan)
    return v


def _back(v: np.ndarray, scale: str) -> np.ndarray:
    if scale == "logit":
        return 1 / (1 + np.exp(-v))
    if scale == "log":
        return np.exp(v)
    return v


def t_intervals(values, level: float = 0.95, scale: str = "identity") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise Student-t intervals of a ``(units, points)`` array; NaN entries are missing units.

    Returns:
        ``(estimate, low, high, n)`` per column: the mean on ``scale`` mapped back, its interval
        (NaN with fewer than 2 finite values) and the number of finite values.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    v = _forward(np.asarray(values, dtype=float), _check_scale(scale))
    v = v[:, None] if v.ndim == 1 else v
    ok = np.isfinite(v)
    n = ok.sum(axis=0)
    with warnings.catch_warnings():  # a column without values is NaN, as meant
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(np.where(ok, v, np.nan), axis=0)
        sd = np.nanstd(np.where(ok, v, np.nan), axis=0, ddof=1)
        half = stats.t.ppf((1 + level) / 2, np.maximum(n - 1, 1)) * sd / np.sqrt(np.maximum(n, 1))
    half = np.where(n >= 2, half, np.nan)
    return _back(mean, scale), _back(mean - half, scale), _back(mean + half, scale), n


def t_interval(values, level: float = 0.95, scale: str = "identity") -> tuple[float, float, float, int]:
    """The Student-t interval of the finite ``values`` on ``scale``: ``(estimate, low, high, n)``."""
    est, lo, hi, n = t_intervals(np.asarray(values, dtype=float).ravel(), level, scale)
    return float(est[0]), float(lo[0]), float(hi[0]), int(n[0])

