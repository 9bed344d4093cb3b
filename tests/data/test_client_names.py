"""Clients keep their own names: ``client_name`` in clients.parquet, ``data.clients`` selects by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simfl
from simfl.cli import main
from simfl.config.load import config_from_dict
from simfl.data import client_names, client_sizes, label_counts, load_data, train_labels
from simfl.errors import ConfigError, DataError
from simfl.identity.runid import result_digest
from simfl.rng import SeedTree

NAMES = ["f0003", "f0001", "f0007", "f0002", "f0010"]  # file order, not sorted
TRAIN = [7, 3, 5, 9, 4]
TEST = [2, 1, 3, 3, 1]


def raw(path: Path, dataset: str = "leaf", trained: bool = False, **data) -> dict:
    return {
        "seed": 3,
        "data": {"dataset": dataset, "path": str(path), **data},
        "model": {"type": "logreg"},
        "train": {"enabled": trained, "local_steps": 2, "batch_size": 2},
        "heterogeneity": {"compute": {"seconds_per_sample": 0.01}},
        "algorithm": {"type": "fedasync", "concurrency": 1},
        "stop": {"sim_time_s": 5.0},
        "eval": {"every_s": 2.5},
    }


def config(path: Path, dataset: str = "leaf", trained: bool = False, **data):
    return config_from_dict(raw(path, dataset, trained, **data))


@pytest.fixture
def leaf(tmp_path: Path, leaf_tools) -> tuple[Path, dict, dict]:
    """Two train files (users 0-2, 3-4) and a test file of every user (LEAF's split by sample)."""
    rng = np.random.default_rng(11)
    train = leaf_tools.users(rng, NAMES, TRAIN)
    test = leaf_tools.users(rng, NAMES, TEST)
    first, second = {u: train[u] for u in NAMES[:3]}, {u: train[u] for u in NAMES[3:]}
    leaf_tools.write(tmp_path / "leaf", [leaf_tools.obj(first), leaf_tools.obj(second)], [leaf_tools.obj(test)])
    return tmp_path / "leaf", train, test


# ------------------------------------------------------------------ names in clients.parquet
def test_leaf_user_names_are_the_client_names_of_clients_parquet(leaf, tmp_path):
    path, _, _ = leaf
    result = simfl.run(config(path), out=tmp_path / "run", progress=False)
    clients = pd.read_parquet(tmp_path / "run" / "clients.parquet")
    assert clients["client_name"].tolist() == NAMES  # the users, in file order
    assert clients["client_id"].tolist() == list(range(len(NAMES)))
    assert list(clients.columns[:3]) == ["client_id", "client_name", "num_samples"]
    assert result.clients["client_name"].tolist() == NAMES  # the in-memory table too
    np.testing.assert_array_equal(clients["num_samples"], TRAIN)


def test_arrays_string_client_ids_are_names_in_sorted_order(tmp_path):
    rng = np.random.default_rng(2)
    ids = np.array(["zoe", "amy", "bob", "amy", "zoe", "bob", "amy", "cat", "cat", "bob"] * 3)
    np.savez(tmp_path / "d.npz", x=rng.random((len(ids), 4)), y=rng.integers(0, 3, len(ids)), client_id=ids)
    cfg = config(tmp_path / "d.npz", "arrays")
    assert client_names(cfg.data).tolist() == ["amy", "bob", "cat", "zoe"]
    result = simfl.run(cfg, out=tmp_path / "run", progress=False)
    clients = pd.read_parquet(tmp_path / "run" / "clients.parquet")
    assert clients["client_name"].tolist() == ["amy", "bob", "cat", "zoe"]
    # each named client holds that id's rows (minus its held-out part)
    full = np.array([(ids == n).sum() for n in ["amy", "bob", "cat", "zoe"]])
    np.testing.assert_array_equal(result.clients["num_samples"], full - np.floor(0.2 * full).astype(int))


def test_parquet_integer_client_ids_are_their_decimal_text(tmp_path):
    rng = np.random.default_rng(4)
    client = rng.choice([30, 7, 120], size=40)
    pd.DataFrame({"x": list(rng.random((40, 3))), "y": rng.integers(0, 2, 40), "who": client}) \
        .to_parquet(tmp_path / "d.parquet")
    cfg = config(tmp_path / "d.parquet", "arrays", client_column="who")
    assert client_names(cfg.data).tolist() == ["7", "30", "120"]  # sorted as numbers, named as text
    sub = config(tmp_path / "d.parquet", "arrays", client_column="who", clients=[120, 7])  # integers read as text
    assert sub.data.clients == ["120", "7"] and sub.data.num_clients == 2
    assert client_names(sub.data).tolist() == ["7", "120"]


def test_huggingface_client_column_values_are_the_names(tmp_path):
    datasets = pytest.importorskip("datasets")
    rng = np.random.default_rng(5)

    def table(n):
        return {"pixels": rng.random((n, 3)).tolist(), "label": rng.integers(0, 3, n).tolist(),
                "writer": rng.choice(["w_b", "w_a", "w_c"], n).tolist()}

    train, test = table(40), table(12)
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(train), "test": datasets.Dataset.from_dict(test)}) \
        .save_to_disk(str(tmp_path / "dd"))
    cfg = config(tmp_path / "dd", "huggingface", client_column="writer")
    simfl.run(cfg, out=tmp_path / "run", progress=False)
    assert pd.read_parquet(tmp_path / "run" / "clients.parquet")["client_name"].tolist() == ["w_a", "w_b", "w_c"]
    sub = config(tmp_path / "dd", "huggingface", client_column="writer", clients=["w_c", "w_a"])
    data = load_data(sub.data, SeedTree(0))
    writers, test_writers = np.array(train["writer"]), np.array(test["writer"])
    np.testing.assert_array_equal(data.client_sizes, [(writers == w).sum() for w in ("w_a", "w_c")])
    np.testing.assert_array_equal(data.test_sizes, [(test_writers == w).sum() for w in ("w_a", "w_c")])


