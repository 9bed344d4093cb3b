"""The client x label heatmap draws the label-count table: sorted by dominant label, pooled beyond max_rows."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from simfl.data import label_count_table
from simfl.plots import partition_heatmap
from simfl.plots.label_heatmap import heatmap_data
from simfl.plots.style import PAPER_RC
from tests.plots.helpers import assert_png

# Client: {label: count}. Dominant labels: 7 -> 1 (share 0.6), 3 -> 0 (0.5, tie 0/2 goes to 0),
# 5 -> 1 (1.0), 9 -> 0 (1.0).
HAND = {7: {1: 3, 2: 2}, 3: {0: 2, 2: 2}, 5: {1: 4}, 9: {0: 1}}


def hand_table() -> pd.DataFrame:
    rows = [(c, label, n) for c, mix in HAND.items() for label, n in mix.items()]
    return pd.DataFrame(rows, columns=["client_id", "label", "count"]).astype("int64")


def image_values(fig) -> np.ndarray:
    return np.asarray(fig.axes[0].images[0].get_array())


def test_rows_are_sorted_by_dominant_label_then_share_then_id() -> None:
    data = heatmap_data(hand_table())
    assert [int(r[0]) for r in data.rows] == [9, 3, 5, 7]
    np.testing.assert_array_equal(data.labels, [0, 1, 2])
    expected = np.array([[1, 0, 0], [0.5, 0, 0.5], [0, 1, 0], [0, 0.6, 0.4]])
    np.testing.assert_allclose(data.values, expected)
    counts = heatmap_data(hand_table(), value="count").values
    np.testing.assert_array_equal(counts, [[1, 0, 0], [2, 0, 2], [0, 4, 0], [0, 3, 2]])


@pytest.mark.parametrize("value", ["share", "count"])
def test_the_image_holds_the_table(value: str, tmp_path) -> None:
    fig = partition_heatmap(hand_table(), value=value)
    np.testing.assert_allclose(image_values(fig), heatmap_data(hand_table(), value).values)
    ax = fig.axes[0]
    assert "sorted by dominant label" in ax.get_title() and "4 clients" in ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["9", "3", "5", "7"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert len(fig.axes) == 2  # the colour bar
    assert_png(fig, tmp_path / "heatmap.png", min_bytes=2_000)
    plt.close(fig)


def test_many_clients_are_pooled_into_max_rows_of_consecutive_sorted_clients() -> None:
    g = np.random.default_rng(5)
    k, sizes = 250, g.integers(1, 40, 250)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    dominant = g.integers(0, 10, k)
    y = np.where(g.random(offsets[-1]) < 0.8, np.repeat(dominant, sizes), g.integers(0, 10, offsets[-1]))
    counts = label_count_table(y, offsets)
    full = heatmap_data(counts, max_rows=k)
    data = heatmap_data(counts, max_rows=100)
    assert len(full.rows) == k and not full.pooled
    assert len(data.rows) == 100 and data.pooled
    assert {len(r) for r in data.rows} == {2, 3}  # 250 = 50 x 3 + 50 x 2
    # The pooled rows cut the full sorted order into consecutive runs.
    np.testing.assert_array_equal(np.concatenate(data.rows), np.concatenate(full.rows))
    # Dominant labels never decrease down the rows (ties within a label by share).
    top = np.argmax(full.values, axis=1)
    assert np.all(np.diff(top) >= 0)
    # A pooled row's share is its clients' summed counts over their summed sizes.
    matrix = counts.pivot_table(index="client_id", columns="label", values="count", fill_value=0)
    for row, ids in zip(data.values, data.rows):
        pooled = matrix.loc[ids].to_numpy().sum(axis=0)
        np.testing.assert_allclose(row, pooled / pooled.sum())
    fig = partition_heatmap(counts, max_rows=100)
    assert "250 clients in 100 rows" in fig.axes[0].get_title()
    assert "2-3 clients pooled per row" in fig.axes[0].get_ylabel()
    np.testing.assert_allclose(image_values(fig), data.values)
    plt.close(fig)


def test_bad_tables_and_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match="no column 'count'"):
        heatmap_data(hand_table().rename(columns={"count": "n"}))
    with pytest.raises(ValueError, match="share' or 'count"):
        heatmap_data(hand_table(), value="fraction")
    with pytest.raises(ValueError, match="max_rows"):
        heatmap_data(hand_table(), max_rows=0)


def _random_counts(num_clients: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(c, label, int(n)) for c in range(num_clients) for label, n in enumerate(rng.integers(0, 30, 10)) if n]
    return pd.DataFrame(rows, columns=["client_id", "label", "count"]).astype("int64")


def _overlap(a, b) -> bool:
    return a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("num_clients", [12, 50, 90])
def test_row_ticks_name_the_clients_of_their_rows_without_overlapping(num_clients: int) -> None:
    with plt.style.context(PAPER_RC):  # the paper style has a grid on every axes
        counts = _random_counts(num_clients)
        data = heatmap_data(counts)
        fig = partition_heatmap(counts)
        ax = fig.axes[0]
        fig.canvas.draw()
    ticks = ax.get_yticks().astype(int)
    labels = ax.get_yticklabels()
    assert [t.get_text() for t in labels] == [str(data.rows[t][0]) for t in ticks]  # each row's client id
    steps = set(np.diff(ticks))
    assert len(steps) <= 1 and ticks[0] == 0  # evenly thinned from the first row
    step = steps.pop() if steps else 1
    assert len(ticks) >= num_clients / step - 1 and (step == 1 or len(ticks) >= 12)  # thinned, not gutted
    boxes = [t.get_window_extent() for t in labels]
    assert not any(_overlap(a, b) for a, b in zip(boxes, boxes[1:]))
    assert all(t.get_fontsize() >= 7 for t in [*labels, *ax.get_xticklabels()])
    assert not any(line.get_visible() for line in [*ax.get_xgridlines(), *ax.get_ygridlines()])
    assert ax.get_ylabel() == "client (id)" and ax.get_xlabel() == "class label"
    plt.close(fig)


def test_pooled_rows_are_labelled_by_their_clients_positions_in_the_order() -> None:
    counts = _random_counts(250)
    data = heatmap_data(counts, max_rows=100)
    fig = partition_heatmap(counts, max_rows=100)
    ax = fig.axes[0]
    ends = np.cumsum([len(r) for r in data.rows])
    for tick, label in zip(ax.get_yticks().astype(int), ax.get_yticklabels()):
        assert label.get_text() == f"{ends[tick] - len(data.rows[tick]) + 1}–{ends[tick]}"
    plt.close(fig)
