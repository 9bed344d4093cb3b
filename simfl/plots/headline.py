"""The headline figure: when does one method beat another, as heterogeneity grows?

Two panels against the heterogeneity knob ``x`` (e.g. the spread σ of client speeds):

a. Per seed (one seed = one world, faced by every method), the reference method's time to
   the target over each other method's, on a log axis with a line at 1. Each time is capped at
   the horizon ``τ``, so a run that never reached the target counts as ``τ``: such a seed is an
   arrow (a bound: the true ratio is higher ↑ when only the other method reached it, lower ↓
   when only the reference did; ○ when neither did). The large marker is the geometric mean over
   seeds with its Student-t interval on log ratios (not drawn below :data:`MIN_PAIRS` seeds)
   (:func:`~simfl.results.time_to_target.summarize_time_ratios`, the numbers ``simfl report`` prints).
b. Test accuracy after a fixed time budget (a metric every run has): per seed, and the mean
   over seeds with a percentile-bootstrap interval (inside [0, 1]).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from simfl.plots._common import (
    attach_data,
    dodge,
    font_pt,
    group_label,
    group_style,
    ratio_axis,
    panel_grid,
    set_suptitle,
    shared_legend,
)
from simfl.plots._stats import bootstrap_mean_interval
from simfl.plots.labels import axis_label, method_label
from simfl.plots.style import NEUTRAL, method_order
from simfl.results.paired import default_reference, world_keys
from simfl.results.summary import value_at
from simfl.results.time_to_target import (
    COUNTED_STATUSES,
    NEVER_STATUSES,
    paired_time_ratios,
    summarize_time_ratios,
)

__all__ = ["headline_tables", "plot_headline", "default_budget", "MIN_PAIRS"]

#: Below this many paired seeds a mean is marked ``n=…``, drawn without its interval, and the legend warns.
MIN_PAIRS = 3
_ARROW = 1.45  # an arrow spans this factor on the log axis


def default_budget(summary: pd.DataFrame) -> float:
    """Half the shortest counted run (simulated s): a budget every run lived through."""
    ends = pd.to_numeric(summary.loc[_counted(summary), "sim_end_s"], errors="coerce")
    return 0.5 * float(ends.min()) if ends.notna().any() else math.nan


def _counted(summary: pd.DataFrame) -> np.ndarray:
    if "status" not in summary.columns:
        return np.ones(len(summary), bool)
    return summary["status"].astype(str).isin(COUNTED_STATUSES + NEVER_STATUSES).to_numpy()


def headline_tables(
    summary: pd.DataFrame,
    evals: pd.DataFrame,
    x: str,
    target: float,
    by: str = "algorithm.type",
    reference: str | None = None,
    horizon: float | None = None,
    budget_s: float | None = None,
    level: float = 0.95,
) -> dict[str, pd.DataFrame]:
    """The numbers the headline draws.

    Args:
        summary: a sweep summary of one setting of every swept key but ``x``, ``by`` and seed,
            with ``sim_end_s`` (see :func:`~simfl.results.time_to_target.with_censoring_times`).
        evals: the runs' ``evals``, concatenated with ``run_id``.
        x: the heterogeneity knob (numeric swept key).
        target: the accuracy target.
        by: the compared column.
        reference: the value of ``by`` in the numerator (default: ``fedavg``, else the first).
        horizon: ``τ`` (default: per ``x`` value, see :mod:`simfl.results.time_to_target`).
        budget_s: the time budget of panel b (default: :func:`default_budget`).
        level: confidence level.

    Returns:
        ``ratios`` (:func:`~simfl.results.time_to_target.paired_time_ratios`, one row per seed),
        ``ratio_summary`` (:func:`~simfl.results.time_to_target.summarize_time_ratios`),
        ``accuracy`` (one row per counted run: ``x``, ``by``, ``seed``, ``run_id``, ``budget_s``,
        ``accuracy``) and ``accuracy_summary`` (per ``x`` and method: ``mean``, ``low``, ``high``, ``n``).

    Raises:
        ValueError: another swept key varies besides ``x`` and ``by`` (filter the summary first).
    """
    others = [k for k in world_keys(summary, by) if k != x]
    if others:
        raise ValueError(f"the headline compares along {x} only; filter the summary to one value of "
                         f"{', '.join(others)}")
    methods = list(dict.fromkeys(summary[by]))
    reference = default_reference(methods) if reference is None else reference
    ratios = paired_time_ratios(summary, target, by=by, reference=reference, horizon=horizon, pair_on=[x])
    ratio_summary = summarize_time_ratios(ratios, by=by, level=level)
    budget = default_budget(summary) if budget_s is None else float(budget_s)
    runs = summary[_counted(summary)][["run_id", x, by, "seed"]]
    acc = value_at(evals[evals["run_id"].isin(runs["run_id"])], budget)
    accuracy = runs.assign(budget_s=budget, accuracy=runs["run_id"].map(acc).to_numpy(float))
    rows = []
    for (xv, m), g in accuracy.groupby([x, by], sort=True):
        mean, lo, hi = bootstrap_mean_interval(g["accuracy"].dropna().to_numpy(float), level)
        rows.append({x: xv, by: m, "mean": float(mean), "low": float(lo), "high": float(hi),
                     "n": int(g["accuracy"].notna().sum())})
    return {"ratios": ratios, "ratio_summary": ratio_summary, "accuracy": accuracy,
            "accuracy_summary": pd.DataFrame(rows)}


def _direction_hints(ax, ref_name: str) -> None:
    """``↑ method faster`` at the top and ``↓ <reference> faster`` at the bottom of the right margin
    (outside the data area: never over an arrow or a whisker); gids ``hint/up``, ``hint/down``."""
    for gid, y, va, text in (("hint/up", 1.0, "top", "↑ method\n   faster"),
                             ("hint/down", 0.0, "bottom", f"↓ {ref_name}\n   faster")):
        hint = ax.text(1.03, y, text, transform=ax.transAxes, ha="left", va=va, fontsize=font_pt("x-small"),
                       color=NEUTRAL)
        hint.set_gid(gid)


def plot_headline(
    summary: pd.DataFrame,
    evals: pd.DataFrame,
    x: str,
    target: float,
    by: str = "algorithm.type",
    reference: str | None = None,
    horizon: float | None = None,
    budget_s: float | None = None,
    level: float = 0.95,
) -> Figure:
    """The headline figure (see the module docstring); ``fig.data`` holds :func:`headline_tables`.

    Arguments as in :func:`headline_tables`.
    """
    data = headline_tables(summary, evals, x, target, by, reference, horizon, budget_s, level)
    ratios, rsum = data["ratios"], data["ratio_summary"]
    reference = ratios["reference"].iloc[0] if len(ratios) else (reference or default_reference(summary[by]))
    ref_name = method_label(reference)
    fig, (ax, bx) = panel_grid(2, ncols=2, panel=(3.7, 3.3), min_width=3.0)
    xs = np.sort(pd.to_numeric(summary[x], errors="coerce").dropna().unique())
    span = 0.06 * (xs[-1] - xs[0]) if xs.size > 1 else 0.1
    others = [m for m in method_order(summary[by]) if m != reference]

    ax.axhline(1.0, color="black", linewidth=0.9, zorder=1)
    few = False
    for i, m in enumerate(others):
        style = group_style(by, m)
        off = dodge(i, len(others), span)
        seeds = ratios[ratios[by] == m]
        seed_ids = sorted(seeds["seed"].unique())
        for _, row in seeds.iterrows():  # seeds left of the method's slot, its mean right of it
            px = float(row[x]) + off - 0.22 * span + dodge(seed_ids.index(row["seed"]), len(seed_ids), 0.12 * span)
            r, bound = float(row["ratio"]), row["bound"]
            if bound == "exact":
                ax.plot(px, r, marker=style.marker, color=style.color, alpha=0.55, markersize=4, linestyle="none",
                        gid=f"seed/{m}/{row[x]}/{row['seed']}")
            elif bound == "none":
                ax.plot(px, r, marker="o", markerfacecolor="none", color=NEUTRAL, markersize=4, linestyle="none",
                        gid=f"neither/{m}/{row[x]}/{row['seed']}")
            else:
                tip = r * _ARROW if bound == "lower" else r / _ARROW
                ax.plot(px, r, marker="_", color=style.color, markersize=6, linestyle="none",
                        gid=f"bound/{m}/{row[x]}/{row['seed']}")
                ann = ax.annotate("", xy=(px, tip), xytext=(px, r),
                                  arrowprops=dict(arrowstyle="-|>", color=style.color, lw=1.0, alpha=0.8,
                                                  shrinkA=0, shrinkB=0, mutation_scale=8))
                ann.set_gid(f"arrow_{'up' if bound == 'lower' else 'down'}/{m}/{row[x]}/{row['seed']}")
        s = rsum[rsum[by] == m].sort_values(x)
        if s.empty:
            continue
        gx = s[x].to_numpy(float) + off + 0.18 * span
        est = s["estimate"].to_numpy(float)
        reliable = s["n_pairs"].to_numpy() >= MIN_PAIRS  # fewer seeds: the mean alone (a t-interval on 2 logs
        # spans orders of magnitude and would flatten every other point)
        err = np.vstack([est - s["ci_low"].to_numpy(float), s["ci_high"].to_numpy(float) - est])
        err = np.nan_to_num(np.where(reliable, err, 0.0))
        bars = ax.errorbar(gx, est, yerr=err, color=style.color, marker=style.marker, markersize=7, capsize=3,
                           markeredgecolor="white", linewidth=1.5, label=group_label(by, m), zorder=3)
        bars.lines[0].set_gid(f"mean/{m}")
        for xi, yi, n in zip(gx, est, s["n_pairs"]):
            if n < MIN_PAIRS:
                few = True
                ax.annotate(f"n={n}", (xi, yi), xytext=(4, 4), textcoords="offset points", fontsize="x-small",
                            color=style.color)
    drawn = rsum[rsum["n_pairs"] >= MIN_PAIRS] if len(rsum) else rsum
    shown = np.concatenate([ratios["ratio"].to_numpy(float) * _ARROW, ratios["ratio"].to_numpy(float) / _ARROW,
                            drawn["ci_low"].to_numpy(float) if len(drawn) else [],
                            drawn["ci_high"].to_numpy(float) if len(drawn) else [], [1.0]])
    shown = shown[np.isfinite(shown) & (shown > 0)]
    ax.set_yscale("log")
    ax.set_ylim(shown.min() / 1.15, shown.max() * 1.15)  # every interval whole: with few seeds they are wide
    ratio_axis(ax.yaxis)
    _direction_hints(ax, ref_name)
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(f"time to {target:g} accuracy, {ref_name} ÷ method")
    ax.set_title(f"a  speed-up over {ref_name}", loc="left")

    acc, asum = data["accuracy"], data["accuracy_summary"]
    methods = method_order(summary[by])
    for i, m in enumerate(methods):
        style = group_style(by, m)
        off = dodge(i, len(methods), span)
        mine = acc[acc[by] == m]
        bx.plot(mine[x].to_numpy(float) + off - 0.22 * span, mine["accuracy"], marker=style.marker, color=style.color,
                alpha=0.4,
                markersize=3.5, linestyle="none", gid=f"seed/{m}")
        s = asum[asum[by] == m].sort_values(x)
        err = np.nan_to_num(np.vstack([s["mean"] - s["low"], s["high"] - s["mean"]]))
        label = group_label(by, m) + (" (reference)" if m == reference else "")
        bars = bx.errorbar(s[x].to_numpy(float) + off + 0.18 * span, s["mean"], yerr=err, color=style.color,
                           marker=style.marker, markersize=6, capsize=3, markeredgecolor="white", label=label,
                           zorder=3)
        bars.lines[0].set_gid(f"mean/{m}")
    values = acc["accuracy"].to_numpy(float)
    values = values[np.isfinite(values)]
    if values.size:
        bx.set_ylim(max(0.0, values.min() - 0.05), min(1.0, values.max() + 0.05))
    budget = float(acc["budget_s"].iloc[0]) if len(acc) else math.nan
    bx.set_xlabel(axis_label(x))
    bx.set_ylabel(f"test accuracy after {budget:g} s")
    bx.set_title(f"b  accuracy after {budget:g} simulated s", loc="left")
    for a in (ax, bx):
        if xs.size > 1:
            a.set_xticks(xs)
            a.set_xlim(xs[0] - 2.5 * span, xs[-1] + 2.5 * span)

    taus = sorted(set(ratios["horizon_s"])) if len(ratios) else []
    tau = f"τ = {taus[0]:g} s" if len(taus) == 1 else "τ (per value)"
    glyphs = [
        Line2D([], [], marker="o", color=NEUTRAL, alpha=0.55, markersize=4, linestyle="none",
               label="one seed (same world for every method)"),
        Line2D([], [], marker=r"$\uparrow$", color=NEUTRAL, markersize=8, linestyle="none",
               label="only the method reached it by τ: ratio at least this"),
        Line2D([], [], marker=r"$\downarrow$", color=NEUTRAL, markersize=8, linestyle="none",
               label=f"only {ref_name} reached it by τ: ratio at most this"),
        Line2D([], [], marker="o", markerfacecolor="none", color=NEUTRAL, markersize=4, linestyle="none",
               label="neither reached it by τ"),
    ]
    note = (f"a: per seed, {ref_name}'s time to {target:g} accuracy ÷ the method's, each capped at {tau}; "
            f"large markers: geometric mean over seeds, {level:.0%} Student-t interval on log ratios. "
            f"b: mean over seeds, {level:.0%} percentile-bootstrap interval.")
    if few:
        note += f" n=…: fewer than {MIN_PAIRS} seeds, no interval drawn."
    tuned = sorted(c.removeprefix("tuned:") for c in summary.columns if c.startswith("tuned:"))
    if tuned:  # a tuned sweep: say so, and what was tuned (simfl report states the whole protocol)
        note += (f" Each method tuned in every world on separate tuning seeds ({', '.join(tuned)}; "
                 "simfl report states the protocol).")
    shared_legend(fig, [ax, bx], title=note, ncol=3, extra=glyphs)
    set_suptitle(fig, f"Speed-up over {ref_name} to {target:g} test accuracy, and accuracy after {budget:g} s, "
                      f"as the {axis_label(x)} grows")
    return attach_data(fig, **data)
