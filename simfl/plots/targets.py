"""Time to a target accuracy against a swept parameter, counting the runs that never reached it.

Runs that never reached the target count: each is censored at its end (a diverged run never
reaches it), and the statistics are those of :func:`~simfl.results.time_to_target.survival_table`
(never a mean of the runs that made it):

* ``statistic="rmst"`` (default): the restricted mean time to target within the horizon ``τ``
  (area under the Kaplan–Meier curve up to ``τ``; a run that never reached it adds ``τ``), with
  its logit interval, which stays within ``[0, τ]``; it always exists.
* ``statistic="median"``: the Kaplan–Meier median with its Brookmeyer–Crowley interval; a median
  not reached within the follow-up is an upward arrow at ``τ``, an unbounded interval an error
  bar up to ``τ``.

Each point is labelled ``k/n`` when only ``k`` of its ``n`` runs reached the target; the dashed
line is ``τ``. Groups sit side by side around each ``x`` value so their intervals do not hide
each other.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simfl.plots._common import (
    attach_data,
    axes_or_new,
    dodge,
    group_label,
    group_style,
    require_columns,
    shared_legend,
)
from simfl.plots.labels import axis_label, value_label
from simfl.plots.style import NEUTRAL, method_order
from simfl.results.paired import world_keys
from simfl.results.summary import target_column
from simfl.results.targetrule import TargetRule, target_rule_sentence
from simfl.results.survival import small_sample_note
from simfl.results.time_to_target import survival_table

__all__ = ["plot_time_to_target", "target_column", "UNFINISHED_STATUSES", "STATISTICS"]

#: Summary ``status`` values of runs that did not finish; they are left out entirely (they
#: are not evidence that the target is out of reach). A ``diverged`` run counts as never reaching it.
UNFINISHED_STATUSES = ("failed", "interrupted", "running", "pending")

#: What :func:`plot_time_to_target` can draw.
STATISTICS = ("rmst", "median")


def plot_time_to_target(
    summary: pd.DataFrame,
    x: str,
    target: float,
    by: str | None = "algorithm.type",
    level: float = 0.95,
    ax: Axes | None = None,
    horizon: float | None = None,
    statistic: Literal["rmst", "median"] = "rmst",
    rule: TargetRule | None = None,
) -> Figure:
    """Time to ``target`` accuracy against the swept parameter ``x``, one line per value of ``by``.

    Runs that never reached the target count (how: the module docstring).
    ``fig.data["time_to_target"]`` is the table drawn (one row per point).

    Args:
        summary: a sweep's ``summary.parquet`` table (one row per run, with ``sim_end_s``).
        x: the swept numeric column for the horizontal axis (a dotted config key).
        target: the accuracy target (its column must be in ``summary``).
        by: the grouping column (one line each); None: one line.
        level: confidence level of the intervals.
        ax: an existing Axes to draw into.
        horizon: ``τ`` in simulated seconds (default: per world, see :mod:`simfl.results.time_to_target`).
        statistic: ``rmst`` or ``median``.
        rule: the summary's target rule, named in the caption (None: not named).

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: ``x``, ``by`` or the target column is missing (the message lists the
            available columns), ``x`` is not numeric, or ``statistic`` is unknown.
    """
    _check_inputs(summary, x, target, by, statistic)
    line_by = by or "_all"
    table, rest = _survival(summary if by is not None else summary.assign(_all="all"), x, target, line_by,
                            horizon, level)
    fig_is_ours = ax is None
    fig, ax = axes_or_new(ax, (5.5, 4.2))
    xs = np.sort(pd.to_numeric(summary[x], errors="coerce").dropna().unique())
    span = 0.035 * (xs[-1] - xs[0]) if xs.size > 1 else 0.05
    lines = _ordered_lines(table, line_by, rest)
    _draw_lines(ax, lines, by, rest, x, statistic, span)
    _set_axes(ax, table, xs, x, target, statistic)
    note = _caption(statistic, level, table, rule)
    if fig_is_ours:
        shared_legend(fig, [ax], title=note, ncol=min(len(lines) + 1, 4))
    else:
        ax.legend(fontsize="small", title_fontsize="small", title=note)
    ax.set_title(f"Time to {target:g} test accuracy")
    return attach_data(fig, time_to_target=table)


def _check_inputs(summary: pd.DataFrame, x: str, target: float, by: str | None, statistic: str) -> None:
    """The columns exist, ``x`` is numeric and ``statistic`` is known, else a ValueError."""
    require_columns(summary, [x, target_column(target), by], "summary")
    if not pd.api.types.is_numeric_dtype(summary[x]) or pd.api.types.is_bool_dtype(summary[x]):
        raise ValueError(f"summary column {x!r} must be numeric to be a horizontal axis, got {summary[x].dtype}")
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}, got {statistic!r}")


def _survival(df: pd.DataFrame, x: str, target: float, line_by: str, horizon: float | None,
              level: float) -> tuple[pd.DataFrame, list[str]]:
    """The survival table per line and world (``x`` first), and the world keys besides ``x``."""
    keys = [x, *[k for k in world_keys(df, line_by) if k != x]]
    return survival_table(df, target, by=line_by, horizon=horizon, level=level, group_on=keys), keys[1:]


def _ordered_lines(table: pd.DataFrame, line_by: str, rest: list[str]) -> list[tuple]:
    """``(key, rows)`` per line (a value of ``line_by`` and of the other keys), in method order."""
    lines = list(table.groupby([line_by, *rest], sort=True, dropna=False)) if len(table) else []
    order = method_order(table[line_by]) if len(table) else []
    lines.sort(key=lambda kv: (order.index(kv[0][0] if isinstance(kv[0], tuple) else kv[0]), str(kv[0])))
    return lines


def _draw_lines(ax: Axes, lines: list[tuple], by: str | None, rest: list[str], x: str, statistic: str,
                span: float) -> None:
    """Every line, side by side around each ``x``; one dash style per combination of the other keys."""
    combos = sorted({tuple(k[1:]) if isinstance(k, tuple) else () for k, _ in lines}, key=str)
    dashes = ["-", "--", ":", "-."]  # one per combination of the other swept keys
    for i, (key, sub) in enumerate(lines):
        key = key if isinstance(key, tuple) else (key,)
        style = group_style(by, key[0])
        label = group_label(by, key[0]) if by is not None else "all runs"
        if rest:
            label += ", " + ", ".join(value_label(k, v) for k, v in zip(rest, key[1:]))
        _draw_line(ax, sub.sort_values(x), x, statistic, dodge(i, len(lines), span), style, label,
                   dashes[combos.index(tuple(key[1:])) % len(dashes)])


def _draw_line(ax: Axes, sub: pd.DataFrame, x: str, statistic: str, offset: float, style, label: str,
               dash: str) -> None:
    """One group's points with their intervals, an arrow where a median was not reached, ``k/n`` labels."""
    px = sub[x].to_numpy(float) + offset
    tau = sub["horizon_s"].to_numpy(float)
    if statistic == "rmst":
        y, lo, hi = (sub[c].to_numpy(float) for c in ("rmst_s", "rmst_ci_low_s", "rmst_ci_high_s"))
    else:
        y = sub["km_median_s"].to_numpy(float)
        lo = np.minimum(sub["median_ci_low_s"].to_numpy(float), tau)
        hi = np.minimum(sub["median_ci_high_s"].to_numpy(float), tau)
    shown = np.where(np.isnan(y), tau, y)
    err = np.vstack([np.clip(shown - lo, 0, None), np.clip(hi - shown, 0, None)])
    err = np.nan_to_num(err)
    ax.errorbar(px, shown, yerr=err, color=style.color, marker=style.marker, capsize=3, linestyle=dash, label=label)
    for xi, yi, missing in zip(px, shown, np.isnan(y)):
        if missing:  # a median not reached: at least τ
            ax.annotate("", xy=(xi, yi * 1.08), xytext=(xi, yi),
                        arrowprops=dict(arrowstyle="-|>", color=style.color, lw=1.2))
    for xi, yi, k, n in zip(px, shown, sub["n_reached"], sub["n_runs"]):
        if k < n:
            ax.annotate(f"{k}/{n}", (xi, yi), xytext=(3, -9), textcoords="offset points", color=style.color,
                        fontsize="x-small")


