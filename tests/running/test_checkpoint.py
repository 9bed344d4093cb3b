"""Exact mid-run checkpoints: a run stopped at any point and resumed has the tables of a run
that was never stopped, bit for bit."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simfl
from simfl.running.checkpoint import CHECKPOINT, read_checkpoint
from simfl.cli import main
from simfl.results import read_manifest
from tests.engine.helpers import run_stopped_after_checkpoints

TABLES = ("client_updates", "aggregations", "evals", "clients")
ROOT = Path(__file__).resolve().parents[2]

#: Worlds that exercise every kind of pending state: FedBuff's buffer and server optimizer,
#: FedAvg's round timers with deadlines and losses, shared links with an aggregation queue,
#: Oort's learned state, FedAT's tiers, throttled dispatch with cool-downs.
CASES = {
    "fedbuff-yogi": ("configs/fedyogi_buff.yaml", ["stop.sim_time_s=40", "run.checkpoint_every_s=6"]),
    "fedavg-deadline-onoff": ("configs/flagship.yaml", [
        "algorithm.type=fedavg", "algorithm.fedavg.deadline_s=3", "algorithm.fedavg.over_selection=0.3",
        "heterogeneity.availability={type: onoff, on_s: {dist: exponential, mean: 30}, off_s: {dist: exponential, mean: 10}}",
        "stop.sim_time_s=40", "run.checkpoint_every_s=7"]),
    "contention": ("configs/contention.yaml", ["stop.sim_time_s=25", "run.checkpoint_every_s=4"]),
    "oort": ("configs/selection_oort.yaml", ["stop.sim_time_s=30", "run.checkpoint_every_s=6"]),
    "fedat-dry": ("configs/fedat.yaml", ["train.enabled=false", "stop.sim_time_s=300", "run.checkpoint_every_s=20"]),
    "throttled-dry": ("configs/throttled.yaml", ["train.enabled=false", "stop.sim_time_s=120", "run.checkpoint_every_s=9"]),
    # 10 clients, 2,000 tasks each: checkpoints fall inside blocks of the precomputed jitter uniforms
    "jitter-blocks-dry": ("configs/laws_fedasync_exponential.yaml", ["run.checkpoint_every_s=450"]),
}


def _same_tables(a, b, params: bool = True):
    for t in TABLES:
        pd.testing.assert_frame_equal(getattr(a, t), getattr(b, t), check_exact=True)
    if params:
        if a.final_params is None:
            assert b.final_params is None
        else:
            np.testing.assert_array_equal(a.final_params, b.final_params)


@pytest.fixture(autouse=True)
def _private_key(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SIMFL_CHECKPOINT_KEY", raising=False)


SLOW_CASES = {"fedbuff-yogi", "contention", "oort"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_CASES else n for n in CASES])
def test_interrupted_and_resumed_equals_uninterrupted(name, tmp_path, monkeypatch):
    path, overrides = CASES[name]
    config = simfl.load_config(ROOT / path, overrides)
    reference = simfl.run(config, out=tmp_path / "reference", progress=False)
    assert reference.status == "complete" and not (tmp_path / "reference" / CHECKPOINT).exists()
    for stop_after in (1, 3):  # stopped right after the 1st / 3rd checkpoint
        # Ctrl-C between events: interrupted, tables kept (the helper asserts the status)
        out = run_stopped_after_checkpoints(config, tmp_path / f"stopped-{stop_after}", monkeypatch, stop_after)
        assert read_manifest(out)["status"] == "interrupted"
        assert (out / CHECKPOINT).is_file()
        saved = read_checkpoint(out / CHECKPOINT)
        assert saved["sim_time_s"] == pytest.approx(stop_after * config.run.checkpoint_every_s)
        resumed = simfl.run(config, out=out, progress=False, resume=True)
        assert resumed.status == "complete" and resumed.manifest["resumed_from_s"] == saved["sim_time_s"]
        _same_tables(reference, resumed)
        assert not (out / CHECKPOINT).exists()  # simfl's own file, gone once the run is over


def test_resume_without_a_checkpoint_starts_over(tmp_path):
    config = simfl.load_config(ROOT / "configs/flagship.yaml", ["train.enabled=false", "stop.sim_time_s=30"])
    reference = simfl.run(config, progress=False)
    out = tmp_path / "run"
    (out).mkdir()
    (out / "manifest.json").write_text(json.dumps({"status": "interrupted"}))
    resumed = simfl.run(config, out=out, progress=False, resume=True)
    _same_tables(reference, resumed)
    assert "resumed_from_s" not in resumed.manifest


def _long_config(tmp_path) -> Path:
    cfg = tmp_path / "long.yaml"
    cfg.write_text(textwrap.dedent("""
        data: {num_clients: 40}
        algorithm: {type: fedbuff, concurrency: 8, buffer_size: 3}
        heterogeneity:
          compute: {seconds_per_sample: {dist: lognormal, median: 0.01, sigma: 1.0}, jitter: {dist: exponential, mean: 1}}
          availability: {type: onoff, on_s: {dist: exponential, mean: 20}, off_s: {dist: exponential, mean: 5}}
        stop: {sim_time_s: 240}
        eval: {every_s: 10}
        run: {checkpoint_every_s: 5}
    """))
    return cfg


@pytest.mark.parametrize("kill_after", [2, pytest.param(9, marks=pytest.mark.slow)])
def test_killed_with_sigkill_then_resumed_from_the_cli(tmp_path, kill_after):
    """A real ``kill -9`` at an arbitrary moment (after the k-th checkpoint), then ``simfl run --resume``."""
    cfg = _long_config(tmp_path)
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "simfl.cli", "run", str(cfg), "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        m = read_manifest(out) or {}
        if m.get("checkpoint_sim_time_s", 0) >= kill_after * 5:
            break
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail(f"the run ended before it could be killed: {proc.stderr.read()}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert read_manifest(out)["status"] == "running"  # killed: nothing could mark it
    done = subprocess.run([sys.executable, "-m", "simfl.cli", "run", "--resume", str(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "(resumed at" in done.stdout
    reference = simfl.run(simfl.load_config(cfg), progress=False)
    _same_tables(reference, simfl.load_run(out), params=False)


def test_a_checkpoint_simfl_did_not_sign_is_not_loaded(tmp_path, capsys, monkeypatch):
    config = simfl.load_config(ROOT / "configs/flagship.yaml", ["train.enabled=false", "stop.sim_time_s=40",
                                                                "run.checkpoint_every_s=5"])
    out = run_stopped_after_checkpoints(config, tmp_path / "run", monkeypatch)
    # a crafted checkpoint: a pickle that would run a command when loaded
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    raw = (out / CHECKPOINT).read_bytes()
    head = raw[: raw.index(b"\n") + 1]
    (out / CHECKPOINT).write_bytes(head + b"0" * 64 + b"\n" + pickle.dumps({"format": 1, "x": Payload()}))
    assert main(["run", "--resume", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "the checkpoint's signature does not match" in err and "\n" not in err
    assert not marker.exists()
    # altered by one byte: refused too
    (out / CHECKPOINT).write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    assert main(["run", "--resume", str(out)]) == 2


def test_a_checkpoint_of_another_format_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    """A checkpoint holds the engine's state as it is laid out by the simfl that wrote it: one of
    another layout (a signed, valid pickle) is refused, not resumed into a wrong state."""
    from simfl.running.checkpoint import FORMAT, read_checkpoint, write_checkpoint

    config = simfl.load_config(ROOT / "configs/flagship.yaml", ["train.enabled=false", "stop.sim_time_s=40",
                                                                "run.checkpoint_every_s=5"])
    out = run_stopped_after_checkpoints(config, tmp_path / "run", monkeypatch)
    payload = read_checkpoint(out / CHECKPOINT)
    assert payload["format"] == FORMAT
    write_checkpoint(out / CHECKPOINT, {**payload, "format": FORMAT - 1})
    assert main(["run", "--resume", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"format {FORMAT - 1}" in err and "rerun without --resume" in err and "\n" not in err


def test_resume_refuses_other_flags_and_finished_runs(tmp_path, capsys):
    config = simfl.load_config(ROOT / "configs/flagship.yaml", ["train.enabled=false", "stop.sim_time_s=10"])
    simfl.run(config, out=tmp_path / "done", progress=False)
    assert main(["run", "--resume", str(tmp_path / "done")]) == 2
    assert "already over (status complete)" in capsys.readouterr().err
    assert main(["run", str(ROOT / "configs/flagship.yaml"), "--resume", str(tmp_path / "done")]) == 2
    assert main(["run", "--resume", str(tmp_path / "nothing")]) == 2


def test_a_sweep_resumes_an_interrupted_run_from_its_checkpoint(tmp_path, monkeypatch):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(textwrap.dedent(f"""
        base: {ROOT / 'configs/flagship.yaml'}
        grid: {{algorithm.type: [fedbuff]}}
        seeds: 1
    """))
    # run the one run of the sweep once, stopped after a checkpoint, as a killed worker would leave it
    from simfl.sweep import plan_sweep

    _, _, runs = plan_sweep(sweep)
    planned = runs[0]
    config = planned.config.model_copy(update={"run": planned.config.run.model_copy(update={"checkpoint_every_s": 5.0}),
                                               "stop": planned.config.stop.model_copy(update={"sim_time_s": 30.0})})
    out = run_stopped_after_checkpoints(config, tmp_path / "out" / "runs" / planned.run_id, monkeypatch, count=2)
    from simfl.config.load import dump_config
    from simfl.sweep import execute_run

    row = execute_run(dump_config(config), str(out), [])
    assert row["status"] == "complete"
    assert read_manifest(out)["resumed_from_s"] == 10.0
    _same_tables(simfl.run(config, progress=False), simfl.load_run(out), params=False)


def test_a_plugin_with_unpicklable_state_gets_one_line(tmp_path):
    (tmp_path / "lambda_rule.py").write_text(textwrap.dedent("""
        from simfl.api import AlgorithmParams, Field, InFlight, Policy

        class Holds(Policy):
            class Params(AlgorithmParams):
                concurrency: int = Field(2, ge=1, description="in flight")

            def __init__(self, params):
                self.flight = InFlight(params.concurrency)
                self.f = lambda x: x

            def start(self, server):
                self.flight.refill(server)

            def on_arrivals(self, server, updates):
                for t in updates:
                    server.applied(t, 1.0)
                    server.install(None)
                self.flight.refill(server)
    """))
    cfg = tmp_path / "c.yaml"
    cfg.write_text('algorithm: {type: "lambda_rule:Holds"}\ntrain: {enabled: false}\nrun: {checkpoint_every_s: 2}\n')
    with pytest.raises(simfl.ConfigError, match="run.checkpoint_every_s: this run's state cannot be saved"):
        simfl.run(simfl.load_config(cfg), out=tmp_path / "run", progress=False)
    assert read_manifest(tmp_path / "run")["status"] == "failed"
