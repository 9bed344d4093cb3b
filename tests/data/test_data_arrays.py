"""dataset: arrays — .npz archives and Parquet tables, natural split by client_id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simfl.config.load import config_from_dict
from simfl.data import check_data, client_sizes, load_data, train_labels
from simfl.errors import ConfigError, DataError
from simfl.rng import SeedTree


def config(path: Path, **data):
    return config_from_dict({"data": {"dataset": "arrays", "path": str(path), **data}, "train": {"enabled": False},
                             "algorithm": {"concurrency": 2}})


def arrays(rng: np.random.Generator, n: int = 40, dim: int = 5, ids=(30, 10, 20)):
    """Rows in a shuffled order with client ids drawn from ``ids`` (some ids more frequent)."""
    x = rng.random((n, dim))
    y = rng.integers(0, 3, size=n)
    client = rng.choice(np.asarray(ids), size=n, p=np.linspace(1, 2, len(ids)) / np.linspace(1, 2, len(ids)).sum())
    return x, y, client


def test_npz_clients_are_sorted_ids_rows_in_file_order(tmp_path):
    rng = np.random.default_rng(0)
    x, y, client = arrays(rng)
    np.savez(tmp_path / "d.npz", x=x, y=y, client_id=client)
    cfg = config(tmp_path / "d.npz", num_clients=None, test_fraction=0.25)
    assert cfg.data.num_clients == 3
    data = load_data(cfg.data, SeedTree(0))
    counts = np.array([(client == k).sum() for k in (10, 20, 30)])
    held = np.floor(0.25 * counts).astype(int)
    np.testing.assert_array_equal(data.client_sizes, counts - held)
    np.testing.assert_array_equal(data.test_sizes, held)
    for c, k in enumerate((10, 20, 30)):  # client c = c-th smallest id; its train + test rows are exactly its rows
        xs = np.concatenate([data.client(c)[0], data.client_test(c)[0]])
        mine = x[client == k].astype(np.float32)
        assert sorted(map(tuple, xs)) == sorted(map(tuple, mine))
    np.testing.assert_array_equal(client_sizes(cfg.data, SeedTree(0)), data.client_sizes)


def test_npz_test_set_with_and_without_client_ids(tmp_path):
    rng = np.random.default_rng(1)
    x, y, client = arrays(rng)
    xt, yt, ct = arrays(rng, n=12)
    np.savez(tmp_path / "shared.npz", x=x, y=y, client_id=client, x_test=xt, y_test=yt)
    shared = load_data(config(tmp_path / "shared.npz", num_clients=None).data, SeedTree(0))
    assert not shared.test_by_client and len(shared.x_test) == 12
    np.testing.assert_array_equal(shared.client_sizes, [(client == k).sum() for k in (10, 20, 30)])  # no hold-out
    np.savez(tmp_path / "split.npz", x=x, y=y, client_id=client, x_test=xt, y_test=yt, client_id_test=ct)
    split = load_data(config(tmp_path / "split.npz", num_clients=2).data, SeedTree(0))
    np.testing.assert_array_equal(split.test_sizes, [(ct == 10).sum(), (ct == 20).sum()])
    np.testing.assert_allclose(split.client_test(1)[0], xt[ct == 20].astype(np.float32))


def test_no_client_ids_natural_is_refused_but_repartitions_work(tmp_path):
    rng = np.random.default_rng(2)
    x, y, _ = arrays(rng)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    with pytest.raises(ConfigError, match=r"^data.partition: natural needs client ids in the data \(a client_id array"):
        config(tmp_path / "d.npz", num_clients=None)
    with pytest.raises(DataError, match=r"^data.partition: natural needs client ids in the data \(a client_id array"):
        check_data(config(tmp_path / "d.npz", num_clients=4))
    with pytest.raises(ConfigError, match=r"^data.num_clients: null means one client per client id"):
        config(tmp_path / "d.npz", num_clients=None, partition="iid")
    for partition in ("iid", "dirichlet", "shards"):
        cfg = config(tmp_path / "d.npz", num_clients=4, partition=partition)
        data = load_data(cfg.data, SeedTree(5))
        assert sorted([*data.y, *data.y_test]) == sorted(y)
        np.testing.assert_array_equal(train_labels(cfg.data, SeedTree(5))[0], data.y)


def test_parquet_list_column_client_column_and_split(tmp_path):
    rng = np.random.default_rng(3)
    x, y, client = arrays(rng)
    split = np.where(rng.random(len(y)) < 0.3, "test", "train")
    pd.DataFrame({"x": list(x), "y": y, "client_id": client.astype(str), "split": split}).to_parquet(tmp_path / "d.parquet")
    cfg = config(tmp_path / "d.parquet", num_clients=None)
    data = load_data(cfg.data, SeedTree(0))
    train = split == "train"
    np.testing.assert_array_equal(data.client_sizes, [((client == k) & train).sum() for k in (10, 20, 30)])
    np.testing.assert_array_equal(data.test_sizes, [((client == k) & ~train).sum() for k in (10, 20, 30)])
    assert data.info.input_shape == (5,)


def test_parquet_scalar_feature_columns(tmp_path):
    rng = np.random.default_rng(4)
    x, y, client = arrays(rng, dim=3)
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "who": client, "target": y}).to_parquet(tmp_path / "d.parquet")
    cfg = config(tmp_path / "d.parquet", num_clients=None, label="target", client_column="who", features=["c", "a"])
    data = load_data(cfg.data, SeedTree(0))
    assert data.info.input_shape == (2,)
    rows = np.concatenate([data.client(0)[0], data.client_test(0)[0]])
    assert sorted(map(tuple, rows)) == sorted(map(tuple, x[client == 10][:, [2, 0]].astype(np.float32)))


def test_same_seed_same_arrays(tmp_path):
    rng = np.random.default_rng(5)
    x, y, client = arrays(rng)
    np.savez(tmp_path / "d.npz", x=x, y=y, client_id=client)
    a = load_data(config(tmp_path / "d.npz", num_clients=None).data, SeedTree(9))
    b = load_data(config(tmp_path / "d.npz", num_clients=None).data, SeedTree(9))
    for name in ("x", "y", "offsets", "x_test", "y_test", "test_offsets"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


GOOD = {"x": np.ones((4, 2)), "y": np.array([0, 1, 0, 1]), "client_id": np.array([1, 1, 2, 2])}
NPZ_CASES = {
    "missing_y": ({"x": GOOD["x"]}, "no array y"),
    "unknown_key": ({**GOOD, "client_ids": GOOD["client_id"]}, "unknown array 'client_ids'"),
    "length_mismatch": ({**GOOD, "y": np.array([0, 1, 0])}, "x has 4 rows but y has 3 labels"),
    "float_labels": ({**GOOD, "y": np.array([0.0, 1.0, 0.5, 1.0])}, "y must hold integer class labels"),
    "nan_features": ({**GOOD, "x": np.array([[1, 2], [3, np.nan], [1, 1], [1, 1]])}, "x row 1 holds nan"),
    "object_array": ({**GOOD, "x": np.array([[1.0], [1.0, 2.0], [1.0], [2.0]], dtype=object)}, "array x cannot be read"),
    "test_without_labels": ({**GOOD, "x_test": GOOD["x"]}, "x_test without y_test"),
    "test_shape": ({**GOOD, "x_test": np.ones((2, 3)), "y_test": np.array([0, 1])}, "x_test rows have shape (3,)"),
    "test_ids_partly_unknown": ({**GOOD, "x_test": np.ones((2, 2)), "y_test": np.array([0, 1]),
                                 "client_id_test": np.array([1, 5])}, "test client 5 has no training rows"),
    "float_client_ids": ({**GOOD, "client_id": np.array([0.5, 1, 1, 2])}, "client_id must be one integer or string id"),
}


@pytest.mark.parametrize("case", sorted(NPZ_CASES))
def test_malformed_npz_is_a_one_line_data_error(tmp_path, case):
    arrays_, fragment = NPZ_CASES[case]
    path = _npz(tmp_path / "bad.npz", **arrays_)
    with pytest.raises(DataError) as err:
        config(path, num_clients=None)
    assert "\n" not in str(err.value) and fragment in str(err.value) and str(path) in str(err.value)


def test_not_an_archive_and_wrong_suffix(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"bad.npz: not a readable .npz archive"):
        config(tmp_path / "bad.npz", num_clients=None)
    (tmp_path / "d.csv").write_text("x,y\n")
    with pytest.raises(DataError, match=r"reads .npz or .parquet files, not .csv"):
        config(tmp_path / "d.csv", num_clients=None)


def test_malformed_parquet(tmp_path):
    pd.DataFrame({"x": [[0.1, 0.2], [0.3]], "y": [0, 1]}).to_parquet(tmp_path / "ragged.parquet")
    with pytest.raises(DataError, match=r"ragged.parquet: column x is ragged: row 1 holds 1 values but row 0 holds 2"):
        check_data(config(tmp_path / "ragged.parquet", num_clients=2, partition="iid"))
    pd.DataFrame({"x": [[0.1], [0.3]], "target": [0, 1]}).to_parquet(tmp_path / "nolabel.parquet")
    with pytest.raises(DataError, match=r"nolabel.parquet: no label column y or label"):
        check_data(config(tmp_path / "nolabel.parquet", num_clients=2, partition="iid"))
    pd.DataFrame({"x": [[0.1], [0.3]], "y": [0, None]}).to_parquet(tmp_path / "missing.parquet")
    with pytest.raises(DataError, match=r"column y has a missing value at row 1"):
        check_data(config(tmp_path / "missing.parquet", num_clients=2, partition="iid"))
