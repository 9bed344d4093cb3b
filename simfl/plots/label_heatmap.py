"""What each client holds: the client x label heatmap of a label-count table.

The table is ``simfl partition``'s (``client_id``, ``client_name``, ``label``, ``count``; one
row per client and label present, see :mod:`simfl.data.inventory`). Rows are labelled with the
clients' names (LEAF users, the data's client ids; shortened past
:data:`~simfl.plots.labels.NAME_WIDTH` characters), or their ids when the table has no names. Clients are drawn as rows sorted by
their dominant label (the one they hold most of; ties to the smaller label), then by that
label's share (largest first), then by ``client_id``, so label skew shows as a staircase of
blocks. Beyond ``max_rows`` clients, consecutive clients of that order are pooled into
``max_rows`` rows of equal size up to one.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simfl.plots._common import axes_or_new, fit_title, require_columns, tick_font_size
from simfl.plots.labels import client_labels

__all__ = ["HeatmapData", "heatmap_data", "partition_heatmap", "row_ticks", "MAX_ROWS"]

#: Most rows drawn; more clients are pooled into this many rows.
MAX_ROWS = 100

#: Vertical room of a row's tick label, in multiples of its font size.
_TICK_PITCH = 1.25

Value = Literal["share", "count"]


class HeatmapData(NamedTuple):
    """The numbers behind :func:`partition_heatmap`."""

    values: np.ndarray  # float64 (rows, labels): what the colours show
    labels: np.ndarray  # the label of each column, increasing
    rows: list[np.ndarray]  # the client ids pooled into each row (one each unless pooled)
    value: str  # "share" or "count"

    @property
    def pooled(self) -> bool:
        """Whether some row pools more than one client."""
        return any(len(r) > 1 for r in self.rows)


def heatmap_data(counts: pd.DataFrame, value: Value = "share", max_rows: int = MAX_ROWS) -> HeatmapData:
    """The matrix :func:`partition_heatmap` draws.

    Args:
        counts: a label-count table (``client_id``, ``label``, ``count``).
        value: ``share``: a row's samples of each label over all its samples (pooled rows:
            the pooled clients' counts summed, then divided); ``count``: training samples of
            each label (pooled rows: mean over the pooled clients).
        max_rows: most rows; more clients are pooled in the sorted order (see the module).

    Returns:
        The values, column labels, and client ids of every row, in drawing order (top first).
    """
    require_columns(counts, ["client_id", "label", "count"], "label counts")
    if value not in ("share", "count"):
        raise ValueError(f"value must be 'share' or 'count', not {value!r}")
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, not {max_rows}")
    table = counts.pivot_table(index="client_id", columns="label", values="count", aggfunc="sum", fill_value=0)
    table = table.sort_index().sort_index(axis=1)
    matrix = table.to_numpy(dtype=np.float64)
    sizes = matrix.sum(axis=1)
    dominant = matrix.argmax(axis=1) if matrix.size else np.zeros(0, dtype=np.int64)
    top_share = np.divide(matrix.max(axis=1, initial=0.0), sizes, out=np.zeros(len(sizes)), where=sizes > 0)
    ids = table.index.to_numpy()
    order = np.lexsort((ids, -top_share, dominant))  # last key sorts first
    groups = [g for g in np.array_split(order, min(max_rows, len(order))) if len(g)]
    pooled = np.array([matrix[g].sum(axis=0) for g in groups]).reshape(len(groups), matrix.shape[1])
    if value == "share":
        total = pooled.sum(axis=1, keepdims=True)
        values = np.divide(pooled, total, out=np.zeros_like(pooled), where=total > 0)
    else:
        values = pooled / np.array([len(g) for g in groups], dtype=np.float64).reshape(-1, 1)
    return HeatmapData(values, table.columns.to_numpy(), [ids[g] for g in groups], value)


def row_ticks(n_rows: int, height_in: float) -> np.ndarray:
    """The rows that get a tick label: every row when they fit, else every ``k``-th from the first,
    ``k`` the smallest step whose labels fit in the axes (the figure's height less ~1.6 in of margins)."""
    if n_rows == 0:
        return np.zeros(0, dtype=np.int64)
    room_pt = max(height_in - 1.6, 0.5) * 72
    fits = max(1, int(room_pt / (_TICK_PITCH * tick_font_size())))
    return np.arange(0, n_rows, -(-n_rows // fits))


def partition_heatmap(
    counts: pd.DataFrame,
    value: Value = "share",
    max_rows: int = MAX_ROWS,
    ax: Axes | None = None,
) -> Figure:
    """Client x label heatmap: one row per client (or pool of clients), one column per label.

    Args:
        counts: a label-count table (``client_id``, ``label``, ``count``), e.g.
            ``simfl.data.label_counts(config)`` or a file written by ``simfl partition``.
        value: colour by each client's ``share`` of a label (its label mix) or by ``count``.
        max_rows: most rows; more clients are pooled (the title says how).
        ax: an existing Axes to draw into.

    Returns:
        The matplotlib Figure; its image holds :func:`heatmap_data`'s values. Rows are labelled
        with their client's name (``client_name``; else its id; pooled rows: their clients'
        positions in the sorted order), every row when the labels fit, else every ``k``-th
        (:func:`row_ticks`); there is no grid.
    """
    data = heatmap_data(counts, value, max_rows)
    num_clients = sum(len(r) for r in data.rows)
    fig, ax = axes_or_new(ax, (max(4.5, 0.4 * len(data.labels) + 2.5), min(9.0, max(3.5, 0.16 * len(data.rows) + 1.8))))
    image = ax.imshow(data.values, aspect="auto", interpolation="nearest", cmap="viridis",
                      vmin=0.0, vmax=1.0 if value == "share" else None)
    bar = fig.colorbar(image, ax=ax)
    if value == "share":
        bar.set_label("share of the client's training samples")
    else:
        bar.set_label("training samples" + (" (mean per client in a row)" if data.pooled else ""))
    ax.set_xticks(np.arange(len(data.labels)), [str(label) for label in data.labels],
                  fontsize=tick_font_size(len(data.labels) > 30))
    ax.set_xlabel("class label")
    ax.grid(False)  # a grid over the cells reads as borders that are not there
    positions = row_ticks(len(data.rows), fig.get_figheight())
    if data.pooled:
        sizes = sorted({len(r) for r in data.rows})  # array_split: equal up to one
        per_row = str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
        starts = np.cumsum([0] + [len(r) for r in data.rows])
        texts = [f"{starts[t] + 1}–{starts[t + 1]}" for t in positions]
        ax.set_ylabel(f"clients in sorted order ({per_row} clients pooled per row)")
        title = f"Label mix of {num_clients} clients in {len(data.rows)} rows, sorted by dominant label"
    else:
        texts, named = client_labels([data.rows[t][0] for t in positions], counts)
        ax.set_ylabel("client" if named else "client (id)")
        title = f"Label mix of {num_clients} clients, sorted by dominant label"
    ax.set_yticks(positions, texts, fontsize=tick_font_size(len(positions) > 40))
    fit_title(ax, title, width_in=fig.get_figwidth())
    return fig
