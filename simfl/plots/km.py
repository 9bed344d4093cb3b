"""Kaplan–Meier curves: the fraction of runs that reached a target by each time, one panel per world."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from matplotlib.axes import Axes
from matplotlib.colors import to_rgba

from simfl.plots._common import (
    attach_data,
    fit_xlabel,
    group_frames,
    group_label,
    group_style,
    matching,
    panel_grid,
    set_suptitle,
    shared_legend,
)
from simfl.plots.labels import axis_label, value_label
from simfl.plots.style import MethodStyle
from simfl.results.paired import world_keys
from simfl.results.targetrule import TargetRule, target_rule_sentence
from simfl.results.time_to_target import km_curves, target_events

__all__ = ["plot_km_curves"]


def plot_km_curves(
    summary: pd.DataFrame,
    target: float,
    by: str = "algorithm.type",
    level: float = 0.95,
    group_on: list[str] | None = None,
    ncols: int = 3,
    rule: TargetRule | None = None,
) -> Figure:
    """The Kaplan–Meier estimate of the fraction of runs that reached ``target`` by each time.

    One panel per world (combination of the other swept keys, or ``group_on``), one step curve
    per value of ``by``: ``1 − Ŝ(t)`` with its pointwise log-log band (inside [0, 1], filled
    faintly with a solid edge), the method's marker where a run reached the target; later curves
    are drawn above and narrower, so curves that coincide (at 0, before any run reached it)
    each stay visible as a stripe; a tick
    ``|`` marks a run censored there (it had not reached the target when it ended); a curve
    ends where its estimate ends (its last censoring), or at the panel's longest run when it
    reached 1 or some run never reaches the target. ``fig.data["km"]`` holds the curves
    (:func:`~simfl.results.time_to_target.km_curves`).

    Args:
        summary: a sweep summary (with ``status``, ``sim_end_s`` and the target's column).
        target: the accuracy target.
        by: the compared column.
        level: confidence level of the bands.
        group_on: the columns telling worlds (panels) apart; default: the other swept keys.
        ncols: panels per row at most.
        rule: the summary's target rule, named in the caption (None: not named).
    """
    keys = list(world_keys(summary, by) if group_on is None else group_on)
    curves = km_curves(summary, target, by=by, level=level, group_on=keys)
    ends = target_events(summary, target)
    combos = [tuple(c) for c in curves[keys].drop_duplicates().itertuples(index=False)] if keys else [()]
    combos.sort(key=lambda c: tuple(str(v) if isinstance(v, str) else v for v in c))
    fig, axes = panel_grid(len(combos), ncols=ncols, sharey=True)
    fig.set_figheight(fig.get_figheight() + 0.8)  # room for the caption below the panels
    n_methods = curves[by].nunique() if len(curves) else 0
    for col, (ax, combo) in enumerate(zip(axes, combos)):
        panel = matching(curves, keys, combo) if keys else curves
        world = matching(ends, keys, combo) if keys else ends
        right = float(np.nanmax(world["end_s"])) if len(world) else 1.0
        for i, (value, c) in enumerate(group_frames(panel, by)):
            _draw_curve(ax, c, min(float(c["extent_s"].iloc[0]), right), group_style(by, value),
                        f"{group_label(by, value)} (n={int(c['at_risk'].iloc[0])})", i, n_methods)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(0, right * 1.02)
        fit_xlabel(ax, axis_label("sim_time_s"))
        if ax.get_subplotspec().is_first_col():  # on the panels, never beside the caption below them
            ax.set_ylabel(f"fraction of runs\nthat reached {target:g}")
        ax.set_title(", ".join(value_label(k, v) for k, v in zip(keys, combo)) or "all runs")
    set_suptitle(fig, f"Fraction of runs that reached {target:g} test accuracy by each simulated time")
    note = (f"Kaplan–Meier estimate (1 − Ŝ), a marker at each run reaching it; band: {level:.0%} pointwise "
            "log-log interval (exact binomial before the first run reaches it); |: a run that had not reached "
            "it when it ended (censored)")
    note += f"; {target_rule_sentence(rule)}" if rule is not None else ""
    shared_legend(fig, axes, title=note)
    return attach_data(fig, km=curves)


#: Line width of the last curve drawn in a panel, and how much wider each earlier one is (pt):
#: where curves coincide (all at 0 before the first run reaches the target) each shows as a stripe.
_WIDTH, _STEP = 1.3, 1.1


def _draw_curve(ax: Axes, c: pd.DataFrame, end: float, style: MethodStyle, label: str, i: int, n: int) -> None:
    """One method's step curve ``1 − Ŝ(t)`` to ``end``, its band (gid ``band/<i>``) and censoring ticks.

    The ``i``-th of ``n`` curves is drawn above the earlier ones and narrower than them
    (:data:`_WIDTH`, :data:`_STEP`), with the method's marker where a run reached the target.
    """
    t = c["time_s"].to_numpy(float)
    t_ext = np.append(t, max(end, t[-1]))
    f = np.append(c["fraction_reached"].to_numpy(float), c["fraction_reached"].iloc[-1])
    lo = np.append(c["reached_low"].to_numpy(float), c["reached_low"].iloc[-1])
    hi = np.append(c["reached_high"].to_numpy(float), c["reached_high"].iloc[-1])
    hi = np.where(np.isnan(hi), 1.0, hi)  # undefined only where every run has reached it
    lo = np.where(np.isnan(lo), 1.0, lo)
    z = 2.0 + 0.1 * i
    band = ax.fill_between(t_ext, lo, hi, step="post", facecolor=to_rgba(style.color, 0.10),
                           edgecolor=to_rgba(style.color, 0.55), linewidth=0.6, zorder=z - 0.5, label="_band")
    band.set_gid(f"band/{i}")
    events = np.flatnonzero(c["reached"].to_numpy(float) > 0) if "reached" in c.columns else np.arange(len(t))
    ax.step(t_ext, f, where="post", color=style.color, linewidth=_WIDTH + _STEP * (n - 1 - i), zorder=z,
            marker=style.marker, markevery=list(events), markersize=4, markeredgecolor="white",
            markeredgewidth=0.5, label=label)
    cens = c[c["censored"] > 0]
    ax.plot(cens["time_s"], cens["fraction_reached"], linestyle="none", marker="|", markersize=9,
            markeredgewidth=1.5, color=style.color, label="_censored", zorder=z)