def _set_axes(ax: Axes, table: pd.DataFrame, xs: np.ndarray, x: str, target: float, statistic: str) -> None:
    """The horizon line (when one τ), the limits, ticks at the swept values and the axis labels."""
    if len(table):
        taus = table["horizon_s"].unique()
        if taus.size == 1:
            ax.axhline(taus[0], color=NEUTRAL, linestyle="--", linewidth=0.9, label=f"horizon τ = {taus[0]:g} s")
        ax.set_ylim(0, float(np.nanmax(table["horizon_s"])) * 1.12)
    if xs.size:
        pad = 0.08 * (xs[-1] - xs[0]) if xs.size > 1 else 0.5
        ax.set_xlim(xs[0] - pad, xs[-1] + pad)
        if xs.size <= 12:
            ax.set_xticks(xs)
    ax.set_xlabel(axis_label(x))
    what = "restricted mean time" if statistic == "rmst" else "median time"
    ax.set_ylabel(f"{what} to {target:g} accuracy (s)")


def _caption(statistic: str, level: float, table: pd.DataFrame, rule: TargetRule | None) -> str:
    """The legend's title: the statistic and its interval, how unreached runs count, the rule."""
    if statistic == "rmst":
        method = (f"restricted mean within τ (area under the Kaplan–Meier curve), {level:.0%} Student-t "
                  "interval on the logit of RMST/τ")
    else:
        method = f"Kaplan–Meier median, {level:.0%} Brookmeyer–Crowley interval; ↑ not reached"
    note = f"{method}; runs that never reached it count; k/n: runs that reached it"
    short = small_sample_note(statistic, int(table["n_runs"].min())) if len(table) and level == 0.95 else ""
    note += f"; {short}" if short else ""
    note += f"; {target_rule_sentence(rule)}" if rule is not None else ""
    return note
