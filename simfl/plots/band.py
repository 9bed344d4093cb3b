"""Convergence across repeated runs: the mean curve of each group with an interval band or the runs themselves.

Within each group (value of ``by``), the runs (values of ``unit``) are put on a common grid, the
sorted union of the ``x`` values they were evaluated at: a run's value at a grid point is its last
evaluated ``y`` at or before it (carried forward), and the run contributes only from its first to
its last evaluation (rows with NaN ``y`` are ignored). At each grid point the line is the mean of
the ``n`` contributing runs, and the band (where ``n ≥ 2``) is a pointwise Student-t confidence
interval for it across runs (independent replicates, e.g. seeds; not a simultaneous band;
:mod:`simfl.results.intervals`):

* ``interval="t"``: ``m ± t_{(1+level)/2, n-1} · s / √n`` on the values (the line: their mean);
* ``interval="logit-t"``: the same on the logit of the values, mapped back (the line: the logit
  mean): inside (0, 1), for accuracies;
* ``interval="auto"`` (default): ``logit-t`` for a column of accuracies, ``t`` otherwise.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simfl.plots._common import (
    Events,
    attach_data,
    axes_or_new,
    check_events_axis,
    draw_events,
    group_frames,
    group_label,
    group_style,
    require_columns,
)
from simfl.plots._grid import align_last_value
from simfl.plots.labels import axis_label
from simfl.results import intervals

__all__ = ["plot_convergence_band", "default_unit", "band_table", "INTERVALS", "interval_name"]

#: Interval methods of a band (:mod:`simfl.results.intervals`): ``t`` (Student-t on the values),
#: ``logit-t`` (Student-t on the logit: for accuracies, inside (0, 1)) or ``auto`` (``logit-t`` for a
#: column of accuracies, else ``t``).
INTERVALS = ("auto", "t", "logit-t")


def default_unit(df: pd.DataFrame) -> str:
    """The column telling runs apart: ``run_id`` when present, else ``seed``."""
    return "run_id" if "run_id" in df.columns else "seed"


def _scale(interval: str, y: str) -> str:
    if interval == "auto":
        return intervals.scale_for(y)
    return "logit" if interval == "logit-t" else "identity"


def interval_name(interval: str, level: float, y: str = "test_accuracy", over: str = "runs") -> str:
    """What a band is, in words: ``mean on the logit scale, Student-t interval (95%, over runs)``."""
    return intervals.interval_name(_scale(interval, y), level, over)


def _group_stats(sub: pd.DataFrame, value, x: str, y: str, unit: str, level: float, interval: str) -> pd.DataFrame:
    grid, values, _ = align_last_value(sub, unit, x, y)
    mean, low, high, n = intervals.t_intervals(values if grid.size else np.empty((0, 0)), level, _scale(interval, y))
    return pd.DataFrame({"group": [value] * grid.size, "x": grid, "mean": mean[:grid.size], "low": low[:grid.size],
                         "high": high[:grid.size], "n": n[:grid.size], "runs": values.shape[0]})


def band_table(
    evals: pd.DataFrame, by: str | None, x: str, y: str, unit: str, level: float, interval: str = "auto"
) -> pd.DataFrame:
    """The statistics :func:`plot_convergence_band` draws: one row per (group, grid point).

    Columns: ``group`` (value of ``by``, None without it), ``x``, ``mean``, ``low``, ``high``
    (NaN where fewer than 2 runs contribute), ``n`` (runs contributing there) and ``runs``
    (runs in the group).
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
    parts = [_group_stats(sub, value, x, y, unit, level, interval) for value, sub in group_frames(evals, by)]
    return pd.concat(parts, ignore_index=True)


