"""Figures that label clients show their names: the partition heatmap's rows, the timeline's rows."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simfl
from simfl.config.load import config_from_dict
from simfl.data import label_count_table, label_counts
from simfl.plots import partition_heatmap, plot_client_timeline
from simfl.plots.label_heatmap import heatmap_data, row_ticks
from simfl.plots.labels import NAME_WIDTH, client_label

USERS = ["writer_07", "writer_02", "writer_11", "writer_05"]  # LEAF file order


def leaf_config(path: Path, **data):
    return config_from_dict({
        "seed": 1,
        "data": {"dataset": "leaf", "path": str(path), **data},
        "train": {"enabled": False},
        "heterogeneity": {"compute": {"seconds_per_sample": {"dist": "lognormal", "mean": 0.01, "cv": 1.0}}},
        "algorithm": {"type": "fedasync", "concurrency": 2},
        "stop": {"sim_time_s": 4.0},
    })


@pytest.fixture
def leaf(tmp_path: Path) -> Path:
    """Users with a clear dominant label each, so the heatmap's row order differs from file order."""
    from tests.data.conftest import leaf_object, write_leaf

    rng = np.random.default_rng(0)
    users = {}
    for i, user in enumerate(USERS):
        n = 6 + 2 * i
        y = np.where(rng.random(n) < 0.8, (3 - i) % 4, rng.integers(0, 4, n)).tolist()
        users[user] = (np.round(rng.random((n, 4)), 3).tolist(), y)
    return write_leaf(tmp_path / "leaf", [leaf_object(users)])


def tick_texts(labels) -> list[str]:
    return [t.get_text() for t in labels]


def test_the_partition_heatmap_labels_rows_with_leaf_user_names(leaf) -> None:
    counts = label_counts(leaf_config(leaf))  # what `simfl plot RUN` and `simfl partition` draw
    fig = partition_heatmap(counts)
    data = heatmap_data(counts)
    expected = [USERS[int(r[0])] for r in data.rows]  # client c is the c-th user of the file
    assert sorted(expected) == sorted(USERS) and expected != USERS  # sorted by dominant label, not file order
    assert tick_texts(fig.axes[0].get_yticklabels()) == expected
    assert fig.axes[0].get_ylabel() == "client"
    plt.close(fig)


def test_a_subset_by_name_is_labelled_with_the_chosen_names(leaf) -> None:
    counts = label_counts(leaf_config(leaf, clients=["writer_11", "writer_07"]))
    fig = partition_heatmap(counts)
    assert sorted(tick_texts(fig.axes[0].get_yticklabels())) == ["writer_07", "writer_11"]
    plt.close(fig)


def test_long_names_are_shortened_keeping_both_ends() -> None:
    names = ["a_very_long_writer_name_number_001", "a_very_long_writer_name_number_002", "short"]
    y = np.array([0, 0, 1, 1, 1, 2])
    counts = label_count_table(y, np.array([0, 2, 5, 6]), names)
    fig = partition_heatmap(counts)
    texts = tick_texts(fig.axes[0].get_yticklabels())
    assert texts == ["a_very_lon…r_001", "a_very_lon…r_002", "short"]  # rows sorted by dominant label: 0, 1, 2
    assert all(len(t) <= NAME_WIDTH for t in texts) and len(set(texts)) == 3
    plt.close(fig)


@settings(max_examples=80, deadline=None, database=None)
@given(name=st.text(min_size=0, max_size=60), width=st.integers(4, 40))
def test_client_label_is_the_name_or_its_two_ends(name: str, width: int) -> None:
    text = client_label(name, width)
    if len(name) <= width:
        assert text == name
    else:
        head, _, tail = text.partition("…")
        assert len(text) == width and name.startswith(head) and name.endswith(tail) and tail


def test_a_table_without_names_keeps_the_ids() -> None:
    """Tables written before client_name existed (and datasets without names: id as text) read as ids."""
    counts = label_count_table(np.array([1, 1, 0, 2]), np.array([0, 2, 3, 4]))
    for table in (counts, counts.drop(columns="client_name")):
        fig = partition_heatmap(table)
        assert tick_texts(fig.axes[0].get_yticklabels()) == ["1", "0", "2"]
        assert fig.axes[0].get_ylabel() == "client (id)"
        plt.close(fig)


def test_pooled_rows_keep_their_positions(leaf) -> None:
    counts = label_counts(leaf_config(leaf))
    fig = partition_heatmap(counts, max_rows=2)
    assert tick_texts(fig.axes[0].get_yticklabels()) == ["1–2", "3–4"]
    plt.close(fig)


def test_the_run_timeline_labels_rows_with_names(leaf, tmp_path) -> None:
    result = simfl.run(leaf_config(leaf), out=tmp_path / "run", progress=False)
    clients = pd.read_parquet(tmp_path / "run" / "clients.parquet")
    fig = plot_client_timeline(result.client_updates, clients=clients)
    rows = fig.data["rows"]
    speeds = dict(zip(clients["client_id"], clients["seconds_per_sample"]))
    expected = [f"{USERS[c]}: {speeds[c]:.2g} s/sample" for c in rows["client_id"]]
    assert tick_texts(fig.axes[0].get_yticklabels()) == expected
    assert len(rows) == len(USERS)
    plt.close(fig)
    figs = simfl.plots.run_figures(result)  # the run-level figures: same labels, names carried with the clients
    assert tick_texts(figs["timeline"].axes[0].get_yticklabels()) == expected
    per_client = figs["participation"].data["per_client"]
    assert dict(zip(per_client["client_id"], per_client["client_name"])) == dict(enumerate(USERS))
    for f in figs.values():
        plt.close(f)


def test_every_row_is_labelled_when_the_labels_fit() -> None:
    names = [f"user_{i:03d}" for i in range(12)]
    counts = label_count_table(np.arange(12) % 3, np.arange(13), names)
    fig = partition_heatmap(counts)
    data = heatmap_data(counts)
    positions = row_ticks(len(data.rows), fig.get_figheight())
    assert tick_texts(fig.axes[0].get_yticklabels()) == [names[int(data.rows[t][0])] for t in positions]
    assert len(positions) == 12
    plt.close(fig)
