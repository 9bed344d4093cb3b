"""Runs that cannot end, or that end in nonsense, are refused or stopped with a clear status."""

from __future__ import annotations

import json
import math
import signal
import textwrap

import numpy as np
import pandas as pd
import pytest

import simfl
from simfl.cli import main
from simfl.running.limits import BYTES_PER_CLIENT, BYTES_PER_TASK, estimate
from tests.conftest import make_config
from tests.engine.helpers import hand_simulation


def _validate(tmp_path, capsys, text: str) -> tuple[int, str]:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(textwrap.dedent(text))
    code = main(["validate", str(cfg)])
    err = capsys.readouterr().err.strip()
    return code, err


# ------------------------------------------------------------- zero-duration tasks
@pytest.mark.parametrize(
    "compute, key",
    [
        ({"seconds_per_sample": 0}, "heterogeneity.compute.seconds_per_sample"),
        ({"jitter": {"dist": "choice", "values": [0, 1]}}, "heterogeneity.compute.jitter"),
        ({"seconds_per_sample": {"dist": "choice", "values": [0.0, 0.01], "weights": [0.1, 0.9]}},
         "heterogeneity.compute.seconds_per_sample"),
    ],
)
def test_a_world_where_a_task_can_take_no_time_is_refused(compute, key):
    with pytest.raises(simfl.ConfigError) as exc:
        make_config(heterogeneity={"compute": compute})
    assert str(exc.value).startswith(f"{key}: a task could take 0 s")


@pytest.mark.parametrize("network", [{"latency_s": 0.01}, {"down_mbps": 100.0}, {"up_mbps": {"dist": "uniform", "low": 1, "high": 2}}])
def test_zero_compute_is_fine_when_the_network_takes_time(network):
    make_config(heterogeneity={"compute": {"seconds_per_sample": 0}, "network": network})


def test_the_engine_stops_when_time_cannot_advance():
    """A world the validation cannot see (hand-built: every task takes 0 s) ends as no_progress."""
    def hang(signum, frame):
        raise TimeoutError("the run never ended")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)
    try:
        sim = hand_simulation([0.0, 0.0, 0.0], algorithm={"type": "fedasync", "concurrency": 2},
                              limits={"events_per_instant": 5000}, stop={"sim_time_s": 10.0})
        out = sim.run()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert out.stop_reason == "no_progress"
    assert out.sim_end_s == 0.0
    assert 5000 < out.counters["steps"] <= 5002 + 10  # stopped right after the limit


# ------------------------------------------------------------------------ divergence
DIVERGING = {"model": {"type": "mlp"}, "train": {"enabled": True, "lr": 1e6}, "stop": {"sim_time_s": 20.0},
             "eval": {"every_s": 2.0}}


def test_divergence_ends_the_run_as_diverged_and_keeps_the_tables(tmp_path):
    # the NaN/inf path (the loss factor, tests/engine/test_loss_explosion.py, would stop it sooner)
    config = simfl.config_from_dict({**DIVERGING, "data": {"num_clients": 10},
                                     "eval": {**DIVERGING.get("eval", {}), "divergence_factor": None}})
    res = simfl.run(config, out=tmp_path / "run", progress=False)
    assert res.status == "diverged" and res.stop_reason == "diverged"
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["status"] == "diverged" and m["diverged_at_s"] < 20.0 and "inf" in m["diverged_because"]
    assert m["diverged_version"] >= 1
    for table in ("client_updates", "aggregations", "evals", "clients"):
        assert (tmp_path / "run" / f"{table}.parquet").is_file()
    # it stopped there: nothing after the divergence
    assert res.manifest["sim_end_s"] == m["diverged_at_s"] and res.evals.sim_time_s.max() <= m["diverged_at_s"]
    # (the event in which it diverged finishes: here the other arrivals of that instant)
    last = res.aggregations[res.aggregations.server_version >= m["diverged_version"]]
    assert (last.sim_time_s == m["diverged_at_s"]).all()
    nan_model = not np.isfinite(res.final_params).all()
    assert nan_model or not np.isfinite(res.evals.test_loss.iloc[-1])


def test_a_nan_model_is_caught_at_install():
    class NanTrainer:
        model_bytes = 8

        def initial_params(self):
            return np.zeros(2)

        def submit(self, job):
            pass

        def results(self, jobs):
            return [np.array([np.nan, 0.0]) if j.task_index == 3 else np.ones(2) for j in jobs]

        def result(self, job):
            return self.results([job])[0]

        def cancel(self, job):
            pass

        def evaluate(self, params, sim_time_s):
            return {"test_loss": 1.0, "test_accuracy": 0.5}

    config = make_config(train={"enabled": True}, algorithm={"type": "fedasync", "concurrency": 1},
                         data={"num_clients": 1}, stop={"sim_time_s": 20.0})
    res = simfl.run(config, trainer=NanTrainer(), progress=False)
    assert res.status == "diverged" and res.manifest["diverged_version"] == 4  # the 4th task's update
    assert res.manifest["diverged_because"] == "the global model holds NaN or inf"
    assert len(res.aggregations) == 4


