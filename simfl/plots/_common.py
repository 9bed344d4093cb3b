"""Helpers shared by the plots: figures and panels, column checks, grouping, styles, legends, events."""

from __future__ import annotations

import math

from typing import Any, Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simfl.plots.labels import method_label, method_names, value_label, wrap
from simfl.plots.style import (
    METHOD_MARKERS,
    NEUTRAL,
    MethodStyle,
    current_size,
    method_order,
    method_style,
    register_methods,
)

__all__ = [
    "axes_or_new",
    "panel_grid",
    "fit_title",
    "fit_xlabel",
    "legend_columns",
    "require_columns",
    "group_frames",
    "group_label",
    "group_style",
    "group_color",
    "short_key",
    "MARKERS",
    "format_value",
    "attach_data",
    "shared_legend",
    "set_suptitle",
    "dodge",
    "log_axis",
    "ratio_axis",
    "matching",
    "Events",
    "draw_events",
    "check_events_axis",
    "MIN_FONT_PT",
    "font_pt",
    "tick_font_size",
]

#: The smallest text a figure draws (tick labels, legends), in points: readable in print.
MIN_FONT_PT = 7.0

#: Events to mark on a time axis: ``(time_s, label)`` pairs (e.g. concept drift times).
Events = Sequence[tuple[float, str]]

#: Columns whose values are methods (drawn with :func:`~simfl.plots.style.method_style`).
METHOD_COLUMNS = ("algorithm", "algorithm.type", "label", "method")

_EVENT_COLOR = "0.2"


def axes_or_new(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or a new constrained-layout figure of ``figsize`` inches (of the
    :func:`~simfl.plots.style.size_context` width, when one is in force; the height kept)."""
    if ax is None:
        width = current_size()
        fig, ax = plt.subplots(figsize=(width or figsize[0], figsize[1]), layout="constrained")
        return fig, ax
    return ax.figure, ax


def panel_grid(n: int, ncols: int = 3, panel: tuple[float, float] = (3.3, 2.6), min_width: float = 1.5,
               **kw) -> tuple[Figure, list[Axes]]:
    """A constrained-layout figure with ``n`` panels (``ncols`` per row at most); unused ones hidden.

    Under a :func:`~simfl.plots.style.size_context`, the figure is that wide, with as many columns
    as fit panels at least ``min_width`` inches wide, each panel keeping ``panel``'s aspect.
    """
    width = current_size()
    if width is not None:
        ncols = max(1, min(ncols, n, int(width // min_width)))
        panel = (width / ncols, max(1.6, panel[1] * width / ncols / panel[0]))
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows + 0.4), squeeze=False,
                             layout="constrained", **kw)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _panel_width(ax: Axes) -> float:
    """Width (inches) of the grid cell of ``ax``: its figure's width over the grid's columns."""
    spec = ax.get_subplotspec()
    ncols = spec.get_gridspec().ncols if spec is not None else 1
    return ax.figure.get_figwidth() * (spec.colspan.stop - spec.colspan.start if spec is not None else 1) / ncols


def fit_title(ax: Axes, text: str, width_in: float | None = None, **kw) -> None:
    """``ax``'s title, wrapped to ``width_in`` inches (default: ~80 % of its panel's width, room for
    the tick labels beside it)."""
    size = font_pt(plt.rcParams["axes.titlesize"])
    ax.set_title(wrap(text, width_in or 0.8 * _panel_width(ax), size), **kw)


def fit_xlabel(ax: Axes, text: str) -> None:
    """``ax``'s x-axis label, wrapped to ~90 % of its panel's width."""
    size = font_pt(plt.rcParams["axes.labelsize"])
    ax.set_xlabel(wrap(text, 0.9 * _panel_width(ax), size))


def legend_columns(labels: Sequence[str], width_in: float, fontsize: float, most: int = 4) -> int:
    """How many legend columns of ``labels`` fit ``width_in`` inches at ``fontsize`` pt (at most ``most``)."""
    longest = max((len(t) for t in labels), default=1)
    entry = longest * 0.55 * fontsize / 72 + 0.55  # text, plus handle and spacing
    return max(1, min(len(labels), most, int(width_in // entry)))


def font_pt(size: Any) -> float:
    """``size`` (points, or a name like ``small`` relative to ``font.size``) in points, at least
    :data:`MIN_FONT_PT`."""
    from matplotlib.font_manager import FontProperties

    return max(MIN_FONT_PT, float(FontProperties(size=size).get_size_in_points()))


def tick_font_size(dense: bool = False) -> float:
    """Tick label size in points: the style's (``ytick.labelsize``), one step smaller when ``dense``,
    never below :data:`MIN_FONT_PT`."""
    size = font_pt(plt.rcParams["ytick.labelsize"])
    return font_pt(size / 1.2) if dense else size


def require_columns(df: pd.DataFrame, columns: Iterable[str | None], table: str) -> None:
    """Raise a ValueError naming the first missing column of ``df`` and the available ones."""
    for col in columns:
        if col is not None and col not in df.columns:
            raise ValueError(f"{table} has no column {col!r}; available columns: {', '.join(map(str, df.columns))}")


def group_frames(df: pd.DataFrame, by: str | None) -> list[tuple[Any, pd.DataFrame]]:
    """``[(value, rows)]`` for each value of ``by``; ``[(None, df)]`` if ``by`` is None.

    Methods come in :func:`~simfl.plots.style.method_order` (the same in every figure), other
    values sorted (NaN last).
    """
    if by is None:
        return [(None, df)]
    groups = [(key, sub) for key, sub in df.groupby(by, sort=True, dropna=False, observed=True)]
    register_methods([format_value(k) for k, _ in groups])
    if by in METHOD_COLUMNS or all(isinstance(k, str) for k, _ in groups):
        order = method_order([k for k, _ in groups])
        groups.sort(key=lambda g: order.index(g[0]))
    return groups


def format_value(value: Any) -> str:
    """A group value as text: numbers with ``:g``, NaN/None as ``none``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "none"
    if isinstance(value, (float, np.floating)):
        return f"{value:g}"
    return str(value)


