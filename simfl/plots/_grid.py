"""Putting runs on one time grid for the multi-run plots (their intervals: :mod:`simfl.results.intervals`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["align_last_value"]


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
