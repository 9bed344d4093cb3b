"""The headline figure: when does one method beat another, as heterogeneity grows?

Two panels against the heterogeneity knob ``x`` (e.g. the spread σ of client speeds):

a. Per seed (one seed = one world, faced by every method), the reference method's time to
   the target over each other method's, on a log axis with a line at 1. A seed where only one
   of the two reached the target is an arrow from the bound its runs give (↑ the true ratio is
   higher: only the other method reached it; ↓ lower: only the reference did); a seed where
   neither did carries no information and is not drawn: the count ``k/n`` under an estimate
   says how many seeds informed it. The large marker is the time ratio estimated with the bounds
   kept (a log-normal AFT fit of the paired ratios) with its Student-t interval
   (:func:`~simfl.results.time_to_target.summarize_time_ratios`, the numbers ``simfl report`` prints),
   not drawn without 2 seeds where both reached it, its interval not drawn below :data:`MIN_PAIRS`
   informative seeds. Estimates are never joined by lines (a missing one is not a bound). The
   caption states the trend of the ratio over ``x`` (:func:`~simfl.results.time_to_target.ratio_trend`).
b. Test accuracy after a fixed time budget (a metric every run has): per seed, and the mean
   over seeds on the logit scale with its Student-t interval (inside (0, 1)).
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
from simfl.plots.labels import axis_label, method_label
from simfl.plots.style import NEUTRAL, method_order
from simfl.results.paired import default_reference, world_keys
from simfl.results.intervals import interval_name, t_interval
from simfl.results.summary import value_at
from simfl.results.targetrule import TargetRule, target_rule_sentence
from simfl.results.time_to_target import (
    COUNTED_STATUSES,
    NEVER_STATUSES,
    paired_time_ratios,
    ratio_trend,
    summarize_time_ratios,
)

__all__ = ["headline_tables", "plot_headline", "default_budget", "MIN_PAIRS"]

#: Below this many informative seeds an estimate is drawn without its interval, and the legend warns.
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
        budget_s: the time budget of panel b (default: :func:`default_budget`).
        level: confidence level.

    Returns:
        ``ratios`` (:func:`~simfl.results.time_to_target.paired_time_ratios`, one row per seed),
        ``ratio_summary`` (:func:`~simfl.results.time_to_target.summarize_time_ratios`),
        ``trend`` (:func:`~simfl.results.time_to_target.ratio_trend` over ``x``; empty with fewer than
        3 values of ``x``), ``accuracy`` (one row per counted run: ``x``, ``by``, ``seed``, ``run_id``, ``budget_s``,
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
    ratios = paired_time_ratios(summary, target, by=by, reference=reference, pair_on=[x])
    ratio_summary = summarize_time_ratios(ratios, by=by, level=level)
    several = pd.to_numeric(ratios[x], errors="coerce").nunique() >= 3
    trend = ratio_trend(ratios, x, by=by, level=level) if several else pd.DataFrame()
    budget = default_budget(summary) if budget_s is None else float(budget_s)
    runs = summary[_counted(summary)][["run_id", x, by, "seed"]]
    acc = value_at(evals[evals["run_id"].isin(runs["run_id"])], budget)
    accuracy = runs.assign(budget_s=budget, accuracy=runs["run_id"].map(acc).to_numpy(float))
    rows = []
    for (xv, m), g in accuracy.groupby([x, by], sort=True):
        mean, lo, hi, n = t_interval(g["accuracy"], level, scale="logit")
        rows.append({x: xv, by: m, "mean": mean, "low": lo, "high": hi, "n": n})
    return {"ratios": ratios, "ratio_summary": ratio_summary, "trend": trend, "accuracy": accuracy,
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
    budget_s: float | None = None,
    level: float = 0.95,
    rule: TargetRule | None = None,
) -> Figure:
    """The headline figure (see the module docstring); ``fig.data`` holds :func:`headline_tables`.

    Arguments as in :func:`headline_tables`; ``rule``: the summary's target rule, named in the caption.
    """
    data = headline_tables(summary, evals, x, target, by, reference, budget_s, level)
    ratios = data["ratios"]
    reference = ratios["reference"].iloc[0] if len(ratios) else (reference or default_reference(summary[by]))
    ref_name = method_label(reference)
    fig, (ax, bx) = panel_grid(2, ncols=2, panel=(3.7, 4.3), min_width=3.0)  # room for the caption below
    xs = np.sort(pd.to_numeric(summary[x], errors="coerce").dropna().unique())
    span = 0.06 * (xs[-1] - xs[0]) if xs.size > 1 else 0.1
    others = [m for m in method_order(summary[by]) if m != reference]
    few = _draw_speedups(ax, ratios, data["ratio_summary"], others, x, by, span)
    _speedup_axes(ax, ratios, data["ratio_summary"], x, target, ref_name)
    budget = _draw_accuracy(bx, data["accuracy"], data["accuracy_summary"], method_order(summary[by]), x, by,
                            reference, span)
    for a in (ax, bx):
        if xs.size > 1:
            a.set_xticks(xs)
            a.set_xlim(xs[0] - 2.5 * span, xs[-1] + 2.5 * span)
    note = _caption(summary, data["trend"], x, by, target, ref_name, level, few, rule)
    shared_legend(fig, [ax, bx], title=note, ncol=3, extra=_glyphs(ref_name))
    set_suptitle(fig, f"Speed-up over {ref_name} to {target:g} test accuracy, and accuracy after {budget:g} s, "
                      f"as the {axis_label(x)} grows")
    return attach_data(fig, **data)


def _draw_speedups(ax, ratios: pd.DataFrame, rsum: pd.DataFrame, others: list, x: str, by: str,
                   span: float) -> bool:
    """Panel a's marks: the line at 1, each method's seeds (left of its slot) and estimates (right).

    True if some estimate lacks an interval (too few informative seeds).
    """
    ax.axhline(1.0, color="black", linewidth=0.9, zorder=1)
    few = False
    for i, m in enumerate(others):
        style = group_style(by, m)
        off = dodge(i, len(others), span)
        _draw_seeds(ax, ratios[ratios[by] == m], x, m, style, off, span)
        few |= _draw_estimates(ax, rsum[rsum[by] == m].sort_values(x), x, off + 0.18 * span, style,
                               group_label(by, m), m, row=i)
    return few


def _draw_seeds(ax, seeds: pd.DataFrame, x: str, m, style, off: float, span: float) -> None:
    """One method's per-seed ratios: a marker where exact, a bound and an arrow where one-sided."""
    seed_ids = sorted(seeds["seed"].unique())
    for _, row in seeds.iterrows():  # seeds left of the method's slot, its mean right of it
        px = float(row[x]) + off - 0.22 * span + dodge(seed_ids.index(row["seed"]), len(seed_ids), 0.12 * span)
        r, bound = float(row["ratio"]), row["bound"]
        if bound == "exact":
            ax.plot(px, r, marker=style.marker, color=style.color, alpha=0.55, markersize=4, linestyle="none",
                    gid=f"seed/{m}/{row[x]}/{row['seed']}")
        elif bound in ("lower", "upper"):
            _draw_bound(ax, px, r, bound, style.color, f"{m}/{row[x]}/{row['seed']}")


