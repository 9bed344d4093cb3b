"""Who gets heard: applied updates per client against its speed, and how evenly, per world."""

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
    dodge,
    fit_title,
    font_pt,
    fit_xlabel,
    group_frames,
    group_label,
    group_style,
    log_axis,
    matching,
    panel_grid,
    require_columns,
    set_suptitle,
    shared_legend,
)
from simfl.plots.labels import axis_label, value_label
from simfl.plots.style import method_order
from simfl.results.fairness import gini, jain_index, normalised_jain
from simfl.results.intervals import interval_name, t_interval

__all__ = ["plot_participation", "applied_per_client", "RUN_KEYS", "fairness_table", "plot_participation_panels"]

#: Columns that, when both tables have them, tie a client row to the runs it took part in.
RUN_KEYS = ("run_id", "seed")


def applied_per_client(client_updates: pd.DataFrame, clients: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """One row per (run or group, client) with its number of applied updates (0 if none).

    Client rows are matched to tasks on ``client_id`` plus whichever of :data:`RUN_KEYS` both
    tables have (so pooled sweeps keep each run's own population). When ``by`` is given but
    ``clients`` lacks it, each client row is repeated for every ``by`` value seen with the
    same run keys in ``client_updates`` (e.g. one population shared by three algorithms).

    Args:
        client_updates: ``client_updates`` table(s), with a ``by`` column if ``by`` is given.
        clients: ``clients`` table(s).
        by: the grouping column, or None.

    Returns:
        ``clients``' columns (plus ``by``) and ``applied_updates``.
    """
    require_columns(client_updates, ["client_id", "status", by], "client_updates")
    require_columns(clients, ["client_id"], "clients")
    shared = [c for c in RUN_KEYS if c in client_updates.columns and c in clients.columns]
    frame = clients
    if by is not None and by not in clients.columns:
        groups = client_updates[shared + [by]].drop_duplicates()
        frame = clients.merge(groups, on=shared) if shared else clients.merge(groups, how="cross")
    keys = shared + ([by] if by is not None else []) + ["client_id"]
    applied = client_updates[client_updates["status"].astype(str) == "applied"]
    counts = applied.groupby(keys, dropna=False, observed=True).size().rename("applied_updates").reset_index()
    out = frame.merge(counts, on=keys, how="left")
    out["applied_updates"] = out["applied_updates"].fillna(0).astype("int64")
    return out


def fairness_table(per_client: pd.DataFrame, unit: str = "run_id", keys: Sequence[str] = ()) -> pd.DataFrame:
    """Per run, how evenly its clients were heard: Jain's index and the Gini coefficient.

    Args:
        per_client: :func:`applied_per_client` rows (zeros included), with ``unit`` and ``keys``.
        unit: the column naming runs.
        keys: columns to carry over (constant within a run: method, swept values, seed).

    Returns:
        One row per run: ``unit``, ``keys``, ``jain`` (:func:`~simfl.results.fairness.jain_index`),
        ``jain_normalised`` (:func:`~simfl.results.fairness.normalised_jain`: 1 = as even as uniform
        random participation), ``gini`` (:func:`~simfl.results.fairness.gini`), ``clients``,
        ``applied_updates``.
    """
    rows = []
    for run, g in per_client.groupby(unit, sort=True):
        x = g["applied_updates"].to_numpy(float)
        rows.append({unit: run, **{k: g[k].iloc[0] for k in keys}, "jain": jain_index(x),
                     "jain_normalised": normalised_jain(x), "gini": gini(x),
                     "clients": x.size, "applied_updates": int(x.sum())})
    return pd.DataFrame(rows)


def plot_participation_panels(
    client_updates: pd.DataFrame,
    clients: pd.DataFrame,
    by: str = "algorithm.type",
    panel_by: Sequence[str] = (),
    x: str | None = None,
    level: float = 0.95,
    ncols: int = 3,
) -> Figure:
    """Fairness of participation against ``x``, then who gets heard in each world.

    The first panel is Jain's fairness index of applied updates per client divided by its mean
    under uniform random participation with as many updates (:func:`~simfl.results.fairness.normalised_jain`:
    1 = as even as chance; raw Jain's index mostly tracks the number of updates), per run (small
    markers) and its geometric mean over seeds with a Student-t interval on logs, against ``x``
    (the first numeric key of ``panel_by`` when None; none: no such panel).
    Then one panel per world (combination of ``panel_by``): each client's share of the
    run's applied updates relative to an equal share (``applied / mean applied per client``:
    1 = its fair share, 0 = never heard) against its compute time per sample (log axis).
    Sweeps need ``run_id`` in both tables. ``fig.data``: ``fairness`` (:func:`fairness_table`
    per run), ``fairness_summary`` and ``per_client``.
    """
    keys = list(panel_by)
    per_client = _relative_per_client(client_updates, clients, by, keys)
    unit = "run_id" if "run_id" in per_client.columns else "seed"
    carry = [c for c in dict.fromkeys([by, *keys, "seed"]) if c in per_client.columns and c != unit]
    fair = fairness_table(per_client, unit, carry)
    # the fairness panel needs a numeric axis: the first numeric key (a key of names gets none)
    x = x or next((k for k in keys if k in fair.columns and pd.api.types.is_numeric_dtype(fair[k])), None)
    combos = [tuple(c) for c in per_client[keys].drop_duplicates().sort_values(keys).itertuples(index=False)] \
        if keys else [()]
    fig, axes = panel_grid(len(combos) + (x is not None), ncols=ncols)
    rows = _draw_fairness(axes[0], fair, x, by, level) if x is not None else []
    for ax, combo in zip(axes[x is not None:], combos):
        _draw_world(ax, matching(per_client, keys, combo) if keys else per_client, by, keys, combo)
    set_suptitle(fig, "Who gets heard: fairness of participation and updates per client against client speed")
    shared_legend(fig, axes, title=(f"fairness: Jain's index of updates per client ÷ its mean when as many updates "
                                    f"fall on the clients uniformly at random; per run (small) and "
                                    f"{interval_name('log', level)}; scatter: one client of one run "
                                    "(dashed: equal share)"))
    return attach_data(fig, fairness=fair, fairness_summary=pd.DataFrame(rows), per_client=per_client)


def _relative_per_client(client_updates: pd.DataFrame, clients: pd.DataFrame, by: str, keys: list[str]) -> pd.DataFrame:
    """:func:`applied_per_client` with the world ``keys`` and ``relative`` (applied ÷ the run's mean per client)."""
    per_client = applied_per_client(client_updates, clients, by)
    unit = "run_id" if "run_id" in per_client.columns else "seed"
    missing = [k for k in keys if k not in per_client.columns]
    if missing:  # the clients table has no swept columns: take them from the runs' tasks
        per_run = client_updates[[unit, *missing]].drop_duplicates(unit)
        per_client = per_client.merge(per_run, on=unit, how="left")
    per_client["relative"] = per_client["applied_updates"] / per_client.groupby(unit)["applied_updates"].transform(
        "mean")
    return per_client


def _draw_fairness(ax: Axes, fair: pd.DataFrame, x: str, by: str, level: float) -> list[dict]:
    """The fairness panel: normalised Jain per run, its geometric mean per ``x`` and method; the means drawn."""
    rows = []
    xs = np.sort(fair[x].unique())
    span = 0.06 * (xs[-1] - xs[0]) if xs.size > 1 else 0.1
    methods = method_order(fair[by])
    for i, m in enumerate(methods):
        style = group_style(by, m)
        mine = fair[fair[by] == m]
        off = dodge(i, len(methods), span)
        ax.plot(mine[x] + off, mine["jain_normalised"], marker=style.marker, color=style.color, alpha=0.4,
                markersize=3.5, linestyle="none")
        for xv, g in mine.groupby(x, sort=True):
            mean, lo, hi, n = t_interval(g["jain_normalised"], level, scale="log")
            rows.append({x: xv, by: m, "mean": mean, "low": lo, "high": hi, "n": n})
        s = pd.DataFrame([r for r in rows if r[by] == m])
        ax.errorbar(s[x] + off, s["mean"], yerr=np.nan_to_num([s["mean"] - s["low"], s["high"] - s["mean"]]),
                    color=style.color, marker=style.marker, capsize=3, linestyle="none", label=group_label(by, m))
    ax.axhline(1.0, color="0.4", linewidth=0.8, linestyle="--")
    ax.set_xticks(xs)
    fit_xlabel(ax, axis_label(x))
    ax.set_ylabel("Jain's index ÷ its mean under\nuniform random participation")
    ax.set_title("fairness (1 = as even as chance)", loc="left", fontsize="medium")
    return rows


def _draw_world(ax: Axes, panel: pd.DataFrame, by: str, keys: list[str], combo: tuple) -> None:
    """One world's panel: each client's share of its run's updates against its compute time per sample."""
    for value, sub in group_frames(panel, by):
        style = group_style(by, value)
        ax.scatter(sub["seconds_per_sample"], sub["relative"], color=style.color, marker=style.marker, s=12,
                   alpha=0.55, edgecolors="none", label=group_label(by, value))
    ax.axhline(1.0, color="0.4", linewidth=0.8, linestyle="--")
    speeds = panel["seconds_per_sample"].to_numpy(float)
    if speeds.size and np.ptp(speeds) == 0 and speeds[0] > 0:  # identical devices: a window around them
        ax.set_xlim(speeds[0] / 2, speeds[0] * 2)
    log_axis(ax.xaxis)
    fit_xlabel(ax, axis_label("seconds_per_sample") + ", slower →")
    ax.set_ylabel("updates applied ÷ equal share")
    ax.set_title(", ".join(value_label(k, v) for k, v in zip(keys, combo)) or "all runs", loc="left",
                 fontsize="medium")


def plot_participation(
    client_updates: pd.DataFrame,
    clients: pd.DataFrame,
    by: str | None = None,
    ax: Axes | None = None,
    method: str | None = None,
) -> Figure:
    """Scatter of each client's applied updates against its ``seconds_per_sample`` (log x).

    Each point is one client of one run (see :func:`applied_per_client` for how rows are
    matched); clients with no applied update sit at 0. With ``by``, each group gets its
    own colour and marker (the method's, :mod:`simfl.plots.style`), and the legend gives its
    total applied updates. For runs of several worlds, prefer :func:`plot_participation_panels`.

    Args:
        client_updates: ``client_updates`` table(s).
        clients: ``clients`` table(s) with ``client_id`` and ``seconds_per_sample``.
        by: the grouping column (e.g. ``algorithm``), or None.
        ax: an existing Axes to draw into.
        method: with ``by`` None, the method of the one run drawn: its colour, and ``this run``
            in the legend (else grey, ``all runs``).

    Returns:
        The matplotlib Figure; the y-axis (counts) has integer ticks.
    """
    require_columns(clients, ["seconds_per_sample"], "clients")
    table = applied_per_client(client_updates, clients, by)
    fig, ax = axes_or_new(ax, (6.4, 4.0))
    for value, sub in group_frames(table, by):
        total = int(sub["applied_updates"].sum())
        style = group_style(by, value, method)
        ax.scatter(sub["seconds_per_sample"], sub["applied_updates"], color=style.color, marker=style.marker,
                   alpha=0.7, s=28, edgecolors="none", label=f"{group_label(by, value, method)} ({total} applied)")
    log_axis(ax.xaxis)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fit_xlabel(ax, axis_label("seconds_per_sample") + ", slower →")
    ax.set_ylabel(axis_label("applied_updates"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=font_pt("small"))
    fit_title(ax, "Who gets heard: applied updates per client against client speed")
    return attach_data(fig, per_client=table)
