"""examples/own_model_and_data: the generated datasets, both configs, the FedAvg/FedBuff sweep and
the notebook, run as a user runs them (on copies in a temporary folder; nothing is written into
the repository)."""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from nbclient import NotebookClient

import simfl
from simfl.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own_model_and_data"
SHORT = ["--set", "stop.sim_time_s=40", "--set", "eval.every_s=10"]


def _module(name: str, folder: Path = EXAMPLE):
    spec = importlib.util.spec_from_file_location(f"_omd_{name}", folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    """A copy of the example folder with its two datasets generated at the configs' paths."""
    folder = tmp_path_factory.mktemp("own_model_and_data")
    for p in [*EXAMPLE.glob("*.py"), *EXAMPLE.glob("*.yaml"), *EXAMPLE.glob("*.ipynb")]:
        shutil.copy(p, folder / p.name)
    _module("make_leaf_digits", folder).write_leaf(folder / "leaf_digits")
    _module("make_sequences", folder).write_npz(folder / "sequences.npz")
    return folder


def _leaf(folder: Path, split: str) -> dict:
    (path,) = sorted((folder / "leaf_digits" / split).glob("*.json"))
    return json.loads(path.read_text())


def _above_chance(accuracy: float, num_classes: int, n_test: int) -> None:
    """Accuracy beyond chance by 4 standard errors of a chance-level classifier on n_test samples."""
    p = 1 / num_classes
    assert accuracy > p + 4 * math.sqrt(p * (1 - p) / n_test), (accuracy, p, n_test)


def _float_size(module) -> int:
    return sum(t.numel() for t in module.parameters()) + sum(
        b.numel() for b in module.buffers() if b.is_floating_point())


def test_configs_read_what_the_scripts_write_by_default():
    for config, script in [("bn_cnn_leaf.yaml", "make_leaf_digits"), ("lstm_sequences.yaml", "make_sequences")]:
        path = yaml.safe_load((EXAMPLE / config).read_text())["data"]["path"]
        assert (EXAMPLE / path).resolve() == _module(script).DEFAULT_OUT
    ignored = (EXAMPLE / ".gitignore").read_text().split()
    assert "leaf_digits/" in ignored and "sequences.npz" in ignored


def test_bn_cnn_on_leaf_writers(example):
    out = example / "runs" / "bn_cnn"
    assert main(["run", str(example / "bn_cnn_leaf.yaml"), *SHORT, "--out", str(out)]) == 0
    run = simfl.load_run(out)
    train, test = _leaf(example, "train"), _leaf(example, "test")
    # natural split: one client per writer, in file order, holding exactly that writer's samples
    assert len(run.clients) == len(train["users"]) == 40
    assert run.clients.num_samples.tolist() == train["num_samples"]
    # the transfer size is the module's parameters and floating buffers (BatchNorm statistics), float32
    models = _module("models", example)
    module = models.bn_cnn((1, 8, 8), 10, **run.config.model.kwargs)
    n_buffers = sum(b.numel() for b in module.buffers() if b.is_floating_point())
    assert n_buffers == 2 * sum(run.config.model.kwargs["channels"])  # running mean and var per channel
    assert run.manifest["model_bytes"] == 4 * _float_size(module)
    _above_chance(run.evals.test_accuracy.iloc[-1], 10, sum(test["num_samples"]))


def test_lstm_on_token_sequences_unrolled_equals_nn_lstm(example):
    data = np.load(example / "sequences.npz")
    results = {}
    for cell in ["unrolled", "torch"]:
        out = example / "runs" / f"lstm_{cell}"
        assert main(["run", str(example / "lstm_sequences.yaml"), *SHORT, "--set", f"model.kwargs.cell={cell}",
                     "--out", str(out)]) == 0
        results[cell] = simfl.load_run(out)
    run = results["unrolled"]
    users = np.unique(data["client_id"])
    assert len(run.clients) == len(users)
    assert run.clients.num_samples.tolist() == np.bincount(data["client_id"]).tolist()
    assert run.manifest["executor"] == "batched" and results["torch"].manifest["executor"] == "sequential"
    models = _module("models", example)
    kwargs = run.config.model.kwargs
    assert run.manifest["model_bytes"] == 4 * _float_size(models.lstm((data["x"].shape[1],), 4, **kwargs))
    _above_chance(run.evals.test_accuracy.iloc[-1], int(data["y"].max()) + 1, len(data["y_test"]))
    # same parameters, same initialisation, same math: nn.LSTM differs only by float rounding
    a, b = run.evals, results["torch"].evals
    np.testing.assert_allclose(a.test_loss, b.test_loss, rtol=1e-4)
    assert np.abs(a.test_accuracy - b.test_accuracy).max() <= 1 / len(data["y_test"])


def test_make_sequences_python_source_is_the_npz(example):
    seq = _module("make_sequences", example)
    data = np.load(example / "sequences.npz")
    direct = seq.sequences()
    assert set(direct) == set(data.files)
    for key in data.files:
        np.testing.assert_array_equal(direct[key], data[key])
    # the class is in the order of the tokens: x[t+1] - x[t] = 1 + y (mod vocab) w.p. signal + 1/vocab
    steps = (np.diff(data["x"], axis=1) - 1 - data["y"][:, None]) % 16 == 0
    n = steps.size
    p = 0.6 + 0.4 / 16
    assert abs(steps.mean() - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_compare_sweep_fedavg_and_fedbuff_in_the_same_worlds(example):
    base = example / "bn_cnn_leaf.yaml"
    base.write_text(base.read_text().replace("sim_time_s: 120", "sim_time_s: 40"))
    out = example / "sweeps" / "compare"
    assert main(["sweep", str(example / "compare_sweep.yaml"), "--out", str(out), "--workers", "1"]) == 0
    summary = pd.read_parquet(out / "summary.parquet")
    assert sorted(zip(summary.label, summary.seed)) == [("fedavg", 0), ("fedavg", 1), ("fedbuff", 0), ("fedbuff", 1)]
    assert set(summary.status) == {"complete"}
    clients = {(r.label, r.seed): pd.read_parquet(out / "runs" / r.run_id / "clients.parquet")
               for r in summary.itertuples()}
    for seed in (0, 1):  # common random numbers: one world per seed, whatever the method
        pd.testing.assert_frame_equal(clients["fedavg", seed], clients["fedbuff", seed])
    assert not clients["fedavg", 0].seconds_per_sample.equals(clients["fedavg", 1].seconds_per_sample)
    assert main(["report", str(out), "--by", "label", "--reference", "fedavg"]) == 0


def test_notebook_executes_and_writes_nothing(example, monkeypatch):
    path = EXAMPLE / "compare.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # committed without outputs, like notebooks/
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    before = sorted(p.relative_to(example) for p in example.rglob("*"))
    monkeypatch.setenv("SIMFL_NOTEBOOK_SMALL", "1")
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(example)}}).execute()
    after = sorted(p.relative_to(example) for p in example.rglob("*") if "__pycache__" not in p.parts)
    assert after == [p for p in before if "__pycache__" not in p.parts]
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error" or o.get("name") == "stderr"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1
    text = "".join(o.get("text", "") for o in outputs)
    assert "fedavg: " in text and "fedbuff: " in text and "40 clients" in text and "time to 0.6 (s)" in text
