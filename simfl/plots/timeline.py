"""A Gantt chart of client activity: download, compute and upload of every task, with round ends.

:func:`plot_client_timeline` draws one row per client, one bar per task phase. A task's phases
run back to back from ``dispatch_time_s``: download, compute, upload. Lost (``lost_offline``) and
discarded (``discarded_deadline``) tasks are cut at their ``end_time_s`` and marked there (a cross
and a bar respectively); in-flight tasks (no ``end_time_s``) are cut at ``t_max``; phases with a
NaN duration (those a lost task never started) are not drawn. Offline intervals are shaded grey,
busy (slowed-down) intervals pale indigo behind the bars; idle time is blank. Phase colours are
ones no method uses (:data:`~simfl.plots.style.PHASE_COLORS`).

Synchronous runs (a ``round`` column, see :func:`round_table`): each round's end is a dotted
vertical line (gid ``round/<r>``), and each round's straggler (its last arrival) is always among
the rows shown, its label in bold. A note in the legend's title says how many of the clients are
shown and how they were picked.

Overlays show where time went, when the table has the columns: the last ``download_wait_s`` /
``upload_wait_s`` seconds of a transfer (time spent waiting for the shared server link, included
in ``download_s`` / ``upload_s``) are hatched in the phase's colour, and the last
``compute_s - compute_work_s`` seconds of a compute bar (the time it was stretched by slowdowns,
when positive, and only when the compute finished: the upload has a duration) are a lighter
orange. They are clipped like their phase. They show how much, not exactly when: contention and
slowdown may have struck earlier in the phase (the busy shading shows when the client was slowed).

The legend (below the axes, or in them when ``ax`` is given) names only the phases, overlays,
shadings and markers drawn in the window. Bars are drawn with one ``broken_barh`` call per
(client, kind), so thousands of tasks draw quickly. Each bar collection's ``gid`` is
``"<kind>/<client_id>"``, kind one of ``download``, ``compute``, ``upload``, ``wait_download``,
``wait_upload``, ``slowed_compute``, ``offline``, ``busy``; the end markers are the lines with
gid ``lost`` and ``discarded``; events are drawn by :func:`~simfl.plots._common.draw_events`
(gids ``event/<i>``, ``event_label/<i>``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from simfl.plots._common import (
    Events,
    attach_data,
    axes_or_new,
    draw_events,
    fit_title,
    fit_xlabel,
    font_pt,
    legend_columns,
    require_columns,
    tick_font_size,
)
from simfl.plots.labels import axis_label, client_labels, wrap
from simfl.plots.style import NEUTRAL, PHASE_COLORS

__all__ = ["plot_client_timeline", "PHASES", "timeline_clients", "round_table"]

#: Task phases in the order they run from dispatch, with their duration column and colour
#: (:data:`~simfl.plots.style.PHASE_COLORS`: colours no method uses).
PHASES = (("download", "download_s", PHASE_COLORS["download"]), ("compute", "compute_s", PHASE_COLORS["compute"]),
          ("upload", "upload_s", PHASE_COLORS["upload"]))
_OFFLINE_COLOR = "0.82"
_HATCH = "////"


def _tint(color: str, amount: float) -> tuple[float, float, float]:
    """``color`` moved ``amount`` of the way to white."""
    return tuple(c + (1.0 - c) * amount for c in to_rgb(color))


_COLOR = {name: color for name, _, color in PHASES}
_BUSY_COLOR = _tint(_COLOR["compute"], 0.8)  # pale: a period of the client, behind its bars
_SLOWED_COLOR = _tint(_COLOR["compute"], 0.5)  # the stretched part of a compute bar
_LOST = dict(marker="x", color="black", markersize=7, markeredgewidth=2, linestyle="none")
_DISCARDED = dict(marker="|", color="black", markersize=11, markeredgewidth=2.5, linestyle="none")
_CUT_AT_END = ("lost_offline", "discarded_deadline")


def round_table(client_updates: pd.DataFrame) -> pd.DataFrame:
    """The synchronous rounds of a run: ``round``, ``start_s``, ``end_s``, ``straggler`` (client id).

    From the ``round`` column (NA for asynchronous methods: then the table is empty). A round
    starts at its first dispatch and ends at its last task's end (arrival, loss or discard;
    NaN while one is still in flight). Its *straggler* is the client of its last arrival (the
    task the round waited for), or of its last task to end when none arrived; in a round still
    running at the stop, the in-flight task with the latest planned end.
    """
    columns = ["round", "start_s", "end_s", "straggler"]
    if "round" not in client_updates.columns:
        return pd.DataFrame(columns=columns)
    tasks = client_updates[client_updates["round"].notna()]
    rows = []
    for r, g in tasks.groupby("round", sort=True):
        end = g["end_time_s"].to_numpy(dtype=float)
        arrival = (g["arrival_time_s"] if "arrival_time_s" in g.columns else g["end_time_s"] * np.nan).to_numpy(float)
        planned = g["dispatch_time_s"].to_numpy(dtype=float) + sum(g[c].to_numpy(dtype=float) for _, c, _ in PHASES)
        if np.isnan(end).any():  # still running at the stop: the round waits for the latest planned end
            pick = np.where(np.isnan(end), planned, np.nan)
        else:
            pick = arrival if np.isfinite(arrival).any() else end
        last = int(np.nanargmax(pick)) if np.isfinite(pick).any() else None
        rows.append({"round": int(r), "start_s": float(g["dispatch_time_s"].min()),
                     "end_s": float(end.max()) if np.isfinite(end).all() else np.nan,
                     "straggler": int(g["client_id"].iloc[last]) if last is not None else -1})
    return pd.DataFrame(rows, columns=columns)


def timeline_clients(
    client_updates: pd.DataFrame, clients: pd.DataFrame | None, max_clients: int, keep: Sequence[int] = ()
) -> pd.DataFrame:
    """The clients shown, one row each in display order (top first): ``client_id``, ``label``, ``kept``.

    With ``clients``, rows are ordered by ``seconds_per_sample``, fastest first, and labelled with
    the client's name (its ``client_name``, shortened; else its id) and speed. Every client in
    ``keep`` (e.g. the rounds' stragglers) is shown, even beyond ``max_clients``; the remaining
    rows up to ``max_clients`` are evenly spaced ranks of the others (fastest and slowest
    included). Without ``clients``, the ``keep`` clients and then the lowest client ids that have
    tasks are shown, by id. ``kept`` marks the ``keep`` rows.
    """
    if max_clients < 1:
        raise ValueError(f"max_clients must be at least 1, got {max_clients}")
    keep = list(dict.fromkeys(int(c) for c in keep))
    if clients is not None:
        require_columns(clients, ["client_id", "seconds_per_sample"], "clients")
        ranked = clients.sort_values(["seconds_per_sample", "client_id"], kind="stable").reset_index(drop=True)
        must = ranked["client_id"].isin(keep).to_numpy()
        rest = np.flatnonzero(~must)
        room = max(max_clients - int(must.sum()), 0)
        if len(rest) > room:
            rest = rest[np.unique(np.linspace(0, len(rest) - 1, room).round().astype(int))] if room else rest[:0]
        ranked = ranked.iloc[np.sort(np.concatenate([np.flatnonzero(must), rest]))]
        ids = ranked["client_id"].to_numpy()
        names, _ = client_labels(ids, clients)
        labels = [f"{name}: {s:.2g} s/sample" for name, s in zip(names, ranked["seconds_per_sample"])]
    else:
        others = [c for c in np.sort(client_updates["client_id"].unique()) if int(c) not in keep]
        ids = np.sort(np.array(keep + others[: max(max_clients - len(keep), 0)], dtype=np.int64))
        labels = [str(c) for c in ids]
    return pd.DataFrame({"client_id": ids, "label": labels, "kept": np.isin(ids, keep)})


def _default_t_max(client_updates: pd.DataFrame, t_min: float) -> float:
    """The latest dispatch or end time; failing that, the latest planned task end."""
    times = client_updates[["dispatch_time_s", "end_time_s"]].to_numpy(dtype=float)
    latest = np.nanmax(times) if np.isfinite(times).any() else -np.inf
    if latest <= t_min:
        planned = client_updates["dispatch_time_s"] + sum(client_updates[col] for _, col, _ in PHASES)
        latest = planned.max() if len(planned) else -np.inf
    return float(latest) if np.isfinite(latest) and latest > t_min else t_min + 1.0


def _overlay(tasks: pd.DataFrame, name: str, color: str, duration: np.ndarray) -> tuple[str, np.ndarray, dict] | None:
    """The overlay on phase ``name``: ``(kind, seconds at the end of the phase, style)``, or None
    when the table lacks its column (results written before it existed)."""
    if name == "compute":
        if "compute_work_s" not in tasks.columns:
            return None
        extra = duration - tasks["compute_work_s"].to_numpy(dtype=float)
        # Only for a compute that ran to its end (the upload has a duration): one cut short records
        # the part done, which is not comparable with the whole work. Rounding is no slowdown.
        finished = np.isfinite(tasks["upload_s"].to_numpy(dtype=float))
        extra = np.where(finished & (extra > 1e-9 * duration), extra, 0.0)
        return "slowed_compute", extra, dict(facecolors=_SLOWED_COLOR)
    col = f"{name}_wait_s"
    if col not in tasks.columns:
        return None
    return f"wait_{name}", tasks[col].to_numpy(dtype=float), dict(facecolors=_tint(color, 0.6), hatch=_HATCH,
                                                                  edgecolor=color)


def _task_layers(tasks: pd.DataFrame, t_min: float, cut: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray, dict]]:
    """``(kind, a, b, style)`` per bar layer: each task's bar of that kind spans ``[a, b)``.

    Phases run back to back from dispatch, each clipped to ``[t_min, cut)``; an overlay is the
    last seconds of its phase (never more than the phase), clipped likewise. A NaN duration
    gives NaN bounds, here and in every later phase, which the caller skips (``b > a`` is False).
    """
    layers = []
    start = tasks["dispatch_time_s"].to_numpy(dtype=float)
    for name, col, color in PHASES:
        duration = tasks[col].to_numpy(dtype=float)
        stop = start + duration
        layers.append((name, np.maximum(start, t_min), np.minimum(stop, cut), dict(facecolors=color)))
        overlay = _overlay(tasks, name, color, duration)
        if overlay is not None:
            kind, extra, style = overlay
            tail = stop - np.minimum(extra, duration)
            layers.append((kind, np.maximum(tail, t_min), np.minimum(stop, cut), dict(zorder=1.5, **style)))
        start = stop
    return layers


def plot_client_timeline(
    client_updates: pd.DataFrame,
    offline: pd.DataFrame | None = None,
    clients: pd.DataFrame | None = None,
    t_min: float = 0.0,
    t_max: float | None = None,
    max_clients: int = 30,
    ax: Axes | None = None,
    busy: pd.DataFrame | None = None,
    events: Events | None = None,
    title: str | None = None,
) -> Figure:
    """Gantt chart of one run: one row per client, one bar per task phase (what it draws: the module docstring).

    Args:
        client_updates: the ``client_updates`` table of one run.
        offline: offline intervals, columns ``client_id, start_s, end_s``; None: none drawn.
        clients: the ``clients`` table; when given, rows are sorted by ``seconds_per_sample``
            (fastest at the top) and labelled with client name (else id) and speed.
        t_min: left end of the time window (simulated s).
        t_max: right end, normally the run's end; None: the latest dispatch or end time in
            ``client_updates``.
        max_clients: most rows shown besides the stragglers (see :func:`timeline_clients` for which).
        ax: an existing Axes to draw into.
        busy: slowdown (busy) intervals, columns ``client_id, start_s, end_s``; None: none drawn.
        events: ``(time_s, label)`` marked by labelled dashed vertical lines across all rows
            (e.g. concept drift times); those outside the window are skipped.
        title: the axes title (default: ``Client activity per task``).

    Returns:
        The matplotlib Figure; ``fig.data``: ``rows`` (:func:`timeline_clients`) and ``rounds``.
    """
    shades = _checked_shades(client_updates, offline, busy)
    if t_max is None:
        t_max = _default_t_max(client_updates, t_min)
    if not t_max > t_min:
        raise ValueError(f"t_max ({t_max}) must be greater than t_min ({t_min})")
    rounds = round_table(client_updates)
    in_window = rounds[(rounds["start_s"] < t_max) & ~(rounds["end_s"] < t_min)]
    stragglers = in_window["straggler"][in_window["straggler"] >= 0]
    rows = timeline_clients(client_updates, clients, max_clients, keep=stragglers)
    fig_is_ours = ax is None
    fig, ax = axes_or_new(ax, (10.0, 1.6 + 0.28 * max(len(rows), 2)))
    tasks = client_updates[client_updates["client_id"].isin(rows["client_id"])]
    present = _draw_bars(ax, rows, tasks, shades, t_min, t_max)
    present |= _draw_round_ends(ax, rounds, t_min, t_max)
    present |= _draw_end_markers(ax, rows, tasks, t_min, t_max)
    _format_axes(ax, rows, clients is not None, t_min, t_max)
    draw_events(ax, events)
    note = _sampling_note(rows, client_updates, clients, len(rounds) > 0)
    _draw_legend(fig, ax, _legend_handles(present), note, below=fig_is_ours)
    # the client labels take ~1.4 in left of the bars: the title centred over them fits the rest
    fit_title(ax, title if title is not None else "Client activity per task",
              width_in=max(fig.get_figwidth() - 1.4, 2.0) if fig_is_ours else None)
    return attach_data(fig, rows=rows, rounds=rounds)


def _checked_shades(client_updates: pd.DataFrame, offline: pd.DataFrame | None,
                    busy: pd.DataFrame | None) -> list[tuple[str, pd.DataFrame, object]]:
    """``(kind, intervals, colour)`` of the shadings given, busy first; every table's columns checked."""
    need = ["client_id", "dispatch_time_s", "end_time_s", "status"] + [col for _, col, _ in PHASES]
    require_columns(client_updates, need, "client_updates")
    shades = [(kind, table, color) for kind, table, color in
              (("busy", busy, _BUSY_COLOR), ("offline", offline, _OFFLINE_COLOR)) if table is not None]
    for kind, table, _ in shades:
        require_columns(table, ["client_id", "start_s", "end_s"], kind)
    return shades


def _task_cut(tasks: pd.DataFrame, t_max: float) -> np.ndarray:
    """Where each task's bars stop: lost/discarded at their end, in-flight at t_max, others never early."""
    status = tasks["status"].astype(str).to_numpy()
    end = tasks["end_time_s"].to_numpy(dtype=float)
    cut = np.where(np.isin(status, _CUT_AT_END), end, np.where(np.isnan(end), t_max, np.inf))
    return np.minimum(cut, t_max)


def _draw_bars(ax: Axes, rows: pd.DataFrame, tasks: pd.DataFrame, shades: list, t_min: float,
               t_max: float) -> set[str]:
    """Each row's task bars, then its shadings (offline last: it covers busy); the kinds drawn."""
    layers = [(kind, a, b, b > a, style) for kind, a, b, style in _task_layers(tasks, t_min, _task_cut(tasks, t_max))]
    cid = tasks["client_id"].to_numpy()
    present: set[str] = set()  # the kinds of bar and marker drawn: the legend names these only
    for row, client in enumerate(rows["client_id"]):
        mine = cid == client
        for kind, a, b, drawn, style in layers:
            keep = mine & drawn
            if keep.any():
                coll = ax.broken_barh(np.column_stack([a[keep], b[keep] - a[keep]]), (row - 0.35, 0.7),
                                      **{"edgecolor": "none", "linewidth": 0, **style})
                coll.set_gid(f"{kind}/{client}")
                present.add(kind)
        for kind, table, color in shades:
            mine_t = table[table["client_id"] == client]
            a = np.maximum(mine_t["start_s"].to_numpy(dtype=float), t_min)
            b = np.minimum(mine_t["end_s"].to_numpy(dtype=float), t_max)
            keep = b > a
            if keep.any():
                coll = ax.broken_barh(np.column_stack([a[keep], b[keep] - a[keep]]), (row - 0.5, 1.0),
                                      facecolors=color, edgecolor="none", zorder=0)
                coll.set_gid(f"{kind}/{client}")
                present.add(kind)
    return present


def _draw_round_ends(ax: Axes, rounds: pd.DataFrame, t_min: float, t_max: float) -> set[str]:
    """A dotted line at the end of each round inside the window (gid ``round/<r>``)."""
    present = set()
    for r, t_end in zip(rounds["round"], rounds["end_s"]):
        if t_min < t_end < t_max:
            ax.axvline(t_end, color=NEUTRAL, linestyle=":", linewidth=0.8, zorder=2.4, gid=f"round/{r}")
            present.add("round")
    return present


def _draw_end_markers(ax: Axes, rows: pd.DataFrame, tasks: pd.DataFrame, t_min: float, t_max: float) -> set[str]:
    """A cross where a task was lost, a bar where one was discarded (lines with gid ``lost``, ``discarded``)."""
    status = tasks["status"].astype(str).to_numpy()
    end = tasks["end_time_s"].to_numpy(dtype=float)
    cid = tasks["client_id"].to_numpy()
    row_of = dict(zip(rows["client_id"], range(len(rows))))
    in_window = (end >= t_min) & (end <= t_max)
    present = set()
    for gid, label, style in (("lost", "lost_offline", _LOST), ("discarded", "discarded_deadline", _DISCARDED)):
        pick = (status == label) & in_window
        ys = [row_of[c] for c in cid[pick]]
        (line,) = ax.plot(end[pick], ys, zorder=3, **style)
        line.set_gid(gid)
        if pick.any():
            present.add(gid)
    return present


def _format_axes(ax: Axes, rows: pd.DataFrame, by_speed: bool, t_min: float, t_max: float) -> None:
    """The window, one labelled row per client (fastest at the top, stragglers in bold), the axis labels."""
    n_rows = len(rows)
    ax.set_xlim(t_min, t_max)
    ax.set_ylim(n_rows - 0.5, -0.5)  # first row (fastest) at the top
    ax.set_yticks(range(n_rows), rows["label"], fontsize=tick_font_size(n_rows > 15))
    for tick, kept in zip(ax.get_yticklabels(), rows["kept"]):
        if kept:
            tick.set_fontweight("bold")
    fit_xlabel(ax, axis_label("sim_time_s"))
    ax.set_ylabel("client: compute time per sample" if by_speed else "client")
    ax.grid(axis="x", alpha=0.3)


def _draw_legend(fig: Figure, ax: Axes, handles: list, note: str, below: bool) -> None:
    """The legend titled with the sampling note: below the axes (out of the bars' way) or in them."""
    if below:
        size = font_pt("small")
        ncol = legend_columns([h.get_label() for h in handles], fig.get_figwidth(), size, most=5)
        fig.legend(handles=handles, loc="outside lower center", ncol=ncol, fontsize=size,
                   frameon=False, title=wrap(note, fig.get_figwidth(), size + 0.5), title_fontsize=size)
    else:
        ax.legend(handles=handles, loc="upper right", fontsize="small", title=note, title_fontsize="small")


def _legend_handles(present: set[str]) -> list:
    """Legend entries of the kinds of bar and marker drawn (``present``), in a fixed order."""
    handles: list = [Patch(color=color, label=name) for name, _, color in PHASES if name in present]
    if present & {"wait_download", "wait_upload"}:
        handles.append(Patch(facecolor="white", edgecolor="0.3", hatch=_HATCH, label="waiting for the server link"))
    if "slowed_compute" in present:
        handles.append(Patch(color=_SLOWED_COLOR, label="compute slowed"))
    if "busy" in present:
        handles.append(Patch(color=_BUSY_COLOR, label="busy (slowed down)"))
    if "offline" in present:
        handles.append(Patch(color=_OFFLINE_COLOR, label="offline"))
    if "lost" in present:
        handles.append(Line2D([], [], label="lost (went offline)", **_LOST))
    if "discarded" in present:
        handles.append(Line2D([], [], label="discarded (by the server)", **_DISCARDED))
    if "round" in present:
        handles.append(Line2D([], [], color=NEUTRAL, linestyle=":", label="end of a round"))
    return handles


def _sampling_note(rows: pd.DataFrame, client_updates: pd.DataFrame, clients: pd.DataFrame | None,
                   synchronous: bool) -> str:
    total = len(clients) if clients is not None else int(client_updates["client_id"].nunique())
    if len(rows) >= total:
        note = f"all {total} clients shown"
    else:
        how = "evenly spaced by speed" if clients is not None else "lowest ids"
        note = f"{len(rows)} of {total} clients shown ({how})"
    if clients is not None:
        note += ", fastest at the top"
    if synchronous:
        note += "; bold: a round's straggler (its last arrival), always shown"
    return note
