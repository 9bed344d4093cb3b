"""Datasets with their own clients through the command line and a run: malformed files fail
`simfl validate` and `simfl run` with one line and exit code 2 before any run directory
exists; clients.parquet sizes equal the data's; the LEAF digits generator writes a dataset
that `dataset: leaf` loads."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import simfl
from simfl.cli import main
from simfl.data import load_data
from simfl.rng import SeedTree

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "examples" / "own_model_and_data" / "make_leaf_digits.py"


def _generator():
    spec = importlib.util.spec_from_file_location("make_leaf_digits", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_config(tmp_path: Path, data: dict, **sections) -> Path:
    cfg = {"data": data, "train": {"enabled": False}, "algorithm": {"type": "fedavg", "clients_per_round": 2},
           "stop": {"sim_time_s": 5}, **sections}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _leaf_train(folder: Path, text: str) -> Path:
    (folder / "train").mkdir(parents=True)
    (folder / "train" / "bad.json").write_text(text)
    return folder


GOOD_LEAF = {"users": ["a", "b"], "num_samples": [2, 1],
             "user_data": {"a": {"x": [[0.1], [0.2]], "y": [0, 1]}, "b": {"x": [[0.3]], "y": [1]}}}


def _malformed(tmp_path: Path, case: str) -> tuple[dict, str]:
    """A data section pointing at a malformed file, and the fragment its one-line error holds."""
    if case == "leaf_count":
        bad = {**GOOD_LEAF, "num_samples": [2, 5]}
        return {"dataset": "leaf", "path": str(_leaf_train(tmp_path / "d", json.dumps(bad))), "num_clients": None}, \
            "user 'b': num_samples says 5 but user_data has 1 x"
    if case == "leaf_json":
        return {"dataset": "leaf", "path": str(_leaf_train(tmp_path / "d", "{oops")), "num_clients": None}, \
            "invalid JSON"
    if case == "npz_nan":
        np.savez(tmp_path / "d.npz", x=np.array([[np.nan], [1.0], [2.0]]), y=np.array([0, 1, 1]),
                 client_id=np.array([0, 1, 1]))
        return {"dataset": "arrays", "path": str(tmp_path / "d.npz"), "num_clients": None}, "x row 0 holds nan"
    if case == "npz_labels_iid":  # not read while validating the schema: caught by the data check
        np.savez(tmp_path / "d.npz", x=np.ones((4, 1)), y=np.array([0.0, 1.0, 0.5, 1.0]))
        return {"dataset": "arrays", "path": str(tmp_path / "d.npz"), "num_clients": 2, "partition": "iid"}, \
            "y must hold integer class labels"
    if case == "parquet_ragged_iid":
        pd.DataFrame({"x": [[0.1, 0.2], [0.3], [0.1, 0.1]], "y": [0, 1, 1]}).to_parquet(tmp_path / "d.parquet")
        return {"dataset": "arrays", "path": str(tmp_path / "d.parquet"), "num_clients": 2, "partition": "iid"}, \
            "column x is ragged"
    raise AssertionError(case)


CASES = ["leaf_count", "leaf_json", "npz_nan", "npz_labels_iid", "parquet_ragged_iid"]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("case", CASES)
def test_malformed_data_exit_2_one_line_no_run_directory(tmp_path, capsys, case, command):
    data, fragment = _malformed(tmp_path, case)
    cfg = write_config(tmp_path, data)
    out = tmp_path / "run"
    argv = [command, str(cfg)] + (["--out", str(out)] if command == "run" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0] and "Traceback" not in err[0]
    assert not out.exists()


def test_no_traceback_from_the_console_script(tmp_path):
    data, fragment = _malformed(tmp_path, "leaf_count")
    cfg = write_config(tmp_path, data)
    proc = subprocess.run([sys.executable, "-m", "simfl.cli", "validate", str(cfg)], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and fragment in proc.stderr


def test_clients_parquet_sizes_equal_the_data(tmp_path):
    _generator().write_leaf(tmp_path / "leaf", writers=12, mean_samples=10, seed=3)
    cfg = write_config(tmp_path, {"dataset": "leaf", "path": str(tmp_path / "leaf"), "num_clients": None})
    assert main(["run", str(cfg), "--out", str(tmp_path / "run")]) == 0
    clients = pd.read_parquet(tmp_path / "run" / "clients.parquet")
    train = [json.loads(f.read_text()) for f in sorted((tmp_path / "leaf" / "train").glob("*.json"))]
    sizes = [n for part in train for n in part["num_samples"]]
    assert clients["num_samples"].tolist() == sizes
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["status"] == "complete"


def test_leaf_digits_generator_writes_a_dataset_leaf_loads(tmp_path):
    gen = _generator()
    gen.write_leaf(tmp_path / "a", files=2, writers=10, mean_samples=12, seed=5)
    gen.write_leaf(tmp_path / "b", files=2, writers=10, mean_samples=12, seed=5)
    for split in ("train", "test"):  # deterministic: the same bytes
        for f in sorted((tmp_path / "a" / split).glob("*.json")):
            assert f.read_bytes() == (tmp_path / "b" / split / f.name).read_bytes()
    config = simfl.load_config(None, {"data.dataset": "leaf", "data.path": str(tmp_path / "a"),
                                      "data.num_clients": None, "algorithm.concurrency": 2})
    data = load_data(config.data, SeedTree(0))
    train = [json.loads(f.read_text()) for f in sorted((tmp_path / "a" / "train").glob("*.json"))]
    test = [json.loads(f.read_text()) for f in sorted((tmp_path / "a" / "test").glob("*.json"))]
    assert data.num_clients == 10
    assert data.client_sizes.tolist() == [n for p in train for n in p["num_samples"]]
    assert data.test_sizes.tolist() == [n for p in test for n in p["num_samples"]]
    assert data.info.input_shape == (64,) and data.info.num_classes <= 10
    assert data.x.min() >= 0 and data.x.max() <= 1
    # every writer's test share is floor(0.2 n) (at least one) of its n samples
    n = data.client_sizes + data.test_sizes
    np.testing.assert_array_equal(data.test_sizes, np.maximum(1, np.floor(0.2 * n).astype(int)))


def test_writer_label_skew_follows_alpha(tmp_path):
    """Mean distinct labels per writer: few under alpha 0.05, nearly all ten under alpha 100."""
    gen = _generator()

    def distinct(alpha):
        train, _ = gen.make_writers(writers=20, mean_samples=30, alpha=alpha, seed=1)
        return np.mean([len(set(train["user_data"][u]["y"])) for u in train["users"]])

    assert distinct(0.05) < 4 < 8 < distinct(100.0)


def test_input_shape_reshapes_leaf_vectors_for_the_cnn(tmp_path):
    _generator().write_leaf(tmp_path / "leaf", writers=6, mean_samples=10, seed=2)
    data = {"dataset": "leaf", "path": str(tmp_path / "leaf"), "num_clients": None}
    cfg = write_config(tmp_path, {**data, "input_shape": [1, 8, 8]}, model={"type": "cnn"})
    assert main(["validate", str(cfg)]) == 0
    config = simfl.load_config(cfg)
    flat = load_data(simfl.load_config(write_config(tmp_path, data)).data, SeedTree(0))
    shaped = load_data(config.data, SeedTree(0))
    assert shaped.info.input_shape == (1, 8, 8) and shaped.x_test.shape[1:] == (1, 8, 8)
    np.testing.assert_array_equal(shaped.x.reshape(len(shaped.x), -1), flat.x)
    bad = write_config(tmp_path, {**data, "input_shape": [1, 7, 7]})
    with pytest.raises(Exception, match=r"data.input_shape \[1, 7, 7\] holds 49 values but x samples hold 64"):
        simfl.load_config(bad)
