"""`simfl run` writes the run directory of docs/architecture.md, marked complete only at the end."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import simfl
from simfl.cli import main
from simfl.results import run_status

CONFIG = """
seed: 4
data: {num_clients: 12}
train: {enabled: false}
heterogeneity:
  compute:
    seconds_per_sample: {dist: lognormal, mean: 0.005, sigma: 0.8}
    jitter: {dist: exponential, mean: 1.0}
  network: {latency_s: 0.05, down_mbps: 10, up_mbps: {dist: uniform, low: 1, high: 5}}
  availability: {type: onoff, on_s: {dist: exponential, mean: 20}, off_s: 5}
algorithm: {type: fedbuff, concurrency: 5, buffer_size: 2}
stop: {sim_time_s: 30}
"""

COLUMNS = {
    "client_updates": [
        "client_id", "base_version", "dispatch_time_s", "arrival_time_s", "staleness", "weight",
        "compute_s", "download_s", "upload_s", "num_samples", "status",
    ],
    "aggregations": ["server_version", "sim_time_s", "num_client_updates"],
    "evals": ["sim_time_s", "server_version", "client_updates", "test_loss", "test_accuracy"],
    "clients": ["client_id", "num_samples", "seconds_per_sample", "latency_s", "down_mbps", "up_mbps"],
}


@pytest.fixture
def cfg(tmp_path):
    p = tmp_path / "exp.yaml"
    p.write_text(CONFIG)
    return p


def test_run_writes_every_table_and_a_complete_manifest(cfg, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    assert "complete" in capsys.readouterr().out
    for name, cols in COLUMNS.items():
        df = pd.read_parquet(out / f"{name}.parquet")
        assert set(cols) <= set(df.columns), name
        assert len(df) > 0, name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["seed"] == 4
    assert manifest["stop_reason"] == "sim_time_s" and manifest["sim_end_s"] == 30.0
    assert {"simfl", "python", "numpy", "simpy"} <= set(manifest["versions"])
    assert manifest["host_seconds"] > 0
    statuses = set(pd.read_parquet(out / "client_updates.parquet").status)
    assert statuses <= {"applied", "dropped_stale", "lost_offline", "discarded_deadline", "in_flight", "buffered"}
    # transfer times use the model's real size: logreg on Synthetic = (60 + 1) x 10 float32
    df = pd.read_parquet(out / "client_updates.parquet")
    assert df.download_s.iloc[0] == pytest.approx(0.05 + 610 * 4 * 8 / 10e6)


def test_resolved_config_round_trips(cfg, tmp_path):
    out = tmp_path / "run"
    assert main(["run", str(cfg), "--out", str(out), "--set", "algorithm.buffer_size=3"]) == 0
    saved = simfl.load_config(out / "config.yaml")
    assert saved.algorithm.buffer_size == 3
    original = simfl.load_config(cfg, ["algorithm.buffer_size=3"])
    assert saved.model_dump(exclude={"name"}) == original.model_dump(exclude={"name"})


def test_load_run_matches_in_memory_result(cfg, tmp_path):
    config = simfl.load_config(cfg)
    result = simfl.run(config, out=tmp_path / "run", progress=False)
    loaded = simfl.load_run(tmp_path / "run")
    for name in ("client_updates", "aggregations", "evals", "clients"):
        pd.testing.assert_frame_equal(loaded.table(name), result.table(name), check_dtype=False, check_categorical=False)
    assert loaded.status == "complete"


def test_dry_run_flag_and_model_bytes_override(tmp_path, capsys):
    p = tmp_path / "c.yaml"
    p.write_text("data: {num_clients: 5}\nalgorithm: {concurrency: 2}\nstop: {sim_time_s: 4}\n"
                 "heterogeneity: {network: {down_mbps: 8, model_bytes: 1000000}}\n")
    out = tmp_path / "run"
    assert main(["run", str(p), "--dry-run", "--out", str(out)]) == 0
    df = pd.read_parquet(out / "client_updates.parquet")
    assert df.download_s.iloc[0] == pytest.approx(1.0)  # 1e6 bytes * 8 / 8e6 bit/s
    assert json.loads((out / "manifest.json").read_text())["dry_run"] is True


def test_validate_ok(cfg, capsys):
    assert main(["validate", str(cfg)]) == 0
    assert "ok:" in capsys.readouterr().out


def test_failure_marks_the_directory_failed(cfg, tmp_path, monkeypatch):
    def boom(self, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr("simfl.engine.simulation.Simulation.run", boom)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        simfl.run(simfl.load_config(cfg), out=out, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "simulated crash" in manifest["error"]


def test_ctrl_c_keeps_what_was_recorded(tmp_path):
    # a long dry run, interrupted with SIGINT once it is running
    p = tmp_path / "long.yaml"
    p.write_text(
        "data: {num_clients: 200}\ntrain: {enabled: false}\nalgorithm: {concurrency: 50}\n"
        "heterogeneity: {compute: {jitter: {dist: exponential, mean: 1}}}\n"
        "stop: {sim_time_s: null, client_updates: 10000000}\neval: {every_s: null}\n"
    )
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simfl.cli", "run", str(p), "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.time() + 60
    while run_status(out) != "running" and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["stop_reason"] == "interrupted"
    df = pd.read_parquet(out / "client_updates.parquet")
    assert (df.status == "applied").sum() > 1000
    assert manifest["client_updates"] == df.arrival_time_s.notna().sum()


def test_progress_is_quiet_when_not_a_terminal(cfg, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "simfl.cli", "run", str(cfg), "--out", str(tmp_path / "r")],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"},
    )
    assert proc.returncode == 0 and proc.stderr == ""


def test_paths_in_a_config_file_are_relative_to_it(tmp_path, monkeypatch):
    folder = tmp_path / "cfgs"
    (folder / "traces").mkdir(parents=True)
    (folder / "traces" / "links.csv").write_text(
        "client_id,seconds_per_sample,latency_s,down_mbps,up_mbps\n1,0.01,0.1,5,1\n2,0.02,0.2,6,2\n")
    (folder / "c.yaml").write_text("data: {num_clients: 2}\ntrain: {enabled: false}\n"
                                   "heterogeneity: {profiles: {path: traces/links.csv}}\n"
                                   "algorithm: {concurrency: 1}\nstop: {sim_time_s: 3}\n")
    monkeypatch.chdir(tmp_path)  # not the config's folder
    config = simfl.load_config(folder / "c.yaml")
    assert config.heterogeneity.profiles.path == str((folder / "traces" / "links.csv").resolve())
    assert main(["run", str(folder / "c.yaml"), "--out", str(tmp_path / "out")]) == 0


def test_a_bad_trace_fails_before_the_run(tmp_path, capsys):
    (tmp_path / "links.csv").write_text("client_id,seconds_per_sample,latency_s,down_mbps\n1,0.01,0.1,5\n")
    (tmp_path / "c.yaml").write_text("data: {num_clients: 1}\ntrain: {enabled: false}\n"
                                     "heterogeneity: {profiles: {path: links.csv}}\n"
                                     "algorithm: {concurrency: 1}\nstop: {sim_time_s: 3}\n")
    assert main(["run", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "links.csv" in err and "up_mbps" in err
    assert not (tmp_path / "out").exists()