def _speedup_axes(ax, ratios: pd.DataFrame, rsum: pd.DataFrame, x: str, target: float, ref_name: str) -> None:
    """Panel a's log ratio axis (every arrow and drawn interval whole), hints, labels and title."""
    drawn = rsum[rsum["n_informative"] >= MIN_PAIRS] if len(rsum) else rsum
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


def _draw_accuracy(bx, acc: pd.DataFrame, asum: pd.DataFrame, methods: list, x: str, by: str, reference,
                   span: float) -> float:
    """Panel b: each run's accuracy after the budget and each method's mean with its interval; the budget."""
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
    return budget


def _glyphs(ref_name: str) -> list[Line2D]:
    """Legend entries of the marks every method shares: a seed and the two one-sided bounds."""
    return [
        Line2D([], [], marker="o", color=NEUTRAL, alpha=0.55, markersize=4, linestyle="none",
               label="one seed (same world for every method)"),
        Line2D([], [], marker=r"$\uparrow$", color=NEUTRAL, markersize=8, linestyle="none",
               label="only the method reached it: ratio above this"),
        Line2D([], [], marker=r"$\downarrow$", color=NEUTRAL, markersize=8, linestyle="none",
               label=f"only {ref_name} reached it: ratio below this"),
    ]


def _caption(summary: pd.DataFrame, trend: pd.DataFrame, x: str, by: str, target: float, ref_name: str,
             level: float, few: bool, rule: TargetRule | None) -> str:
    """The legend's title: how each panel's numbers are made, the trend, tuning and the target rule."""
    note = (f"a: per seed, {ref_name}'s time to {target:g} accuracy ÷ the method's; k/n (where not all): seeds "
            f"where some run reached it, of n (neither: no information); large markers: time ratio from a log-normal AFT fit "
            f"of the paired ratios with the bounds kept, {level:.0%} Student-t interval. "
            f"b: {interval_name('logit', level)}.{_trend_note(trend, x, by)}")
    if few:
        note += f" No interval below {MIN_PAIRS} informative seeds."
    tuned = sorted(c.removeprefix("tuned:") for c in summary.columns if c.startswith("tuned:"))
    if tuned:  # a tuned sweep: say so, and what was tuned (simfl report states the whole protocol)
        note += (f" Each method tuned in every world on separate tuning seeds ({', '.join(tuned)}; "
                 "simfl report states the protocol).")
    note += f" {target_rule_sentence(rule).replace('time', 'Time', 1)}." if rule is not None else ""
    return note


