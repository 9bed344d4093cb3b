"""Per-client label counts (``simfl partition``'s table): a recount of what load_data builds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfl.config.load import config_from_dict
from simfl.data import (
    label_count_table,
    label_counts,
    load_data,
    read_label_counts,
    summarize_label_counts,
    train_labels,
)
from simfl.errors import DataError
from simfl.rng import SeedTree

COMBOS = [
    ("synthetic", "natural", None),
    ("synthetic", "dirichlet", 1.0),
    ("digits", "iid", None),
    ("digits", "dirichlet", None),
    ("digits", "shards", 0.8),
    ("idx", "iid", None),
    ("idx", "dirichlet", None),
    ("idx", "shards", None),
]


def recount(y: np.ndarray, offsets: np.ndarray) -> pd.DataFrame:
    """The label-count table the slow way: client by client."""
    rows = []
    for c in range(len(offsets) - 1):
        labels, counts = np.unique(y[offsets[c] : offsets[c + 1]], return_counts=True)
        rows += [(c, int(label), int(n)) for label, n in zip(labels, counts)]
    return pd.DataFrame(rows, columns=["client_id", "label", "count"]).astype("int64")


def config(dataset: str, partition: str, skew: float | None, folder, seed: int = 3, **data):
    data.setdefault("num_clients", 6 if dataset == "idx" else 12)
    path = str(folder) if dataset == "idx" else None
    return config_from_dict({
        "seed": seed,
        "data": {"dataset": dataset, "partition": partition, "quantity_skew": skew, "path": path, **data},
        "algorithm": {"concurrency": 2},
    })


@pytest.mark.parametrize("dataset, partition, skew", COMBOS)
def test_label_counts_recount_the_training_split_of_load_data(dataset, partition, skew, idx_folder) -> None:
    cfg = config(dataset, partition, skew, idx_folder)
    data = load_data(cfg.data, SeedTree(cfg.seed))
    counts = label_counts(cfg)
    pd.testing.assert_frame_equal(counts.drop(columns="client_name"), recount(data.y, data.offsets))
    assert list(counts.columns) == ["client_id", "client_name", "label", "count"]
    assert all(counts[c].dtype == np.int64 for c in ("client_id", "label", "count"))
    # no names of their own: a client's name is its id as text
    assert counts["client_name"].tolist() == [str(c) for c in counts["client_id"]]
    # Held-out samples are not counted: each client's counts sum to its training size.
    np.testing.assert_array_equal(counts.groupby("client_id")["count"].sum(), data.client_sizes)
    y, offsets = train_labels(cfg.data, SeedTree(cfg.seed))
    np.testing.assert_array_equal(y, data.y)
    np.testing.assert_array_equal(offsets, data.offsets)


def test_label_counts_follow_the_seed() -> None:
    a = label_counts(config("digits", "dirichlet", None, None, seed=1))
    b = label_counts(config("digits", "dirichlet", None, None, seed=2))
    assert not a.equals(b)


def test_summary_of_a_hand_made_table() -> None:
    # Client 0 holds {0: 3, 1: 1}, client 1 {2: 5}, client 4 {0: 1, 1: 1, 2: 1}.
    counts = pd.DataFrame(
        {"client_id": [0, 0, 1, 4, 4, 4], "label": [0, 1, 2, 0, 1, 2], "count": [3, 1, 5, 1, 1, 1]}
    )
    s = summarize_label_counts(counts)
    assert (s.clients, s.samples, s.labels) == (3, 12, 3)
    assert (s.size_min, s.size_median, s.size_max) == (3, 4.0, 5)
    assert s.mean_labels_per_client == pytest.approx((2 + 1 + 3) / 3)
    assert str(s) == (
        "3 clients, 12 training samples, 3 labels; client size min 3 / median 4 / max 5; "
        "2.00 labels per client on average"
    )


@settings(max_examples=60, deadline=None, database=None)
@given(
    sizes=st.lists(st.integers(0, 30), min_size=1, max_size=20),
    num_labels=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_label_count_table_is_a_disjoint_recount(sizes, num_labels, seed) -> None:
    g = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    y = g.integers(0, num_labels, offsets[-1])
    counts = label_count_table(y, offsets)
    pd.testing.assert_frame_equal(counts.drop(columns="client_name"), recount(y, offsets))
    assert counts["client_name"].tolist() == [str(c) for c in counts["client_id"]]
    assert (counts["count"] > 0).all() and not counts.duplicated(["client_id", "label"]).any()
    per_label = counts.groupby("label")["count"].sum()
    np.testing.assert_array_equal(per_label.to_numpy(), np.bincount(y)[per_label.index])
    summary = summarize_label_counts(counts)
    nonempty = np.array(sizes)[np.array(sizes) > 0]
    assert summary.clients == len(nonempty) and summary.samples == offsets[-1]
    if len(nonempty):
        assert (summary.size_min, summary.size_median, summary.size_max) == (
            nonempty.min(), float(np.median(nonempty)), nonempty.max()
        )


def test_read_label_counts_round_trips_and_rejects_other_tables(tmp_path) -> None:
    counts = label_counts(config("digits", "shards", None, None))
    path = tmp_path / "counts.parquet"
    counts.to_parquet(path, index=False)
    pd.testing.assert_frame_equal(read_label_counts(path), counts)

    bad = {
        "columns": counts.rename(columns={"count": "n"}),
        "dtype": counts.astype({"count": "float64"}),
        "negative": counts.assign(count=-counts["count"]),
    }
    messages = {"columns": "no column count", "dtype": "column count must hold integers", "negative": "negative"}
    for name, frame in bad.items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
        with pytest.raises(DataError, match=messages[name]) as e:
            read_label_counts(tmp_path / f"{name}.parquet")
        assert "\n" not in str(e.value)
    (tmp_path / "text.parquet").write_text("client_id,label,count\n")
    with pytest.raises(DataError, match="not a readable parquet file"):
        read_label_counts(tmp_path / "text.parquet")