def test_datasets_without_names_name_clients_by_their_id(tmp_path):
    cfg = config_from_dict({"data": {"dataset": "synthetic", "num_clients": 12}, "train": {"enabled": False},
                            "algorithm": {"concurrency": 2}, "stop": {"sim_time_s": 2.0}})
    result = simfl.run(cfg, progress=False)
    assert result.clients["client_name"].tolist() == [str(c) for c in range(12)]
    assert client_names(cfg.data).tolist() == [str(c) for c in range(12)]


def test_a_repartitioned_source_names_clients_by_their_id(leaf):
    path, _, _ = leaf
    cfg = config(path, partition="iid", num_clients=4)
    assert client_names(cfg.data).tolist() == ["0", "1", "2", "3"]  # the data's users are pooled: no user is a client


# ------------------------------------------------------------------ data.clients
def test_named_clients_train_alone_in_the_data_order(leaf, tmp_path):
    path, train, test = leaf
    chosen = ["f0010", "f0001"]  # listed against the data's order
    cfg = config(path, trained=True, clients=chosen)
    assert cfg.data.num_clients == 2
    data = load_data(cfg.data, SeedTree(cfg.seed))
    for c, user in enumerate(["f0001", "f0010"]):  # the data's order: client ids follow it
        x, y = data.client(c)
        np.testing.assert_allclose(x, np.asarray(train[user][0], dtype=np.float32))
        np.testing.assert_array_equal(y, train[user][1])
        np.testing.assert_array_equal(data.client_test(c)[1], test[user][1])  # its own test rows only
    assert len(data.x_test) == TEST[1] + TEST[4]  # the others' test rows are not in the run
    np.testing.assert_array_equal(client_sizes(cfg.data, SeedTree(cfg.seed)), [TRAIN[1], TRAIN[4]])
    np.testing.assert_array_equal(train_labels(cfg.data, SeedTree(cfg.seed))[0], data.y)
    result = simfl.run(cfg, out=tmp_path / "run", progress=False)
    clients = pd.read_parquet(tmp_path / "run" / "clients.parquet")
    updates = pd.read_parquet(tmp_path / "run" / "client_updates.parquet")
    assert clients["client_name"].tolist() == ["f0001", "f0010"]
    names = dict(zip(clients["client_id"], clients["client_name"]))
    assert len(updates) > 0 and set(updates["client_id"].map(names)) == {"f0001", "f0010"}
    assert result.status == "complete"


def test_a_shared_test_set_stays_whole(tmp_path, leaf_tools):
    """LEAF's split by user: the test users are none of the training users; the subset keeps every test row."""
    rng = np.random.default_rng(3)
    train = leaf_tools.users(rng, NAMES, TRAIN)
    test = leaf_tools.users(rng, ["t1", "t2"], [4, 6])
    leaf_tools.write(tmp_path, [leaf_tools.obj(train)], [leaf_tools.obj(test)])
    data = load_data(config(tmp_path, clients=["f0002"]).data, SeedTree(0))
    assert data.num_clients == 1 and len(data.x_test) == 10 and not data.test_by_client
    np.testing.assert_array_equal(data.client_sizes, [TRAIN[3]])


def test_without_a_test_set_the_named_clients_hold_out_their_own_rows(tmp_path, leaf_tools):
    rng = np.random.default_rng(8)
    train = leaf_tools.users(rng, NAMES, [10, 20, 30, 40, 50])
    leaf_tools.write(tmp_path, [leaf_tools.obj(train)])
    data = load_data(config(tmp_path, clients=["f0007", "f0010"]).data, SeedTree(0))
    np.testing.assert_array_equal(data.client_sizes + data.test_sizes, [30, 50])
    np.testing.assert_array_equal(data.test_sizes, [6, 10])  # floor(0.2 * n)
    rows = {tuple(r) for r in np.asarray(train["f0007"][0], dtype=np.float32).tolist()}
    held = {tuple(r) for r in data.client_test(0)[0].tolist()} | {tuple(r) for r in data.client(0)[0].tolist()}
    assert held == rows