def _draw_bound(ax, px: float, r: float, bound: str, color, gid: str) -> None:
    """A one-sided seed: a tick at its bound and an arrow towards where the true ratio lies."""
    tip = r * _ARROW if bound == "lower" else r / _ARROW
    ax.plot(px, r, marker="_", color=color, markersize=6, linestyle="none", gid=f"bound/{gid}")
    ann = ax.annotate("", xy=(px, tip), xytext=(px, r), arrowprops=dict(
        arrowstyle="-|>", color=color, lw=1.0, alpha=0.8, shrinkA=0, shrinkB=0, mutation_scale=8))
    ann.set_gid(f"arrow_{'up' if bound == 'lower' else 'down'}/{gid}")


def _draw_estimates(ax, s: pd.DataFrame, x: str, offset: float, style, label: str, m, row: int = 0) -> bool:
    """One method's estimates with their intervals, unjoined; ``k/n`` under those where some seeds told
    nothing (the ``row``-th line from the bottom). True if some estimate lacks an interval."""
    if s.empty:
        return False
    for xi, k, n in zip(s[x].to_numpy(float) + offset, s["n_informative"], s["n_pairs"]):
        if k == n:
            continue
        ax.annotate(f"{k}/{n}", (xi, 0), xycoords=("data", "axes fraction"), xytext=(0, 2 + 9 * row),
                    textcoords="offset points", ha="center", va="bottom", fontsize=7, color=style.color,
                    gid=f"informative/{m}", annotation_clip=True, in_layout=False)
    s = s[s["estimate"].notna()]  # no estimate: nothing to draw (the seeds' bounds say what is known)
    if s.empty:
        return False
    est = s["estimate"].to_numpy(float)
    reliable = s["n_informative"].to_numpy() >= MIN_PAIRS
    err = np.vstack([est - s["ci_low"].to_numpy(float), s["ci_high"].to_numpy(float) - est])
    err = np.nan_to_num(np.where(reliable, err, 0.0))
    bars = ax.errorbar(s[x].to_numpy(float) + offset, est, yerr=err, color=style.color, marker=style.marker,
                       markersize=7, capsize=3, markeredgecolor="white", linewidth=1.5, linestyle="none",
                       label=label, zorder=3)
    bars.lines[0].set_gid(f"mean/{m}")
    return bool((~reliable).any())


def _trend_note(trend: pd.DataFrame, x: str, by: str) -> str:
    """The caption's answer to "does the advantage grow with x?" (empty without a trend table)."""
    if trend.empty:
        return ""
    parts = []
    for row in trend.to_dict("records"):
        name = method_label(row[by])
        if not math.isfinite(row["slope"]):
            parts.append(f"{name}: no estimate")
            continue
        verdict = ("grows" if row["ci_low"] > 1 else "shrinks" if row["ci_high"] < 1 else "interval contains 1")
        parts.append(f"{name} ×{row['factor_per_unit']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}] ({verdict})")
    return (f" Trend of the ratio per unit of {axis_label(x)} (AFT fit with the swept value as covariate): "
            + "; ".join(parts) + ".")
