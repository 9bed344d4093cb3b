"""Convergence against simulated wall-clock time: one line per run (e.g. per algorithm)."""

from __future__ import annotations

from typing import Mapping

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from simfl.plots._common import Events, axes_or_new, check_events_axis, draw_events, fit_title, fit_xlabel
from simfl.plots.labels import KEY_LABELS, axis_label, method_label
from simfl.plots.style import method_order, method_style, register_methods

__all__ = ["plot_convergence", "LABELS", "COUNT_COLUMNS"]

#: Columns that count things (integer ticks on their axis).
COUNT_COLUMNS = ("client_updates", "server_version")

#: Axis labels of the columns and config keys plots use (the same mapping as
#: :data:`simfl.plots.labels.KEY_LABELS`; set entries with :func:`simfl.plots.labels.set_label`).
LABELS = KEY_LABELS


def plot_convergence(
    evals: Mapping[str, pd.DataFrame],
    y: str = "test_accuracy",
    x: str = "sim_time_s",
    title: str | None = None,
    ax=None,
    events: Events | None = None,
) -> Figure:
    """Plot ``y`` against ``x`` for each named ``evals`` table (one line each).

    A label that names a method (``fedavg``, a plugin ``pkg.mod:Name``) gets the method's
    colour, marker and display name (:mod:`simfl.plots.style`, :mod:`simfl.plots.labels`);
    lines come in :func:`~simfl.plots.style.method_order`. Axes of counts
    (:data:`COUNT_COLUMNS`) have integer ticks.

    Args:
        evals: label → an ``evals`` table (``RunResult.evals``).
        y: column to plot (``test_accuracy``, ``test_loss``, ``server_version``, ...).
        x: column on the horizontal axis (``sim_time_s`` or ``client_updates``).
        title: figure title.
        ax: an existing matplotlib Axes to draw into.
        events: ``(time_s, label)`` to mark with labelled dashed vertical lines (e.g. concept
            drift times; see :func:`~simfl.plots._common.draw_events`); only with
            ``x="sim_time_s"``.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: ``events`` given with an ``x`` other than ``sim_time_s``.
    """
    check_events_axis(events, x)
    fig, ax = axes_or_new(ax, (6.4, 4.0))
    register_methods(evals)
    for label in method_order(evals):
        df = evals[label]
        style = method_style(label)
        ax.plot(df[x], df[y], label=method_label(label), color=style.color, marker=style.marker,
                markevery=max(1, len(df) // 8), markersize=4.5,
                drawstyle="steps-post" if y == "server_version" else "default")
    for axis, column in ((ax.xaxis, x), (ax.yaxis, y)):
        if column in COUNT_COLUMNS:
            axis.set_major_locator(MaxNLocator(integer=True))
    fit_xlabel(ax, axis_label(x))
    ax.set_ylabel(axis_label(y))
    ax.grid(alpha=0.3)
    ax.legend()
    draw_events(ax, events)
    if title:
        fit_title(ax, title)
    return fig
