"""Statistics behind the multi-run plots: Student-t and bootstrap intervals, last-value alignment."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["t_interval", "t_half_widths", "align_last_value", "bootstrap_mean_interval", "EXHAUSTIVE_MAX"]

#: Up to this many distinct resamples (``n**n``), the bootstrap enumerates them all (exact).
EXHAUSTIVE_MAX = 5_000


def t_half_widths(std: np.ndarray, n: np.ndarray, level: float) -> np.ndarray:
    """Half widths ``t_{(1+level)/2, n-1} · std / √n`` of Student-t intervals for means.

    Args:
        std: sample standard deviations (``ddof=1``).
        n: sample sizes, elementwise with ``std``.
        level: confidence level in (0, 1).

    Returns:
        The half widths; NaN where ``n < 2`` (no spread can be estimated from one value).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    std = np.asarray(std, dtype=float)
    n = np.asarray(n, dtype=float)
    ok = n >= 2
    dof = np.where(ok, n - 1, 1.0)
    half = stats.t.ppf((1 + level) / 2, dof) * std / np.sqrt(np.where(ok, n, 1.0))
    return np.where(ok, half, np.nan)


def t_interval(values, level: float = 0.95) -> tuple[float, float, int]:
    """Mean of the finite ``values`` and the half width of its Student-t confidence interval.

    Args:
        values: a sequence of numbers; NaN entries are ignored.
        level: confidence level.

    Returns:
        ``(mean, half_width, n)``: ``half_width`` is NaN when fewer than two values are
        finite, and ``mean`` is NaN when none is.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = v.size
    if n == 0:
        return float("nan"), float("nan"), 0
    std = v.std(ddof=1) if n >= 2 else np.nan
    return float(v.mean()), float(t_half_widths(std, n, level)), n


def align_last_value(
    df: pd.DataFrame, unit: str, x: str, y: str, grid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, list]:
    """Put every run of ``df`` on a common ``x`` grid by carrying its last value forward.

    The grid is the sorted union of the ``x`` values at which some run has a finite ``y``.
    A run's value at a grid point ``g`` is its ``y`` at its last ``x <= g``; it is NaN before
    the run's first point and after its last one (a run contributes only over the span it
    was evaluated).

    Args:
        df: one row per (run, evaluation).
        unit: the column identifying runs.
        x: the alignment column (e.g. ``sim_time_s``).
        y: the value column.
        grid: the grid to align on instead of the union of the runs' ``x`` values.

    Returns:
        ``(grid, values, units)``: ``values[i, j]`` is run ``units[i]`` at ``grid[j]``.

    Raises:
        ValueError: when a run has two rows at the same ``x`` (``unit`` does not identify runs).
    """
    d = df[[unit, x, y]].copy()
    d[y] = pd.to_numeric(d[y], errors="coerce").astype(float)
    d = d[np.isfinite(d[y].to_numpy())]
    dup = d.duplicated([unit, x])
    if dup.any():
        row = d[dup].iloc[0]
        raise ValueError(
            f"column {unit!r} does not identify runs: {unit}={row[unit]!r} has several rows at "
            f"{x}={row[x]!r}; pass unit='run_id' (or another column naming each run)"
        )
    grid = np.unique(d[x].to_numpy(dtype=float)) if grid is None else np.asarray(grid, dtype=float)
    units = []
    rows = []
    for key, run in d.sort_values([unit, x]).groupby(unit, sort=True, dropna=False, observed=True):
        rx = run[x].to_numpy(dtype=float)
        ry = run[y].to_numpy(dtype=float)
        idx = np.searchsorted(rx, grid, side="right") - 1
        inside = (idx >= 0) & (grid <= rx[-1])
        rows.append(np.where(inside, ry[np.clip(idx, 0, None)], np.nan))
        units.append(key)
    values = np.vstack(rows) if rows else np.empty((0, grid.size))
    return grid, values, units


def bootstrap_mean_interval(
    values, level: float = 0.95, n_boot: int = 4000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over units and its percentile-bootstrap interval, at each point (column).

    Units (rows) are resampled with replacement, the same resample for every column (so a band
    over time is the bootstrap of whole curves); a NaN is a unit missing at that point. The
    interval is the ``(1 ± level)/2`` quantiles of the resampled means. Means of values in a
    range stay in it, so the interval never leaves the quantity's range (accuracy in [0, 1],
    times within the horizon), unlike a symmetric t-interval with few units. With ``n`` units
    and ``n**n ≤`` :data:`EXHAUSTIVE_MAX`, every resample is enumerated (the exact bootstrap
    distribution: no randomness); otherwise ``n_boot`` resamples are drawn from
    ``numpy.random.default_rng(seed)``.

    Args:
        values: shape ``(units,)`` or ``(units, points)``.
        level: confidence level.
        n_boot: resamples when not enumerating.
        seed: seed of the resampling generator.

    Returns:
        ``(mean, low, high)``, each of shape ``(points,)`` (or scalars' arrays of shape ``()``);
        NaN bounds where fewer than 2 units have a value.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    v = np.asarray(values, dtype=float)
    scalar = v.ndim == 1
    v = v[:, None] if scalar else v
    n = v.shape[0]
    with warnings.catch_warnings():  # a point no unit reached is NaN, as meant
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(v, axis=0) if n else np.full(v.shape[1], np.nan)
        if n and n**n <= EXHAUSTIVE_MAX:
            idx = np.array(np.meshgrid(*[np.arange(n)] * n, indexing="ij")).reshape(n, -1).T
        else:
            idx = np.random.default_rng(seed).integers(0, max(n, 1), size=(n_boot, n))
        means = np.nanmean(v[idx], axis=1) if n else np.full((1, v.shape[1]), np.nan)
        lo, hi = np.nanquantile(means, [(1 - level) / 2, (1 + level) / 2], axis=0)
    few = np.isfinite(v).sum(axis=0) < 2
    lo, hi = np.where(few, np.nan, lo), np.where(few, np.nan, hi)
    if scalar:
        return mean[0], lo[0], hi[0]
    return mean, lo, hi