def test_a_diverged_run_never_reaches_a_target(tmp_path, capsys):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(textwrap.dedent("""
        base: {model: {type: mlp}, data: {num_clients: 10}, stop: {sim_time_s: 10}, eval: {every_s: 2}}
        grid: {train.lr: [0.05, 1000000.0]}
        targets: [0.1]
    """))
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "out"), "--workers", "1"]) == 1
    summary = pd.read_parquet(tmp_path / "out" / "summary.parquet").set_index("train.lr")
    assert summary.loc[1e6, "status"] == "diverged"
    assert math.isnan(summary.loc[1e6, "time_to_0.1_s"]) and math.isnan(summary.loc[1e6, "final_accuracy"])
    assert summary.loc[0.05, "status"] == "complete"
    # the diverged run is final: a rerun does not compute it again
    capsys.readouterr()
    main(["sweep", str(sweep), "--out", str(tmp_path / "out"), "--workers", "1"])
    assert "0 run now, 2 already complete" in capsys.readouterr().out


def test_the_cli_says_diverged_on_one_line(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {type: mlp}\ndata: {num_clients: 10}\ntrain: {lr: 1000000.0}\nstop: {sim_time_s: 10}\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "run")]) == 3
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"diverged: {tmp_path / 'run'} — the ") and " simulated s (server version " in out
    assert "\n" not in out
    assert "final accuracy" not in out


# ------------------------------------------------------------------------- overflow
@pytest.mark.parametrize(
    "text, message",
    [
        ("heterogeneity: {compute: {seconds_per_sample: {dist: lognormal, median: 0.01, sigma: 1e308}}}",
         "heterogeneity.compute.seconds_per_sample: its parameters overflow"),
        ("heterogeneity: {compute: {seconds_per_sample: 1e308}}", "heterogeneity.compute.seconds_per_sample: its parameters overflow"),
        ("heterogeneity: {compute: {jitter: {dist: exponential, mean: 1e300}}}", "heterogeneity.compute.jitter: its parameters overflow"),
        ("heterogeneity: {network: {model_bytes: 1e30}}", "heterogeneity.network.model_bytes: too large a number"),
        ("heterogeneity: {network: {model_bytes: 10000000000000000}}", "heterogeneity.network.model_bytes: must be <= 1000000000000000"),
        ("heterogeneity: {network: {down_mbps: {dist: lognormal, median: 20, sigma: 300}}}", "heterogeneity.network.down_mbps: its parameters overflow"),
        ("heterogeneity: {network: {latency_s: 1e300}}", "heterogeneity.network.latency_s: its parameters overflow"),
        ("stop: {sim_time_s: 1e308}", "stop.sim_time_s: must be <= 1000000000000000000000 (got 1e+308)"),
    ],
)
def test_overflowing_values_are_refused(tmp_path, capsys, text, message):
    code, err = _validate(tmp_path, capsys, text)
    assert code == 2 and err.startswith(f"simfl validate: error: {message}") and "\n" not in err


# --------------------------------------------------------------------- absurd sizes
@pytest.mark.parametrize(
    "text, message",
    [
        ("data: {num_clients: 1000000000}\ntrain: {enabled: false}\nstop: {client_updates: 10}",
         "limits.memory_gb: the run would need about 400 GB (1,000,000,000 clients"),
        ("data: {num_clients: 1000000000000}\ntrain: {enabled: false}\nstop: {client_updates: 10}",
         "limits.memory_gb: the run would need about 4e+05 GB"),
        ("model: {type: mlp, hidden: [100000, 100000]}", "limits.memory_gb: the run would need about 560 GB (30 clients, 10,007,200,010 parameters × 14 model copies"),
        ("data: {num_clients: 100000000}\ntrain: {enabled: false}\nalgorithm: {concurrency: 100000000}\nstop: {sim_time_s: 10}",
         "limits.memory_gb: the run would need about 190 GB (100,000,000 clients, 5e+08 task records)"),
        ("eval: {every_s: 1e-9}", "eval.every_s: about 4e+10 evaluations estimated > limits.evaluations (1e+06)"),
        ("stop: {sim_time_s: 1e20}", "stop: about 5e+20 client updates estimated"),
    ],
)
def test_absurd_sizes_are_refused_with_the_estimate(tmp_path, capsys, text, message):
    code, err = _validate(tmp_path, capsys, text)
    assert code == 2 and err.startswith(f"simfl validate: error: {message}"), err
    assert "\n" not in err


def test_limits_can_be_raised(tmp_path, capsys):
    code, _ = _validate(tmp_path, capsys, "eval: {every_s: 1e-5}\nlimits: {evaluations: 1e8}\n")
    assert code == 0


def test_sweeps_with_absurd_run_counts_are_refused_before_expanding(tmp_path):
    from simfl.sweep.spec import expand_sweep, load_sweep

    path = tmp_path / "s.yaml"
    path.write_text("base: {train: {enabled: false}}\ngrid: {algorithm.alpha: [0.1, 0.2]}\nseeds: 1000000000\n")
    with pytest.raises(simfl.ConfigError, match=r"seeds: the sweep has 2,000,000,000 runs > max_runs \(100,000\)"):
        expand_sweep(*load_sweep(path))


def test_the_estimates_follow_their_formulas():
    config = make_config(data={"num_clients": 1000}, algorithm={"type": "fedasync", "concurrency": 20},
                         stop={"sim_time_s": 100.0}, eval={"every_s": 2.0})
    est = estimate(config, num_params=610, model_bytes=2440)
    # every task computes 20 steps x 10 samples x 0.005 s = 1 s (no network): 20 in flight -> 20 updates/s
    assert est["rate"] == pytest.approx(20.0)
    assert est["updates"] == pytest.approx(2000.0)
    assert est["evaluations"] == pytest.approx(51.0)
    assert est["memory"] == pytest.approx(1000 * BYTES_PER_CLIENT + 2000 * BYTES_PER_TASK)  # a dry run: no models