def plot_convergence_band(
    evals: pd.DataFrame,
    by: str | None = "algorithm",
    x: str = "sim_time_s",
    y: str = "test_accuracy",
    unit: str | None = None,
    level: float = 0.95,
    ax: Axes | None = None,
    title: str | None = None,
    events: Events | None = None,
    interval: Literal["auto", "t", "logit-t"] = "auto",
    show: Literal["band", "runs", "both"] = "band",
) -> Figure:
    """Mean ``y`` against ``x`` per group of runs, with a pointwise interval band and/or the runs.

    How runs are aligned and the band computed: the module docstring. ``show="runs"`` draws each
    run as a thin line instead of the band (``both``: both). Colours and markers are the method's
    own (:func:`~simfl.plots.style.method_style`). ``fig.data["band"]`` holds what was drawn
    (:func:`band_table`).

    Args:
        evals: concatenated ``evals`` tables, one row per (run, evaluation), with the columns
            ``by``, ``unit``, ``x`` and ``y``.
        by: the grouping column (e.g. ``algorithm`` or ``algorithm.type``); None: one group.
        x: horizontal axis column (``sim_time_s`` or ``client_updates``).
        y: value column (``test_accuracy``, ``test_loss``, ...).
        unit: the column naming each run; None: ``run_id`` when present, else ``seed``.
        level: confidence level of the band.
        ax: an existing Axes to draw into.
        title: axes title (default: says what is compared).
        events: ``(time_s, label)`` to mark with labelled dashed vertical lines (e.g. concept
            drift times; see :func:`~simfl.plots._common.draw_events`); only with
            ``x="sim_time_s"``.
        interval: ``auto``, ``t`` or ``logit-t``.
        show: ``band``, ``runs`` or ``both``.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: a column is missing, ``unit`` does not identify runs (two rows of one
            run at the same ``x``), ``events`` are given with an ``x`` other than ``sim_time_s``,
            or ``interval``/``show`` is unknown.
    """
    unit = _checked_unit(evals, by, x, y, unit, events, interval, show)
    fig, ax = axes_or_new(ax, (6.4, 4.0))
    drawn = []
    for value, sub in group_frames(evals, by):
        stats = _group_stats(sub, value, x, y, unit, level, interval)
        drawn.append(stats)
        if not stats.empty:
            _draw_group(ax, sub, stats, group_style(by, value), group_label(by, value), x, y, unit, show)
    _finish_axes(ax, x, y, level, interval, show, events, title)
    return attach_data(fig, band=pd.concat(drawn, ignore_index=True))


def _draw_group(ax: Axes, sub: pd.DataFrame, stats: pd.DataFrame, style, label: str, x: str, y: str, unit: str,
                show: str) -> None:
    """One group: its runs (thin, when shown), its mean line and its band (when shown and n > 1)."""
    if show in ("runs", "both"):
        grid, values, _ = align_last_value(sub, unit, x, y)
        for row in values:
            ax.plot(grid, row, color=style.color, linewidth=0.6, alpha=0.45, label="_run")
    runs = int(stats["runs"].iloc[0])
    ax.plot(stats["x"], stats["mean"], color=style.color, marker=style.marker,
            markevery=max(1, len(stats) // 6), markersize=4.5,
            label=f"{label} (n={runs})")
    if show in ("band", "both") and runs > 1 and stats["low"].notna().any():
        ax.fill_between(stats["x"], stats["low"], stats["high"], color=style.color, alpha=0.18, linewidth=0)


def _checked_unit(evals: pd.DataFrame, by: str | None, x: str, y: str, unit: str | None, events: Events | None,
                  interval: str, show: str) -> str:
    """The column naming each run, once the arguments are checked (a ValueError names the bad one)."""
    check_events_axis(events, x)
    if show not in ("band", "runs", "both"):
        raise ValueError(f"show must be band, runs or both, got {show!r}")
    unit = unit or default_unit(evals)
    require_columns(evals, [x, y, unit, by], "evals")
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
    return unit


def _finish_axes(ax: Axes, x: str, y: str, level: float, interval: str, show: str, events: Events | None,
                 title: str | None) -> None:
    """Axis labels, grid, the legend (titled with what the band is), the events and the title."""
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    ax.grid(alpha=0.3)
    if ax.lines:
        what = (f"band: {interval_name(interval, level, y)}" if show != "runs" else "mean; thin lines: runs")
        ax.legend(title=what, fontsize="small", title_fontsize="small")
    draw_events(ax, events)
    ax.set_title(title if title is not None else f"{axis_label(y)}: mean over runs")
