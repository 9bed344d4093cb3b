"""The plugin examples (examples/plugins): each module against its formula, each config and
each sweep run end to end, as a user runs them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simfl
from simfl.cli import main
from simfl.sweep.spec import expand_sweep, load_sweep, sweep_search_path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "plugins"
CONFIGS = sorted(p for p in EXAMPLES.glob("*.yaml") if not p.stem.endswith("_sweep"))
SWEEPS = sorted(EXAMPLES.glob("*_sweep.yaml"))
SHORT = ["stop.sim_time_s=40", "eval.every_s=10"]


@pytest.fixture(autouse=True)
def _example_modules(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))  # for the unit tests below; configs find them by themselves


def test_every_example_has_a_config_and_a_sweep():
    modules = sorted(p.stem for p in EXAMPLES.glob("*.py"))
    assert modules == sorted(p.stem for p in CONFIGS) == sorted(p.stem.removesuffix("_sweep") for p in SWEEPS)
    assert len(modules) >= 3


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_each_example_config_runs(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = simfl.load_config(path, SHORT)
    res = simfl.run(config, out=tmp_path / "run", progress=False)
    assert res.status == "complete"
    assert res.manifest["server_updates"] > 0 and res.evals.test_accuracy.notna().all()
    # read back as data (a plugin's keys kept as values, never imported): the same config, key for key
    assert simfl.load_run(tmp_path / "run").config.model_dump() == config.model_dump()


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_each_example_sweep_compares_with_fedbuff_in_the_same_worlds(path, tmp_path, monkeypatch):
    spec, base = load_sweep(path)
    runs = expand_sweep(spec, base, list(SHORT), sweep_search_path(path))
    labels = {r.point["label"] for r in runs}
    assert "fedbuff" in labels and len(labels) >= 2
    # same seed, same world: the clients table is one per seed whatever the variant
    short = tmp_path / path.name
    short.write_text(path.read_text().replace(f"base: {spec.base}", f"base: {EXAMPLES / spec.base}")
                     .replace("seeds: 2", "seeds: 1"))
    (tmp_path / (Path(spec.base).stem + ".py")).write_text((EXAMPLES / (Path(spec.base).stem + ".py")).read_text())
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert main(["sweep", str(short), "--out", str(out), "--workers", "1"]) == 0
    summary = pd.read_parquet(out / "summary.parquet")
    assert set(summary.status) == {"complete"} and set(summary.label) == labels
    clients = [pd.read_parquet(out / "runs" / rid / "clients.parquet") for rid in summary.run_id]
    for other in clients[1:]:
        pd.testing.assert_frame_equal(clients[0], other)
    assert main(["report", str(out), "--by", "label", "--reference", "fedbuff"]) == 0
    assert main(["plot", str(out), "--by", "label", "--reference", "fedbuff", "--dpi", "40"]) == 0


# --------------------------------------------------------------- the modules' math
def test_sigmoid_staleness_formula():
    from sigmoid_staleness import Sigmoid

    for k, b in [(1.0, 4.0), (3.0, 2.0), (0.5, 0.0)]:
        s = Sigmoid(type="sigmoid_staleness:Sigmoid", k=k, b=b)
        for tau in range(0, 30):
            expected = (1 + math.exp(-k * b)) / (1 + math.exp(k * (tau - b)))
            assert s(tau) == pytest.approx(expected, rel=1e-12)
        taus = np.arange(30)
        np.testing.assert_allclose(s(taus), [s(int(t)) for t in taus], rtol=1e-12)
        assert s(0) == pytest.approx(1.0) and np.all(np.diff(s(taus)) <= 0)
    assert Sigmoid(type="x", k=1.0, b=4.0)(4) == pytest.approx((1 + math.exp(-4)) / 2)


def test_adaptive_async_weights_follow_the_moving_average():
    config = simfl.load_config(EXAMPLES / "adaptive_async.yaml", ["train.enabled=false", "stop.sim_time_s=60"])
    res = simfl.run(config, progress=False)
    applied = res.client_updates[res.client_updates.status == "applied"].sort_values(["aggregated_time_s", "task_id"])
    alpha, smoothing = config.algorithm.alpha, config.algorithm.smoothing
    typical, expected = 0.0, []
    for tau in applied.staleness.astype(int):
        expected.append(min(1.0, alpha * (typical + 1.0) / (tau + 1.0)))
        typical += smoothing * (tau - typical)
    np.testing.assert_allclose(applied.weight, expected, rtol=1e-12)
    assert applied.staleness.max() > 3 and len(set(np.round(expected, 6))) > 5  # the weight did adapt


def test_quantile_fastest_dispatches_only_fast_clients_while_any_is_free():
    config = simfl.load_config(EXAMPLES / "quantile_fastest.yaml", ["train.enabled=false", "stop.sim_time_s=60",
                                                                    "algorithm.selection.quantile=0.4"])
    res = simfl.run(config, progress=False)
    df, clients = res.client_updates, res.clients
    durations = (clients.latency_s * 2 + res.manifest["model_bytes"] * 8 / (clients.down_mbps * 1e6)
                 + res.manifest["model_bytes"] * 8 / (clients.up_mbps * 1e6)
                 + np.minimum(10, clients.num_samples) * 20 * clients.seconds_per_sample * 1.0)
    fast = set(np.flatnonzero(durations <= np.quantile(durations, 0.4)))
    # 20 fast clients, 10 tasks in flight: a fast client is always free, so nobody else is ever picked
    assert len(fast) == 20 and set(df.client_id) <= fast
    assert len(set(df.client_id)) > 15  # uniform among them, not always the same few