def group_label(by: str | None, value: Any, method: Any = None) -> str:
    """Legend text of a group: a method's display name, else ``symbol = value``; without groups
    (``by`` None), ``this run`` when ``method`` names the one run's method, else ``all runs``."""
    if by is None:
        return "all runs" if method is None else "this run"
    if by in METHOD_COLUMNS or isinstance(value, str):
        return method_label(value)
    return value_label(by, value)


def short_key(key: str) -> str:
    """The last two parts of a dotted config key; prefer :func:`~simfl.plots.labels.axis_label` in figures."""
    return ".".join(str(key).split(".")[-2:])


#: Marker shapes (kept for modules that cycle markers by position; methods use :func:`group_style`).
MARKERS = METHOD_MARKERS


def group_color(i: int) -> Any:
    """Colour of the ``i``-th group from the current property cycle (for groups that are not methods;
    methods use :func:`group_style`, the same colour in every figure)."""
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    return cycle[i % len(cycle)]


def group_style(by: str | None, value: Any, method: Any = None) -> MethodStyle:
    """The colour and marker of a group: the method's own (stable by name) for every value; without
    groups (``by`` None), those of ``method`` (one run's method), else neutral grey."""
    if by is None:
        return MethodStyle(NEUTRAL, "o") if method is None else method_style(format_value(method))
    return method_style(format_value(value))


def attach_data(fig: Figure, **frames: pd.DataFrame) -> Figure:
    """Add ``frames`` to ``fig.data`` (a dict of the DataFrames the figure drew), and return ``fig``."""
    data = getattr(fig, "data", None)
    if not isinstance(data, dict):
        data = {}
        fig.data = data
    data.update(frames)
    return fig


def shared_legend(fig: Figure, axes: Sequence[Axes], title: str | None = None, ncol: int | None = None,
                  extra: Sequence = ()) -> None:
    """One legend for the whole figure, below the panels: the unique entries of ``axes`` plus ``extra`` handles.

    Axes legends are removed. Entries of built-in methods come first, in
    :func:`~simfl.plots.style.method_order` (whichever panel drew them first); the others keep
    the order in which they first appear. ``title`` (wrapped
    to the figure's width) is where a figure names its statistical method.
    """
    seen: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if not label.startswith("_") and label not in seen:
                seen[label] = handle
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    for handle in extra:
        seen.setdefault(handle.get_label(), handle)
    if not seen:
        return
    seen = dict(sorted(seen.items(), key=lambda item: _legend_rank(item[0])))
    size = font_pt("small")
    fit = legend_columns(list(seen), fig.get_figwidth(), size, most=ncol or 4)
    legend = fig.legend(list(seen.values()), list(seen.keys()), loc="outside lower center", ncol=fit, fontsize=size,
                        title=wrap(title, fig.get_figwidth(), size + 0.5) if title else None,
                        title_fontsize=size, frameon=False)
    legend.get_title().set_multialignment("center")