def test_the_first_n_clients_are_the_named_first_n(leaf):
    """Naming the first N clients gives the same data as num_clients: N (the same selection)."""
    path, _, _ = leaf
    by_count = load_data(config(path, num_clients=3).data, SeedTree(1))
    by_name = load_data(config(path, clients=NAMES[:3]).data, SeedTree(1))
    for a, b in ((by_count.x, by_name.x), (by_count.offsets, by_name.offsets), (by_count.x_test, by_name.x_test),
                 (by_count.test_offsets, by_name.test_offsets)):
        np.testing.assert_array_equal(a, b)


def test_label_counts_carry_the_names(leaf):
    path, train, _ = leaf
    counts = label_counts(config(path, clients=["f0007", "f0003"]))
    names = counts.drop_duplicates("client_id")["client_name"].tolist()
    assert names == ["f0003", "f0007"]
    for name, g in counts.groupby("client_name"):
        labels, n = np.unique(train[name][1], return_counts=True)
        np.testing.assert_array_equal(g["label"], labels)
        np.testing.assert_array_equal(g["count"], n)


def test_data_clients_is_part_of_the_run_id_and_absent_from_dumps_when_null(leaf):
    path, _, _ = leaf
    plain, named = config(path), config(path, clients=NAMES)
    assert "clients" not in plain.model_dump()["data"]  # configs written before the key keep their digest
    assert named.model_dump()["data"]["clients"] == NAMES
    assert result_digest(plain) != result_digest(named)  # same clients, but a different config
    assert result_digest(config(path, clients=NAMES[:2])) != result_digest(config(path, clients=NAMES[1:3]))
    again = config_from_dict(named.model_dump(mode="python"))  # a run's config.yaml loads back the same
    assert again.data.clients == NAMES and result_digest(again) == result_digest(named)


# ------------------------------------------------------------------ errors
def test_an_unknown_name_is_a_one_line_data_error_with_a_close_match(leaf):
    path, _, _ = leaf
    cfg = config(path, clients=["f0001", "f0011", "nobody"])
    with pytest.raises(DataError) as err:
        load_data(cfg.data, SeedTree(0))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("data.clients: 'f0011' is not a client of ")  # the first unknown name
    assert message.endswith("did you mean 'f0001'?") or message.endswith("did you mean 'f0010'?")
    with pytest.raises(DataError, match=r"'zzzzzzzz' is not a client of [^;]*$"):  # nothing close: no hint
        client_names(config(path, clients=["zzzzzzzz"]).data)


@pytest.mark.parametrize("data, key, words", [
    ({"clients": ["f0001", "f0001"]}, "data.clients", "'f0001' is listed twice"),
    ({"clients": ["f0001", "f0002"], "num_clients": 3}, "data.num_clients", "3 but data.clients names 2"),
    ({"clients": ["f0001"], "partition": "iid"}, "data.clients", "only under partition natural, not iid"),
    ({"clients": []}, "data.clients", "at least 1"),
])
def test_inconsistent_keys_are_one_line_config_errors(leaf, data, key, words):
    path, _, _ = leaf
    with pytest.raises(ConfigError) as err:
        config(path, **data)
    assert "\n" not in str(err.value) and str(err.value).startswith(f"{key}: ") and words in str(err.value)


def test_datasets_without_names_refuse_data_clients():
    with pytest.raises(ConfigError) as err:
        config_from_dict({"data": {"dataset": "synthetic", "clients": ["0", "1"]}})
    assert str(err.value) == ("data.clients: selects clients by name, which only datasets with their own clients "
                              "have (leaf, arrays, huggingface, python), not synthetic")


def test_arrays_without_client_ids_refuse_data_clients(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.random((20, 3)), y=rng.integers(0, 2, 20))
    with pytest.raises(DataError, match=r"^data.clients: natural needs client ids in the data"):
        load_data(config(tmp_path / "d.npz", "arrays", clients=["a"]).data, SeedTree(0))


def test_cli_validate_exits_2_with_one_line(leaf, tmp_path, capsys):
    path, _, _ = leaf
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{dataset: leaf, path: {path}, clients: [f0001, f0100]}}\n"
                   "algorithm: {concurrency: 1}\ntrain: {enabled: false}\n")
    assert main(["validate", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "data.clients: 'f0100' is not a client of" in err and "did you mean 'f0010'?" in err
    assert main(["validate", str(cfg), "--set", "data.num_clients=5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "data.num_clients: 5 but data.clients names 2" in err
