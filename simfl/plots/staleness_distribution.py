"""The distribution of update staleness, per group: a histogram, or per-world log CCDF panels."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from simfl.plots._common import (
    attach_data,
    axes_or_new,
    fit_title,
    font_pt,
    fit_xlabel,
    group_frames,
    group_label,
    group_style,
    matching,
    panel_grid,
    require_columns,
    set_suptitle,
    shared_legend,
)
from simfl.plots.labels import axis_label, value_label
from simfl.plots.style import NEUTRAL

__all__ = ["plot_staleness_histogram", "staleness_pmf", "staleness_ccdf", "staleness_table", "plot_staleness_ccdf"]


def _arrived(staleness: pd.Series) -> np.ndarray:
    return pd.to_numeric(staleness, errors="coerce").dropna().astype(np.int64).to_numpy()


def staleness_pmf(staleness: pd.Series) -> pd.Series:
    """Probability mass of each integer staleness value ``0..max`` (zeros included), NA dropped."""
    s = _arrived(staleness)
    if s.size == 0:
        return pd.Series(dtype=float)
    counts = np.bincount(s, minlength=int(s.max()) + 1)
    return pd.Series(counts / counts.sum(), index=np.arange(counts.size), name="probability")


def staleness_ccdf(staleness: pd.Series) -> pd.Series:
    """``P(staleness ≥ k)`` for ``k = 0..max`` (NA dropped): 1 at 0, ``1/n``-ish at the largest value."""
    pmf = staleness_pmf(staleness)
    if pmf.empty:
        return pd.Series(dtype=float)
    return pd.Series(pmf.to_numpy()[::-1].cumsum()[::-1], index=pmf.index, name="ccdf")


def staleness_table(client_updates: pd.DataFrame, by: str | None, panel_by: Sequence[str] = ()) -> pd.DataFrame:
    """The CCDFs :func:`plot_staleness_ccdf` draws: one row per (panel values, group, staleness k).

    Columns: the ``panel_by`` keys, ``group``, ``staleness``, ``ccdf`` (``P(staleness ≥ k)``),
    ``n`` (arrived updates of the group in that panel) and ``mean``.
    """
    keys = list(panel_by)
    parts = []
    worlds = client_updates.groupby(keys, sort=True, dropna=False) if keys else [((), client_updates)]
    for combo, world in worlds:
        combo = combo if isinstance(combo, tuple) else (combo,)
        for value, sub in group_frames(world, by):
            arrived = _arrived(sub["staleness"])
            ccdf = staleness_ccdf(sub["staleness"])
            if ccdf.empty:
                continue
            parts.append(pd.DataFrame({**dict(zip(keys, combo)), "group": value, "staleness": ccdf.index,
                                       "ccdf": ccdf.to_numpy(), "n": arrived.size, "mean": arrived.mean()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=[*keys, "group", "staleness", "ccdf", "n", "mean"])


def plot_staleness_ccdf(
    client_updates: pd.DataFrame, by: str | None = "algorithm.type", panel_by: Sequence[str] = (), ncols: int = 3
) -> Figure:
    """``P(staleness ≥ k)`` on a log axis, one panel per world (value of ``panel_by``), one line per group.

    Pooling different worlds (e.g. speed spreads) would mix distributions that have nothing to
    do with each other, so each combination of ``panel_by`` values gets its own panel. Each
    panel's x-axis ends just past its largest observed staleness. A method whose updates are
    never stale (FedAvg) is a single point at ``(0, 1)``. The legend gives each group's mean
    staleness per panel in ``fig.data["staleness"]`` (:func:`staleness_table`).
    """
    require_columns(client_updates, ["staleness", by, *panel_by], "client_updates")
    table = staleness_table(client_updates, by, panel_by)
    keys = list(panel_by)
    combos = [tuple(c) for c in table[keys].drop_duplicates().itertuples(index=False)] if keys else [()]
    fig, axes = panel_grid(max(len(combos), 1), ncols=ncols, sharey=True)
    for ax, combo in zip(axes, combos):
        panel = matching(table, keys, combo) if keys else table
        means = []
        for value, sub in group_frames(panel.rename(columns={"group": "_group"}), "_group" if by else None):
            style = group_style(by, value)
            ax.step(sub["staleness"], sub["ccdf"], where="post", color=style.color, marker=style.marker,
                    markevery=max(1, len(sub) // 8), markersize=4, label=group_label(by, value))
            means.append((style.color, f"{group_label(by, value)} {sub['mean'].iloc[0]:.1f}"))
        for j, (color, text) in enumerate([(NEUTRAL, "mean staleness:"), *means]):
            ax.text(0.97, 0.95 - 0.08 * j, text, transform=ax.transAxes, ha="right", va="top", fontsize="x-small",
                    color=color)
        top = int(panel["staleness"].max()) if len(panel) else 1
        ax.set_xlim(-0.5, max(top, 1) + 0.5)
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        fit_xlabel(ax, axis_label("staleness"))
        ax.set_title(", ".join(value_label(k, v) for k, v in zip(keys, combo)) or "all runs")
    fig.supylabel("fraction of arrived updates with staleness ≥ k", fontsize="medium")
    set_suptitle(fig, "Staleness of arrived updates" + (" per world" if keys else ""))
    shared_legend(fig, axes, title="complementary CDF over all arrived updates of the runs in each panel (log scale)")
    return attach_data(fig, staleness=table)


def plot_staleness_histogram(
    client_updates: pd.DataFrame,
    by: str | None = "algorithm",
    ax: Axes | None = None,
    method: str | None = None,
) -> Figure:
    """Staleness of the updates that reached the server, one step histogram per group.

    Only tasks with a staleness (they arrived: applied, dropped as stale, buffered) count.
    Bins are the integers (bin ``k`` spans ``[k - 0.5, k + 0.5)``) and heights are
    probability masses, so each group's histogram sums to 1; the legend gives each group's
    mean staleness and number of arrived updates. For runs of several worlds, prefer
    :func:`plot_staleness_ccdf`, which keeps them apart.

    Args:
        client_updates: ``client_updates`` table(s), concatenated with a ``by`` column.
        by: the grouping column; None: all updates in one histogram.
        ax: an existing Axes to draw into.
        method: with ``by`` None, the method of the one run drawn: its colour, and ``this run``
            in the legend (else grey, ``all runs``).

    Returns:
        The matplotlib Figure.
    """
    require_columns(client_updates, ["staleness", by], "client_updates")
    fig, ax = axes_or_new(ax, (6.4, 4.0))
    top = 0
    for value, sub in group_frames(client_updates, by):
        pmf = staleness_pmf(sub["staleness"])
        if pmf.empty:
            continue
        mean = float((pmf.index.to_numpy() * pmf.to_numpy()).sum())
        n = int(pd.to_numeric(sub["staleness"], errors="coerce").notna().sum())
        edges = np.arange(pmf.size + 1) - 0.5
        top = max(top, pmf.size - 1)
        ax.stairs(pmf.to_numpy(), edges, color=group_style(by, value, method).color, linewidth=1.6, baseline=0,
                  label=f"{group_label(by, value, method)}: mean {mean:.2f} (n={n})")
    fit_xlabel(ax, axis_label("staleness"))
    ax.set_ylabel("probability")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(-0.5, max(top, 5) + 0.5)  # just past the data; a lone bar at 0 (FedAvg) stays readable
    ax.grid(alpha=0.3)
    if ax.patches:
        ax.legend(fontsize=font_pt("small"))
    fit_title(ax, "Staleness of arrived updates")
    return fig