def _legend_rank(label: str) -> int:
    """Position of a legend entry: a built-in method's (``FedAvg``, ``FedAvg (n=5)``, ``FedAvg, α = 1``),
    else after all of them."""
    names = [method_label(m) for m in method_order(method_names())]
    for i, name in enumerate(names):
        if label == name or label.startswith((name + " ", name + ",", name + ":")):
            return i
    return len(names)


def set_suptitle(fig: Figure, text: str) -> None:
    """A figure title wrapped to the figure's width (never clipped)."""
    size = plt.rcParams["figure.titlesize"]
    fig.suptitle(wrap(text, fig.get_figwidth(), size if isinstance(size, (int, float)) else 12.0))


def log_axis(axis) -> None:
    """Log scale with plain tick labels (``0.01``, ``0.1``, ``2``), no minor labels.

    Call it once the data are drawn: ticks at 1, 2, 5 per decade over less than two decades,
    else at the powers of ten.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if axis is axis.axes.xaxis:
        axis.axes.set_xscale("log")
    else:
        axis.axes.set_yscale("log")
    lo, hi = sorted(axis.get_view_interval())
    decades = np.log10(hi / lo) if lo > 0 and hi > 0 else 3.0
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades < 2 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def ratio_axis(axis) -> None:
    """Log scale for a ratio: ticks at the powers of 2 (``0.25``, ``0.5``, ``1``, ``2``, ``4``) up to
    :data:`_RATIO_OCTAVES` octaves of view, at the powers of 4 up to twice that, else as
    :func:`log_axis`; plain labels, no minor labels.

    Call it once the data are drawn and the limits set: halves and quarters are labelled as
    plainly as doubles, so a ratio below 1 reads as well as one above.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    log_axis(axis)
    lo, hi = sorted(axis.get_view_interval())
    octaves = np.log2(hi / lo) if lo > 0 else math.inf
    if octaves <= 2 * _RATIO_OCTAVES:  # powers of 2, or of 4 in a wider view (0.0625, 0.25, 1, 4, ...)
        base = 2 if octaves <= _RATIO_OCTAVES else 4
        axis.set_major_locator(LogLocator(base=base, subs=(1.0,), numticks=_RATIO_OCTAVES + 3))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


#: Widest view (in octaves) whose ratio ticks are the powers of 2 (at most 7 ticks).
_RATIO_OCTAVES = 6


def dodge(i: int, n: int, span: float) -> float:
    """Horizontal offset of the ``i``-th of ``n`` groups drawn at one x (centred, ``span`` apart)."""
    return (i - (n - 1) / 2) * span


def matching(df: pd.DataFrame, keys: Sequence[str], combo: Sequence) -> pd.DataFrame:
    """Rows where every key equals ``combo`` (NaN matching NaN: a swept ``null``)."""
    ok = pd.Series(True, index=df.index)
    for k, v in zip(keys, combo):
        ok &= (df[k].isna() & pd.isna(v)) if pd.isna(v) else (df[k] == v)
    return df[ok.to_numpy()]


def check_events_axis(events: Events | None, x: str) -> None:
    """Events are times: raise a ValueError when some are given for an ``x`` other than ``sim_time_s``."""
    if events and x != "sim_time_s":
        raise ValueError(f"events are simulated times; they cannot be drawn against x={x!r}")


def draw_events(ax: Axes, events: Events | None) -> None:
    """A labelled dashed vertical line at each event time within the current x-limits.

    Call it after the data are drawn: events outside the x-limits are skipped, so they never
    widen the axes. Line ``i`` (position in ``events``) has gid ``event/<i>`` and its label, a
    small vertical text at the top of the axes left of the line, gid ``event_label/<i>``. The
    lines carry no legend label.
    """
    if not events:
        return
    lo, hi = sorted(ax.get_xlim())
    for i, (t, label) in enumerate(events):
        if not lo <= t <= hi:
            continue
        line = ax.axvline(t, color=_EVENT_COLOR, linestyle="--", linewidth=1.0, zorder=2.5)
        line.set_gid(f"event/{i}")
        text = ax.text(t, 0.98, label, transform=ax.get_xaxis_transform(), rotation=90, ha="right", va="top",
                       fontsize="x-small", color=_EVENT_COLOR, zorder=2.6,
                       bbox=dict(facecolor="white", alpha=0.7, edgecolor="none", pad=1.0))
        text.set_gid(f"event_label/{i}")
