"""dataset: leaf — LEAF JSON folders: one client per user in file order, their own test split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simfl.config.load import config_from_dict
from simfl.data import check_data, client_sizes, dataset_info, load_data, train_labels
from simfl.errors import ConfigError, DataError
from simfl.rng import SeedTree

NAMES = ["f0003", "f0001", "f0007", "f0002", "f0010"]  # file order, not sorted
TRAIN = [7, 3, 5, 9, 4]
TEST = [2, 1, 0, 3, 1]


def config(path: Path, **data):
    return config_from_dict({"data": {"dataset": "leaf", "path": str(path), **data}, "train": {"enabled": False},
                             "algorithm": {"concurrency": 2}})


@pytest.fixture
def leaf(tmp_path: Path, leaf_tools) -> tuple[Path, dict, dict]:
    """Two train files (users 0-2, 3-4) and one test file holding every user (LEAF's split by sample)."""
    rng = np.random.default_rng(7)
    train = leaf_tools.users(rng, NAMES, TRAIN)
    test = leaf_tools.users(rng, NAMES, TEST)
    first = {u: train[u] for u in NAMES[:3]}
    second = {u: train[u] for u in NAMES[3:]}
    leaf_tools.write(tmp_path, [leaf_tools.obj(first), leaf_tools.obj(second)], [leaf_tools.obj(test)])
    return tmp_path, train, test


def test_one_client_per_user_in_file_order_with_its_own_test_rows(leaf):
    path, train, test = leaf
    cfg = config(path, num_clients=None)
    assert cfg.data.num_clients == len(NAMES)  # null resolved to every user while validating
    data = load_data(cfg.data, SeedTree(0))
    np.testing.assert_array_equal(data.client_sizes, TRAIN)  # no hold-out: LEAF's own test split
    np.testing.assert_array_equal(data.test_sizes, TEST)
    assert data.test_by_client
    for c, user in enumerate(NAMES):
        x, y = data.client(c)
        np.testing.assert_allclose(x, np.asarray(train[user][0], dtype=np.float32))
        np.testing.assert_array_equal(y, train[user][1])
        xt, yt = data.client_test(c)
        np.testing.assert_array_equal(yt, test[user][1])
        assert len(xt) == TEST[c]
    assert len(data.x_test) == sum(TEST)  # the global test set is the union of the users' test rows
    assert data.info.input_shape == (6,) and data.info.input_dtype == "float32" and data.info.vocab_size is None
    assert data.info.num_classes == 1 + max(max(y) for _, y in [*train.values(), *test.values()] if y)
    np.testing.assert_array_equal(client_sizes(cfg.data, SeedTree(0)), TRAIN)


def test_every_user_is_a_client_when_num_clients_is_not_given(leaf):
    path, _, _ = leaf
    assert config(path).data.num_clients == len(NAMES)  # not the generic default of 30
    synthetic = config_from_dict({"data": {"dataset": "synthetic"}, "train": {"enabled": False}})
    assert synthetic.data.num_clients == 30


def test_fewer_clients_are_the_first_users(leaf):
    path, _, _ = leaf
    full = load_data(config(path, num_clients=None).data, SeedTree(0))
    cfg = config(path, num_clients=2)
    part = load_data(cfg.data, SeedTree(0))
    np.testing.assert_array_equal(part.client_sizes, TRAIN[:2])
    np.testing.assert_array_equal(part.x, full.x[: sum(TRAIN[:2])])
    np.testing.assert_array_equal(part.y_test, full.y_test[: sum(TEST[:2])])  # test set: their union only
    assert part.info == full.info  # num_classes over every user, not only the first N


def test_more_clients_than_users_is_a_one_line_error(leaf):
    path, _, _ = leaf
    cfg = config(path, num_clients=6)  # a number is not checked against the data while validating the schema ...
    for check in (check_data, lambda c: load_data(c.data, SeedTree(0)), lambda c: client_sizes(c.data, SeedTree(0))):
        with pytest.raises(DataError) as err:  # ... but before anything uses the data
            check(cfg)
        msg = str(err.value)
        assert "\n" not in msg and msg.startswith("data.num_clients: 6 is more than the 5 clients")


def test_a_resolved_config_validates_without_its_data(leaf, tmp_path):
    """A run's config.yaml holds the resolved number: reading it back must not need the data."""
    path, _, _ = leaf
    cfg = config(path, num_clients=None)
    resolved = cfg.model_dump(mode="python")
    import shutil

    shutil.rmtree(path / "train")
    again = config_from_dict(resolved)
    assert again.data.num_clients == 5


def test_the_schema_reads_no_data_and_a_validated_config_never_changes(leaf, tmp_path):
    """num_clients: null is resolved before validation (simfl.config.load.resolve_num_clients):
    validating the section alone reads no file and leaves null as it is."""
    from simfl.config.load import resolve_num_clients
    from simfl.config.schema import DataConfig

    missing = {"dataset": "leaf", "path": str(tmp_path / "nothing")}
    assert DataConfig.model_validate(missing).num_clients is None  # no file read, so no DataError
    path, _, _ = leaf
    raw = {"data": {"dataset": "leaf", "path": str(path)}}
    resolved, problem = resolve_num_clients(raw)
    assert problem is None and resolved["data"]["num_clients"] == len(NAMES)
    assert "num_clients" not in raw["data"]  # the caller's mapping is not changed


def test_without_test_folder_each_user_holds_out_test_fraction(tmp_path, leaf_tools):
    rng = np.random.default_rng(1)
    leaf_tools.write(tmp_path, [leaf_tools.obj(leaf_tools.users(rng, NAMES, TRAIN))])
    cfg = config(tmp_path, num_clients=None, test_fraction=0.25)
    data = load_data(cfg.data, SeedTree(3))
    held = np.floor(0.25 * np.array(TRAIN)).astype(int)
    np.testing.assert_array_equal(data.test_sizes, held)
    np.testing.assert_array_equal(data.client_sizes, np.array(TRAIN) - held)
    np.testing.assert_array_equal(client_sizes(cfg.data, SeedTree(3)), data.client_sizes)


def test_a_single_json_file(tmp_path, leaf_tools):
    rng = np.random.default_rng(2)
    f = tmp_path / "all_data_0.json"
    f.write_text(json.dumps(leaf_tools.obj(leaf_tools.users(rng, NAMES, TRAIN))))
    data = load_data(config(f, num_clients=None, test_fraction=0.2).data, SeedTree(0))
    assert data.num_clients == 5 and data.client_sizes.sum() + data.test_sizes.sum() == sum(TRAIN)


def test_split_by_user_gives_a_shared_test_set(tmp_path, leaf_tools):
    rng = np.random.default_rng(3)
    leaf_tools.write(tmp_path, [leaf_tools.obj(leaf_tools.users(rng, NAMES[:3], TRAIN[:3]))],
                     [leaf_tools.obj(leaf_tools.users(rng, ["g1", "g2"], [4, 6]))])
    cfg = config(tmp_path, num_clients=None)
    data = load_data(cfg.data, SeedTree(0))
    assert not data.test_by_client and len(data.x_test) == 10
    np.testing.assert_array_equal(data.test_offsets, np.zeros(4))
    check_data(cfg)  # fine without per-client evaluation
    per_client = config_from_dict({"data": cfg.data.model_dump(), "eval": {"per_client": True},
                                   "algorithm": {"concurrency": 2}})
    with pytest.raises(ConfigError, match=r"^eval.per_client: .*shared test set"):
        check_data(per_client)


def test_test_users_partly_unknown_is_an_error(tmp_path, leaf_tools):
    rng = np.random.default_rng(4)
    leaf_tools.write(tmp_path, [leaf_tools.obj(leaf_tools.users(rng, NAMES[:3], TRAIN[:3]))],
                     [leaf_tools.obj(leaf_tools.users(rng, [NAMES[0], "stranger"], [2, 2]))])
    with pytest.raises(DataError, match=r"part_0.json: test user 'stranger' has no training data"):
        config(tmp_path, num_clients=None)


def test_integer_sequences_are_token_ids(tmp_path, leaf_tools):
    rng = np.random.default_rng(5)
    users = leaf_tools.users(rng, NAMES, TRAIN, dim=12, tokens=True)
    leaf_tools.write(tmp_path, [leaf_tools.obj(users)])
    cfg = config(tmp_path, num_clients=None)
    info = dataset_info(cfg.data)
    top = max(max(map(max, x)) for x, _ in users.values())
    assert info.input_dtype == "int64" and info.vocab_size == top + 1 and info.input_shape == (12,)
    assert load_data(cfg.data, SeedTree(0)).x.dtype == np.int64
    with pytest.raises(ConfigError, match=r"^model.type: logreg needs float features.*model.type: torch"):
        check_data(cfg)
    as_numbers = config(tmp_path, num_clients=None, input_dtype="float32")
    assert dataset_info(as_numbers.data).input_dtype == "float32"
    check_data(as_numbers)


@pytest.mark.parametrize("partition", ["iid", "dirichlet", "shards"])
def test_repartitioning_pools_train_and_test_rows(leaf, partition):
    path, train, test = leaf
    cfg = config(path, num_clients=4, partition=partition, test_fraction=0.2)
    data = load_data(cfg.data, SeedTree(11))
    pooled = sorted([*(v for _, y in train.values() for v in y), *(v for _, y in test.values() for v in y)])
    assert sorted([*data.y.tolist(), *data.y_test.tolist()]) == pooled  # a disjoint cover of train + test
    assert data.num_clients == 4 and data.test_by_client
    y, offsets = train_labels(cfg.data, SeedTree(11))
    np.testing.assert_array_equal(y, data.y)
    np.testing.assert_array_equal(client_sizes(cfg.data, SeedTree(11)), data.client_sizes)
    again = load_data(cfg.data, SeedTree(11))
    np.testing.assert_array_equal(again.x, data.x)  # same seed, same arrays
    np.testing.assert_array_equal(again.x_test, data.x_test)


def test_null_clients_under_repartition_means_one_per_user(leaf):
    path, _, _ = leaf
    assert config(path, num_clients=None, partition="iid").data.num_clients == len(NAMES)


def test_a_changed_file_is_read_again(tmp_path, leaf_tools):
    rng = np.random.default_rng(6)
    leaf_tools.write(tmp_path, [leaf_tools.obj(leaf_tools.users(rng, NAMES, TRAIN))])
    assert config(tmp_path, num_clients=None).data.num_clients == 5
    leaf_tools.write(tmp_path, [leaf_tools.obj(leaf_tools.users(rng, NAMES[:2], TRAIN[:2]))])
    assert config(tmp_path, num_clients=None).data.num_clients == 2


# ------------------------------------------------------------------ malformed files
def _good():
    return {"users": ["a", "b"], "num_samples": [2, 1],
            "user_data": {"a": {"x": [[0.1, 0.2], [0.3, 0.4]], "y": [0, 1]}, "b": {"x": [[0.5, 0.6]], "y": [2]}}}


def _edit(fn):
    obj = _good()
    fn(obj)
    return json.dumps(obj)


MALFORMED = {
    "invalid_json": ('{"users": ["a"', "invalid JSON at line 1"),
    "top_level_list": ("[1, 2]", "top level must be an object"),
    "no_user_data": (_edit(lambda o: o.pop("user_data")), "no key user_data"),
    "count_mismatch": (_edit(lambda o: o["num_samples"].__setitem__(0, 3)), "user 'a': num_samples says 3 but user_data has 2 x"),
    "lengths_differ": (_edit(lambda o: o["num_samples"].append(4)), "2 users but 3 num_samples"),
    "user_missing": (_edit(lambda o: o["user_data"].pop("b")), "user 'b' has no entry in user_data"),
    "extra_user": (_edit(lambda o: o["user_data"].__setitem__("c", {"x": [], "y": []})), "user_data has user 'c'"),
    "duplicate_user": (_edit(lambda o: o.update(users=["a", "a"])), "user 'a' is listed twice"),
    "ragged_x": (_edit(lambda o: o["user_data"]["b"].update(x=[[0.5]])), "x sample 2 has shape (1,) but sample 0 has (2,)"),
    "text_x": (_edit(lambda o: [o["user_data"][u].update(x=["hello"] * n) for u, n in (("a", 2), ("b", 1))]),
               "x samples are str, not numbers or lists of numbers (tokenize text into integer ids first)"),
    "float_label": (_edit(lambda o: o["user_data"]["a"].update(y=[0, 1.5])), "y must hold integer class labels, got float64"),
    "text_label": (_edit(lambda o: o["user_data"]["a"].update(y=["a", "b"])), "y must hold integer class labels, got text"),
    "ragged_label": (_edit(lambda o: o["user_data"]["a"].update(y=[[0, 1], [0, 1]])),
                     "y must be one integer label per row, but its rows differ in shape"),
    "negative_label": (_edit(lambda o: o["user_data"]["a"].update(y=[0, -1])), "negative label -1"),
    "nan_feature": (_edit(lambda o: o["user_data"]["a"].update(x=[[0.1, float("nan")], [0.3, 0.4]])), "x row 0 holds nan"),
    "empty_user": (_edit(lambda o: (o["num_samples"].__setitem__(1, 0), o["user_data"]["b"].update(x=[], y=[]))),
                   "user 'b' has no training sample"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_is_a_one_line_data_error_naming_it(tmp_path, case):
    text, fragment = MALFORMED[case]
    (tmp_path / "train").mkdir()
    bad = tmp_path / "train" / "bad.json"
    bad.write_text(text)
    with pytest.raises(DataError) as err:
        config(tmp_path, num_clients=None)
    msg = str(err.value)
    assert "\n" not in msg and fragment in msg
    assert str(tmp_path) in msg


def test_missing_folder_and_empty_folders(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        config(tmp_path / "nothing", num_clients=None)
    with pytest.raises(DataError, match="no train/ subfolder and no .json file"):
        config(tmp_path, num_clients=None)
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match=r"train: no .json file"):
        config(tmp_path, num_clients=None)
