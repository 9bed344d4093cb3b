"""Kaplan–Meier curves: the fraction of runs that reached a target by each time, one panel per world."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simfl.plots._common import (
    attach_data,
    group_frames,
    group_label,
    group_style,
    matching,
    panel_grid,
    set_suptitle,
    shared_legend,
)
from simfl.plots.labels import axis_label, value_label
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
    per value of ``by``: ``1 − Ŝ(t)`` with its pointwise log-log band (inside [0, 1]); a tick
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
    for ax, combo in zip(axes, combos):
        panel = matching(curves, keys, combo) if keys else curves
        world = matching(ends, keys, combo) if keys else ends
        right = float(np.nanmax(world["end_s"])) if len(world) else 1.0
        for value, c in group_frames(panel, by):
            style = group_style(by, value)
            t = c["time_s"].to_numpy(float)
            end = min(float(c["extent_s"].iloc[0]), right)
            t_ext = np.append(t, max(end, t[-1]))
            f = np.append(c["fraction_reached"].to_numpy(float), c["fraction_reached"].iloc[-1])
            lo = np.append(c["reached_low"].to_numpy(float), c["reached_low"].iloc[-1])
            hi = np.append(c["reached_high"].to_numpy(float), c["reached_high"].iloc[-1])
            hi = np.where(np.isnan(hi), 1.0, hi)  # undefined only where every run has reached it
            lo = np.where(np.isnan(lo), 1.0, lo)
            n = int(c["at_risk"].iloc[0])
            ax.step(t_ext, f, where="post", color=style.color, label=f"{group_label(by, value)} (n={n})")
            for bound in (lo, hi):  # dotted bounds rather than filled bands: overlapping bands turn into a blob
                ax.step(t_ext, bound, where="post", color=style.color, linestyle=":", linewidth=0.9, alpha=0.8,
                        label="_band")
            cens = c[c["censored"] > 0]
            ax.plot(cens["time_s"], cens["fraction_reached"], linestyle="none", marker="|", markersize=9,
                    markeredgewidth=1.5, color=style.color, label="_censored")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(0, right * 1.02)
        ax.set_xlabel(axis_label("sim_time_s"))
        ax.set_title(", ".join(value_label(k, v) for k, v in zip(keys, combo)) or "all runs")
    fig.supylabel(f"fraction of runs that reached {target:g} accuracy", fontsize="medium")
    set_suptitle(fig, f"Fraction of runs that reached {target:g} test accuracy by each simulated time")
    note = (f"Kaplan–Meier estimate (1 − Ŝ), dotted: {level:.0%} pointwise log-log interval; "
            "|: a run that had not reached it when it ended (censored)")
    note += f"; {target_rule_sentence(rule)}" if rule is not None else ""
    shared_legend(fig, axes, title=note)
    return attach_data(fig, km=curves)
