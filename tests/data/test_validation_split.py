"""The validation split (``data.validation_fraction``) and evaluation on it (``eval.split``).

Each client holds out floor(f·m) of its m training rows as validation rows; the test rows do not
move; a run evaluated on its validation rows trains exactly as one evaluated on the test set, and
the test split never enters the data the trainer gets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simfl
from simfl.config.load import config_from_dict
from simfl.data import client_sizes, load_data, train_labels
from simfl.data.loaders import clear_source_cache
from simfl.errors import ConfigError
from simfl.rng import SeedTree

ROOT = Path(__file__).resolve().parents[2]


def _data(**keys):
    return config_from_dict({"data": {"num_clients": 12, **keys}, "algorithm": {"concurrency": 2}}).data


def _rows(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in np.asarray(x)}


@pytest.mark.parametrize("keys", [
    {},  # synthetic, natural
    {"dataset": "digits", "partition": "dirichlet", "num_clients": 20},
    {"dataset": "digits", "partition": "iid", "quantity_skew": 1.0},
])
@pytest.mark.parametrize("fraction", [0.1, 0.35])
def test_validation_rows_come_out_of_the_training_rows_and_leave_the_test_rows_alone(keys, fraction):
    tree = SeedTree(3)
    plain = load_data(_data(**keys), tree)
    cfg = _data(**keys, validation_fraction=fraction)
    on_test = load_data(cfg, tree)
    on_val = load_data(cfg, tree, "validation")
    # the test split is the same rows as without a validation split
    np.testing.assert_array_equal(on_test.x_test, plain.x_test)
    np.testing.assert_array_equal(on_test.test_offsets, plain.test_offsets)
    # the training data do not depend on what is evaluated
    np.testing.assert_array_equal(on_test.x, on_val.x)
    np.testing.assert_array_equal(on_test.offsets, on_val.offsets)
    m = plain.client_sizes
    k = np.minimum(np.floor(fraction * m).astype(int), m - 1)
    np.testing.assert_array_equal(on_val.test_sizes, k)
    np.testing.assert_array_equal(on_val.client_sizes, m - k)
    np.testing.assert_array_equal(client_sizes(cfg, tree), m - k)
    y, offsets = train_labels(cfg, tree)
    np.testing.assert_array_equal(y, on_test.y)
    np.testing.assert_array_equal(offsets, on_test.offsets)
    for c in range(plain.num_clients):  # per client: train' and validation partition the old train rows
        before = _rows(plain.client(c)[0])
        train, val = _rows(on_val.client(c)[0]), _rows(on_val.client_test(c)[0])
        assert not train & val and train | val == before
    assert on_val.held_out == "validation" and not _rows(on_val.x_test) & _rows(plain.x_test)


@settings(max_examples=40, deadline=None)
@given(fraction=st.floats(0.01, 0.9), seed=st.integers(0, 1000))
def test_validation_counts_are_floor_f_m_capped_below_m(fraction, seed):
    cfg = _data(validation_fraction=fraction)
    tree = SeedTree(seed)
    m = client_sizes(_data(), tree)
    sizes = client_sizes(cfg, tree)
    assert (sizes >= 1).all()
    np.testing.assert_array_equal(sizes, m - np.minimum(np.floor(fraction * m).astype(int), m - 1))


def test_a_source_with_its_own_test_set_validates_on_training_rows(tmp_path):
    g = np.random.default_rng(0)
    x, y, cid = g.normal(size=(120, 3)), g.integers(0, 4, 120), np.repeat(np.arange(6), 20)
    xt, yt, ct = g.normal(size=(30, 3)), g.integers(0, 4, 30), np.repeat(np.arange(6), 5)
    np.savez(tmp_path / "d.npz", x=x, y=y, client_id=cid, x_test=xt, y_test=yt, client_id_test=ct)
    clear_source_cache()
    cfg = _data(dataset="arrays", path=str(tmp_path / "d.npz"), num_clients=None, validation_fraction=0.25)
    tree = SeedTree(0)
    on_test, on_val = load_data(cfg, tree), load_data(cfg, tree, "validation")
    np.testing.assert_array_equal(on_test.x_test, xt.astype(np.float32))  # the file's test rows, as they are
    np.testing.assert_array_equal(on_val.test_sizes, np.full(6, 5))  # floor(0.25 * 20) of each client's 20 rows
    assert _rows(on_val.x_test) <= _rows(x.astype(np.float32)) and not _rows(on_val.x_test) & _rows(on_test.x)


def test_a_run_evaluated_on_validation_trains_exactly_as_one_evaluated_on_test():
    overrides = ["stop.sim_time_s=20", "data.num_clients=10", "data.validation_fraction=0.2"]
    config = simfl.load_config(ROOT / "configs/flagship.yaml", overrides)
    on_test = simfl.run(config, progress=False)
    on_val = simfl.run(simfl.load_config(ROOT / "configs/flagship.yaml", [*overrides, "eval.split=validation"]),
                       progress=False)
    pd.testing.assert_frame_equal(on_test.client_updates, on_val.client_updates, check_exact=True)
    np.testing.assert_array_equal(on_test.final_params, on_val.final_params)
    assert list(on_val.evals.columns[3:5]) == ["validation_loss", "validation_accuracy"]
    assert "test_accuracy" not in on_val.evals and on_val.evals.validation_accuracy.between(0, 1).all()
    # the same models, scored on other rows
    pd.testing.assert_series_equal(on_test.evals.server_version, on_val.evals.server_version)
    assert not np.array_equal(on_test.evals.test_accuracy, on_val.evals.validation_accuracy)


def test_validation_split_needs_validation_rows():
    with pytest.raises(ConfigError, match=r"eval\.split.*data\.validation_fraction"):
        config_from_dict({"eval": {"split": "validation"}})
    with pytest.raises(ConfigError, match="validation_fraction"):
        config_from_dict({"data": {"validation_fraction": 1.0}})
