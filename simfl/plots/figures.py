"""The standard figure sets: one run, and a sweep of runs.

A sweep's set (:func:`sweep_figures`): ``headline_{t:g}`` per target when the sweep varies the
algorithm (``by``) and a numeric key, preferably a heterogeneity one (:func:`heterogeneity_key`;
one figure per combination of any further swept keys, suffixed with their values);
``time_to_{t:g}`` (restricted mean time to target against that key) and ``km_{t:g}``
(Kaplan–Meier curves per world); ``convergence`` (per world: each run thin, the mean thick) and
``convergence_paired`` (per world: each method minus the reference, paired by seed);
``staleness`` (log CCDF per world) and ``participation`` (fairness against the key, and updates
per client against speed per world). Worlds beyond :data:`MAX_PANELS` are pooled.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Protocol, Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simfl.plots._common import (
    Events,
    attach_data,
    fit_title,
    format_value,
    matching,
    panel_grid,
    set_suptitle,
    shared_legend,
)
from simfl.plots.band import interval_name, plot_convergence_band
from simfl.plots.convergence import plot_convergence
from simfl.plots.difference import plot_paired_difference
from simfl.plots.headline import plot_headline
from simfl.plots.km import plot_km_curves
from simfl.plots.labels import axis_label, method_label, value_label
from simfl.plots.participation import plot_participation, plot_participation_panels
from simfl.plots.style import register_methods, size_context
from simfl.plots.staleness_distribution import plot_staleness_ccdf, plot_staleness_histogram
from simfl.plots.targets import plot_time_to_target
from simfl.plots.timeline import plot_client_timeline
from simfl.results.paired import default_reference
from simfl.results.summary import target_column, target_times
from simfl.results.targetrule import SUSTAINED, TargetRule
from simfl.results.tables import drift_times
from simfl.results.time_to_target import with_censoring_times

__all__ = ["RunTables", "run_figures", "sweep_figures", "mark_targets", "MAX_PANELS", "heterogeneity_key", "run_title"]

#: Most panels (worlds) in a sweep figure; beyond it all runs are pooled in one panel.
MAX_PANELS = 6


class RunTables(Protocol):
    """What :func:`run_figures` needs of a run (``simfl.RunResult`` has it)."""

    config: Any
    evals: pd.DataFrame
    client_updates: pd.DataFrame
    clients: pd.DataFrame


def _has_accuracy(evals: pd.DataFrame) -> bool:
    return "test_accuracy" in evals.columns and bool(pd.to_numeric(evals["test_accuracy"]).notna().any())


def run_title(config: Any, swept: Mapping[str, Any] | None = None) -> str:
    """``FedAvg · σ = 1.5 · seed 0``: the algorithm, the swept values (when known) and the seed."""
    algorithm = getattr(getattr(config, "algorithm", None), "type", None)
    parts = [method_label(algorithm) if algorithm else (getattr(config, "name", None) or "run")]
    parts += [value_label(k, v) for k, v in (swept or {}).items() if k not in ("algorithm.type", "seed")]
    seed = getattr(config, "seed", None)
    if seed is not None:
        parts.append(f"seed {seed}")
    return " · ".join(parts)


def _drift_events(config: Any) -> list[tuple[float, str]]:
    """The concept drift times of a config (none when it has no ``data.drift``)."""
    if not getattr(getattr(config, "data", None), "drift", None):
        return []
    return drift_times(config)


def run_figures(
    result: RunTables,
    offline: pd.DataFrame | None = None,
    busy: pd.DataFrame | None = None,
    swept: Mapping[str, Any] | None = None,
    targets: Sequence[float] = (),
    rule: TargetRule | None = SUSTAINED,
    size: str | None = None,
) -> dict[str, Figure]:
    """The figures of one run, each titled with the algorithm, the swept values and the seed.

    Args:
        result: a run (``simfl.RunResult`` or anything with ``evals``, ``client_updates``,
            ``clients`` and ``config``).
        offline: the run's offline intervals (``client_id, start_s, end_s``) for the timeline.
        busy: the run's slowdown (busy) intervals (``client_id, start_s, end_s``) for the timeline.
        swept: the values of the sweep's swept keys for this run (for the titles), if any.
        targets: accuracy targets marked on the convergence figure (see :func:`mark_targets`).
        rule: when the run counts as having reached a target (default, and None: sustained).

        size: ``column`` or ``text``: figures of that width (see :func:`~simfl.plots.style.size_context`).

    Returns:
        ``convergence`` (test accuracy against simulated time, or client updates received
        in a dry run, where every accuracy is NaN), ``staleness``, ``participation`` and
        ``timeline`` (up to the run's end: ``manifest["sim_end_s"]`` when the result has it,
        else the last evaluation; synchronous rounds marked, every round's straggler shown).
        The concept drift times of ``result.config`` (``data.drift``) are marked on the
        convergence and timeline figures.
    """
    if size is not None:  # draw everything inside the preset
        with size_context(size):
            return run_figures(result, offline, busy, swept, targets, rule=rule)
    config = getattr(result, "config", None)
    name = run_title(config, swept)
    algorithm = getattr(getattr(config, "algorithm", None), "type", None) or "run"
    events = _drift_events(config)
    evals, updates, clients = result.evals, result.client_updates, result.clients
    y = "test_accuracy" if _has_accuracy(evals) else "client_updates"
    what = "test accuracy" if y == "test_accuracy" else "client updates received (dry run)"
    manifest = getattr(result, "manifest", None) or {}
    t_max = manifest.get("sim_end_s", float(evals["sim_time_s"].max()) if len(evals) else None)
    figs = {"convergence": plot_convergence({algorithm: evals}, y=y, title=f"{name}: {what}", events=events)}
    if targets and y == "test_accuracy":
        mark_targets(figs["convergence"].axes[0], evals, targets, diverged=manifest.get("status") == "diverged",
                     rule=SUSTAINED if rule is None else rule)
    figs["staleness"] = plot_staleness_histogram(updates, by=None, method=algorithm)
    fit_title(figs["staleness"].axes[0], f"{name}: staleness of arrived updates")
    figs["participation"] = plot_participation(updates, clients, method=algorithm)
    fit_title(figs["participation"].axes[0], f"{name}: applied updates per client")
    figs["timeline"] = plot_client_timeline(updates, offline, clients, t_max=t_max, busy=busy, events=events,
                                            title=f"{name}: client activity per task")
    return figs


def mark_targets(ax: Axes, evals: pd.DataFrame, targets: Sequence[float], diverged: bool = False,
                 rule: TargetRule = SUSTAINED) -> pd.DataFrame:
    """A dotted line at each target accuracy and a dot where the run reached it under ``rule``.

    The times are :func:`~simfl.results.summary.target_times` (what a sweep summary says; a
    diverged run reaches no target; default rule: sustained). The legend tells each time, or that it was not reached.
    ``ax.figure.data["targets"]`` (columns ``target``, ``time_to_target_s``) holds them.
    """
    times = target_times(evals, targets, diverged, rule)
    rows = []
    for t in targets:
        when = times[target_column(t)]
        ax.axhline(t, color="0.45", linestyle=":", linewidth=1.0, zorder=1.5)
        if math.isfinite(when):
            ax.plot([when], [t], linestyle="none", marker="o", markersize=6, markerfacecolor="none",
                    markeredgecolor="black", label=f"{t:g} reached at {when:.4g} s", zorder=3)
        else:
            why = " (diverged)" if diverged else ""
            ax.plot([], [], color="0.45", linestyle=":", label=f"{t:g} not reached{why}")
        rows.append({"target": float(t), "time_to_target_s": when})
    ax.legend()
    table = pd.DataFrame(rows, columns=["target", "time_to_target_s"])
    attach_data(ax.figure, targets=table)
    return table


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def heterogeneity_key(summary: pd.DataFrame, keys: Sequence[str]) -> str | None:
    """The knob of a headline: the first numeric key of ``keys`` under ``heterogeneity.`` that takes
    several values, else the first numeric key that does, else None."""
    numeric = [k for k in keys if k in summary.columns and _is_numeric(summary[k]) and summary[k].nunique() > 1]
    preferred = [k for k in numeric if k.startswith("heterogeneity.")]
    return (preferred or numeric or [None])[0]


def _panel_title(keys: Sequence[str], values: Sequence[Any]) -> str:
    return ", ".join(value_label(k, v) for k, v in zip(keys, values))


def _slug(keys: Sequence[str], values: Sequence[Any]) -> str:
    text = "_".join(f"{k.split('.')[-1]}-{v:g}" if isinstance(v, float) else f"{k.split('.')[-1]}-{v}"
                    for k, v in zip(keys, values))
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)


def _combos(df: pd.DataFrame, keys: Sequence[str]) -> list[tuple]:
    if not keys:
        return [()]
    return [tuple(c) for c in df[list(keys)].drop_duplicates().sort_values(list(keys)).itertuples(index=False)]


def _convergence(evals: pd.DataFrame, others: list[str], by: str | None, events: Events | None,
                 reference: str | None, level: float) -> dict[str, Figure]:
    """Absolute curves (runs and mean) and paired differences, one panel per world."""
    y = "test_accuracy" if _has_accuracy(evals) else "client_updates"
    combos = _combos(evals, others)
    pooled = len(combos) > MAX_PANELS
    if pooled:
        panels = [(f"pooled over {', '.join(map(axis_label, others))}", evals)]
    else:
        panels = [(_panel_title(others, c) or "all runs", matching(evals, others, c) if others else evals)
                  for c in combos]
    fig, axes = panel_grid(len(panels), sharey=True)
    for ax, (title, sub) in zip(axes, panels):
        plot_convergence_band(sub, by=by, y=y, unit="run_id", ax=ax, title=title, events=events, show="runs",
                              level=level)
        ax.set_ylabel("")
    fig.supylabel(axis_label(y), fontsize="medium")
    what = "Test accuracy" if y == "test_accuracy" else "Client updates received (dry run)"
    set_suptitle(fig, f"{what} against simulated time" + (" per world" if others and not pooled else ""))
    shared_legend(fig, axes, title="thick: mean over seeds; thin: one run each")
    figs = {"convergence": fig}
    if by is None or evals[by].nunique() < 2 or "seed" not in evals.columns or pooled:
        return figs
    reference = reference or default_reference(list(dict.fromkeys(sorted(evals[by].unique(), key=str))))
    fig, axes = panel_grid(len(panels), sharey=True)
    for ax, (title, sub) in zip(axes, panels):
        plot_paired_difference(sub, by=by, reference=reference, y=y, ax=ax, title=title, level=level)
        ax.set_ylabel("")
    fig.supylabel(f"{axis_label(y)}: method − {method_label(reference)}", fontsize="medium")
    set_suptitle(fig, f"{what} relative to {method_label(reference)} in the same world (paired by seed)")
    shared_legend(fig, axes, title=f"mean over seeds of the per-seed difference, band: "
                                   f"{interval_name('t', level, y, over='seeds')}")
    figs["convergence_paired"] = fig
    return figs


def sweep_figures(
    summary: pd.DataFrame,
    evals: pd.DataFrame,
    client_updates: pd.DataFrame,
    clients: pd.DataFrame,
    swept: Sequence[str],
    targets: Sequence[float],
    by: str | None = "algorithm.type",
    events: Events | None = None,
    reference: str | None = None,
    horizon: float | None = None,
    budget_s: float | None = None,
    level: float = 0.95,
    rule: TargetRule | None = None,
    size: str | None = None,
) -> dict[str, Figure]:
    """The figures of a sweep.

    Args:
        summary: the sweep's ``summary.parquet`` table.
        evals: all runs' ``evals``, concatenated, with ``run_id`` and the swept columns.
        client_updates: all runs' ``client_updates``, likewise.
        clients: all runs' ``clients``, likewise.
        swept: the swept config keys (dotted; ``by`` and ``seed`` may be among them).
        targets: accuracy targets with a ``time_to_{t:g}_s`` column in ``summary``.
        by: the compared column (one colour each); ignored when the tables lack it.
        events: ``(time_s, label)`` marked on every convergence panel, e.g. the concept drift
            times of the sweep's base config when all runs share them.
        reference: the value of ``by`` others are compared with (default: ``fedavg``, else the first).
        horizon: ``τ`` of the censoring-aware time to target (default: per world).
        budget_s: the time budget of the headline's accuracy panel (default: half the shortest run).
        level: confidence level of every interval.
        rule: the summary's target rule (:mod:`simfl.results.targetrule`), named in the captions of
            the time-to-target figures (None: not named).

        size: ``column`` or ``text``: figures of that width (see :func:`~simfl.plots.style.size_context`).

    Returns:
        ``{name: Figure}``: the sweep's set (the names and what each draws: the module docstring).
    """
    if size is not None:  # draw everything inside the preset
        with size_context(size):
            return sweep_figures(summary, evals, client_updates, clients, swept, targets, by, events, reference,
                                 horizon, budget_s, level, rule=rule)
    if by is not None and by not in evals.columns:
        by = None
    summary = with_censoring_times(summary, evals)
    others = _world_keys(summary, evals, swept, by)
    x = heterogeneity_key(summary, others)
    figs: dict[str, Figure] = {}
    if by is not None and by in summary.columns:
        register_methods(format_value(v) for v in summary[by].unique())  # the styles depend on the set only
    if x is not None and by is not None and by in summary.columns and summary[by].nunique() > 1:
        rest = [k for k in others if k != x and summary[k].nunique(dropna=False) > 1]
        figs.update(_headlines(summary, evals, x, rest, targets, by, reference, budget_s, level, rule))
    figs.update(_target_figures(summary, targets, x, others, by, level, horizon, rule))
    figs.update(_convergence(evals, others, by, events, reference, level))
    figs.update(_client_figures(client_updates, clients, others, x, by, level))
    return figs


def _world_keys(summary: pd.DataFrame, evals: pd.DataFrame, swept: Sequence[str], by: str | None) -> list[str]:
    """The swept keys that tell worlds apart: not ``by`` or the seed, nor keys that vary with ``by``
    (a variant's settings), nor keys the sweep holds at one value (kept out of every panel title)."""
    dependent = set()
    if by is not None and by in summary.columns:
        dependent = {k for k in swept if k in summary.columns and k != by
                     and summary.groupby(by)[k].nunique(dropna=False).max() <= 1 and summary[k].nunique(dropna=False) > 1}
    single = {k for k in swept if k in summary.columns and summary[k].nunique(dropna=False) <= 1}
    return [k for k in swept if k not in (by, "seed", *dependent, *single) and k in evals.columns]


def _headlines(summary: pd.DataFrame, evals: pd.DataFrame, x: str, rest: list[str], targets: Sequence[float],
               by: str, reference: str | None, budget_s: float | None, level: float,
               rule: TargetRule | None) -> dict[str, Figure]:
    """``headline_{t:g}`` per target, one per combination of the ``rest`` keys (suffixed with their values)."""
    figs = {}
    for combo in _combos(summary, rest)[:MAX_PANELS]:
        part = matching(summary, rest, combo) if rest else summary
        suffix = "_" + _slug(rest, combo) if rest else ""
        for t in targets:
            fig = plot_headline(part, evals[evals["run_id"].isin(part["run_id"])], x, t, by=by,
                                reference=reference, budget_s=budget_s, level=level, rule=rule)
            if rest:
                set_suptitle(fig, fig.get_suptitle().replace("\n", " ") + f" ({_panel_title(rest, combo)})")
            figs[f"headline_{t:g}{suffix}"] = fig
    return figs


def _target_figures(summary: pd.DataFrame, targets: Sequence[float], x: str | None, others: list[str],
                    by: str | None, level: float, horizon: float | None, rule: TargetRule | None) -> dict[str, Figure]:
    """``time_to_{t:g}`` per target (against ``x``, when there is one), then ``km_{t:g}`` (when ``by`` is known)."""
    figs = {}
    if x is not None:
        for t in targets:
            figs[f"time_to_{t:g}"] = plot_time_to_target(summary, x, t, by=by, level=level, horizon=horizon, rule=rule)
    if by is not None and by in summary.columns:
        for t in targets:
            figs[f"km_{t:g}"] = plot_km_curves(summary, t, by=by, level=level, rule=rule,
                                               group_on=others if len(_combos(summary, others)) <= MAX_PANELS else [])
    return figs


def _client_figures(client_updates: pd.DataFrame, clients: pd.DataFrame, others: list[str], x: str | None,
                    by: str | None, level: float) -> dict[str, Figure]:
    """``staleness`` and ``participation``: per world (up to :data:`MAX_PANELS`) when ``by`` is compared."""
    panel_by = others if len(_combos(client_updates, others)) <= MAX_PANELS else []
    if by is None:
        return {"staleness": plot_staleness_histogram(client_updates, by=None),
                "participation": plot_participation(client_updates, clients)}
    return {"staleness": plot_staleness_ccdf(client_updates, by=by, panel_by=panel_by),
            "participation": plot_participation_panels(client_updates, clients, by=by, panel_by=panel_by,
                                                       x=x if x in panel_by else None, level=level)}
