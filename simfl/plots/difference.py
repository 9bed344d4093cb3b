"""Paired convergence: each method minus the reference, seed by seed (same seed = same world)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simfl.plots._common import attach_data, axes_or_new, group_label, group_style, require_columns
from simfl.plots._grid import align_last_value
from simfl.results.intervals import interval_name, t_intervals
from simfl.plots.labels import axis_label, method_label
from simfl.plots.style import method_order
from simfl.results.paired import default_reference

__all__ = ["paired_difference_table", "plot_paired_difference"]


def paired_difference_table(
    evals: pd.DataFrame,
    by: str,
    reference: str | None = None,
    pair_on: str = "seed",
    x: str = "sim_time_s",
    y: str = "test_accuracy",
    level: float = 0.95,
) -> pd.DataFrame:
    """Per other value of ``by``, the mean over seeds of ``y(other) − y(reference)`` on a common grid.

    Each run is carried forward on the union of both methods' evaluation times (as in
    :func:`~simfl.plots.band.plot_convergence_band`); a seed contributes at a grid point where
    both of its runs have a value. The interval is the paired Student-t interval over seeds
    (:func:`~simfl.results.intervals.t_intervals`).

    Args:
        evals: one world's ``evals`` (one run per (value of ``by``, ``pair_on``)).
        by: the compared column.
        reference: the value subtracted (default: ``fedavg``, else the first value).
        pair_on: the column pairing runs (the seed).
        x: the time axis column.
        y: the value column.
        level: confidence level.

    Returns:
        One row per (other value, grid point): ``group``, ``reference``, ``x``, ``mean``,
        ``low``, ``high`` (NaN with fewer than 2 seeds there), ``n`` (seeds there).
    """
    require_columns(evals, [by, pair_on, x, y], "evals")
    methods = method_order(evals[by])
    reference = default_reference(methods) if reference is None else reference
    if reference not in methods:
        raise ValueError(f"reference {reference!r} is not a value of {by}: {methods}")
    ref = evals[evals[by] == reference]
    parts = []
    for other in methods:
        if other == reference:
            continue
        oth = evals[evals[by] == other]
        grid = np.unique(np.concatenate([ref[x].to_numpy(float), oth[x].to_numpy(float)]))
        _, r_values, r_units = align_last_value(ref, pair_on, x, y, grid=grid)
        _, o_values, o_units = align_last_value(oth, pair_on, x, y, grid=grid)
        seeds = sorted(set(r_units) & set(o_units))
        diff = np.vstack([o_values[o_units.index(s)] - r_values[r_units.index(s)] for s in seeds]) if seeds \
            else np.empty((0, grid.size))
        mean, lo, hi, _ = t_intervals(diff, level) if seeds else (np.full(grid.size, np.nan),) * 4
        parts.append(pd.DataFrame({"group": other, "reference": reference, "x": grid, "mean": mean, "low": lo,
                                   "high": hi, "n": np.isfinite(diff).sum(axis=0)}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["group", "reference", "x", "mean", "low", "high", "n"])


def plot_paired_difference(
    evals: pd.DataFrame,
    by: str = "algorithm.type",
    reference: str | None = None,
    pair_on: str = "seed",
    x: str = "sim_time_s",
    y: str = "test_accuracy",
    level: float = 0.95,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Each method's ``y`` minus the reference's, seed by seed, with a Student-t band and a line at 0.

    The alternative to absolute bands that uses the pairing of seeds: the spread between worlds
    (seeds) cancels, so differences show what the method changes in the same world. Above 0:
    the method is ahead of the reference at that time. ``fig.data["difference"]`` holds
    :func:`paired_difference_table`.
    """
    table = paired_difference_table(evals, by, reference, pair_on, x, y, level)
    fig, ax = axes_or_new(ax, (6.0, 3.6))
    ax.axhline(0.0, color="black", linewidth=0.9)
    for value, sub in table.groupby("group", sort=False):
        style = group_style(by, value)
        n = int(sub["n"].max()) if len(sub) else 0
        ax.plot(sub["x"], sub["mean"], color=style.color, marker=style.marker, markevery=max(1, len(sub) // 6),
                markersize=4.5,
                label=f"{group_label(by, value)} (n={n})")
        ax.fill_between(sub["x"], sub["low"], sub["high"], color=style.color, alpha=0.18, linewidth=0)
    ref = table["reference"].iloc[0] if len(table) else reference
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(f"{axis_label(y)}: method − {method_label(ref)}")
    if ax.lines[1:]:
        ax.legend(fontsize="small", title_fontsize="small",
                  title=f"per-seed difference, band: {interval_name('identity', level)}")
    ax.set_title(title if title is not None else f"Paired difference to {method_label(ref)}")
    return attach_data(fig, difference=table)
