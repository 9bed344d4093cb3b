"""Running sweeps: local processes, failures recorded, resume after a killed worker, Dask."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simfl.cli import main
from simfl.results import run_status
from simfl.sweep import run_sweep
from tests.data.conftest import random_images, write_idx_split

ROOT = Path(__file__).resolve().parents[2]

TRAINING_SWEEP = """
base:
  data: {num_clients: 12}
  train: {local_steps: 5}
  heterogeneity:
    compute:
      seconds_per_sample: {dist: lognormal, median: 0.01, sigma: 1.0}
      jitter: {dist: exponential, mean: 1.0}
  algorithm: {fedavg: {clients_per_round: 4}, fedasync: {concurrency: 4}, fedbuff: {concurrency: 4, buffer_size: 2}}
  stop: {sim_time_s: 8}
  eval: {every_s: 1.0}
grid:
  algorithm.type: [fedavg, fedasync, fedbuff]
  heterogeneity.compute.seconds_per_sample.sigma: [0.2, 1.5]
seeds: 2
targets: [0.3, 0.5]
"""

TIMING_COLUMNS = ["host_seconds"]


def _write(tmp_path, text, name="sweep.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("local")
    path = _write(tmp, TRAINING_SWEEP)
    outcome = run_sweep(path, out=tmp / "out", workers=2, progress=False)
    return path, outcome


def test_local_sweep_summary(local_sweep):
    _, outcome = local_sweep
    df = outcome.summary
    assert outcome.planned == len(df) == 3 * 2 * 2 and outcome.ran == 12
    assert (df.status == "complete").all()
    expected = {"run_id", "algorithm.type", "heterogeneity.compute.seconds_per_sample.sigma", "seed", "status",
                "time_to_0.3_s", "time_to_0.5_s", "final_accuracy", "best_accuracy", "applied_updates",
                "lost_updates", "dropped_updates", "discarded_updates", "wasted_compute_s", "mean_staleness",
                "host_seconds"}
    assert expected <= set(df.columns)
    assert df.run_id.is_unique
    for row in df.itertuples():
        run_dir = outcome.path / "runs" / row.run_id
        assert run_status(run_dir) == "complete"
        evals = pd.read_parquet(run_dir / "evals.parquet")
        # the summary's time to target is the first evaluation at or above it
        hit = evals[evals.test_accuracy >= 0.3].sim_time_s
        assert (hit.iloc[0] if len(hit) else np.nan) == pytest.approx(df.loc[row.Index, "time_to_0.3_s"], nan_ok=True)
        assert row.final_accuracy == evals.test_accuracy.iloc[-1]
    # one seed = one world: the population is shared by the three algorithms
    for (_, seed), group in df.groupby(["heterogeneity.compute.seconds_per_sample.sigma", "seed"]):
        tables = [pd.read_parquet(outcome.path / "runs" / rid / "clients.parquet") for rid in group.run_id]
        assert all(t.equals(tables[0]) for t in tables)


def test_rerun_skips_complete_runs(local_sweep, tmp_path):
    path, outcome = local_sweep
    before = {p: p.stat().st_mtime_ns for p in (outcome.path / "runs").glob("*/manifest.json")}
    again = run_sweep(path, out=outcome.path, workers=2, progress=False)
    assert again.ran == 0 and again.skipped == 12
    assert {p: p.stat().st_mtime_ns for p in (outcome.path / "runs").glob("*/manifest.json")} == before
    pd.testing.assert_frame_equal(again.summary.drop(columns=TIMING_COLUMNS), outcome.summary.drop(columns=TIMING_COLUMNS))


def test_dask_local_cluster_gives_the_same_summary(local_sweep, tmp_path):
    distributed = pytest.importorskip("distributed")
    path, outcome = local_sweep
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        dask = run_sweep(path, out=tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    pd.testing.assert_frame_equal(
        dask.summary.drop(columns=TIMING_COLUMNS), outcome.summary.drop(columns=TIMING_COLUMNS), check_exact=True
    )
    # and the run tables themselves are identical
    for rid in outcome.summary.run_id[:3]:
        a = pd.read_parquet(outcome.path / "runs" / rid / "evals.parquet")
        b = pd.read_parquet(tmp_path / "dask" / "runs" / rid / "evals.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_a_sweep_with_bad_data_is_refused_before_anything_runs(tmp_path, capsys):
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    rng = np.random.default_rng(0)
    write_idx_split(good, "train", *random_images(rng, 60))
    images, labels = random_images(rng, 60)
    img, _ = write_idx_split(bad, "train", images, labels)
    img.write_bytes(img.read_bytes()[:-100])  # valid header, truncated pixels: simfl validate reads the sizes
    path = _write(tmp_path, f"""
        base:
          data: {{dataset: idx, partition: iid, num_clients: 4}}
          algorithm: {{concurrency: 2}}
          stop: {{sim_time_s: 2}}
        grid:
          data.path: [{good}, {bad}]
    """)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "truncated" in err and str(img) in err
    assert not (tmp_path / "out").exists()


BOOM = """
from simfl.api import AlgorithmParams, Policy


class Boom(Policy):
    \"\"\"Valid to the config, fails once it runs.\"\"\"

    class Params(AlgorithmParams):
        pass

    def __init__(self, params):
        pass

    def start(self, server):
        raise RuntimeError("boom at start")

    def on_arrivals(self, server, updates):
        pass
"""


def test_a_failing_run_is_recorded_and_the_others_continue(tmp_path, capsys):
    (tmp_path / "boom.py").write_text(BOOM)
    path = _write(tmp_path, """
        base:
          data: {num_clients: 4}
          train: {enabled: false}
          algorithm: {fedasync: {concurrency: 2}}
          stop: {sim_time_s: 2}
        grid:
          algorithm.type: [fedasync, "boom:Boom"]
    """)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1"]) == 1
    df = pd.read_parquet(tmp_path / "out" / "summary.parquet")
    assert df.set_index("algorithm.type").status.to_dict() == {"fedasync": "complete", "boom:Boom": "failed"}
    assert "boom at start" in df.set_index("algorithm.type").error["boom:Boom"]
    assert "1 complete, 1 failed" in capsys.readouterr().out


def test_invalid_sweep_writes_nothing(tmp_path, capsys):
    path = _write(tmp_path, "base: {}\ngrid: {algorithm.type: [fedavg, fedsgd]}\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fedsgd" in err
    assert not (tmp_path / "out").exists()


def _worker_pids(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and "spawn_main" in cmdline:
            pids.append(int(entry.name))
    return pids


def test_resume_after_a_worker_is_killed(tmp_path):
    # six dry runs of ~1 s each on 2 workers; kill a worker once a run has finished
    path = _write(tmp_path, """
        base:
          data: {num_clients: 200}
          train: {enabled: false}
          heterogeneity: {compute: {jitter: {dist: exponential, mean: 1}}}
          algorithm: {fedasync: {concurrency: 50}, fedbuff: {concurrency: 50}}
          stop: {sim_time_s: null, client_updates: 60000}
          eval: {every_s: null}
        grid: {algorithm.type: [fedasync, fedbuff]}
        seeds: 3
    """)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "simfl.cli", "sweep", str(path), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not any(run_status(d) == "complete" for d in (out / "runs").glob("*")):
        time.sleep(0.1)
    workers = _worker_pids(proc.pid)
    assert workers, "no worker process found"
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "rerun the same command to resume" in err and "Traceback" not in err
    first = pd.read_parquet(out / "summary.parquet")
    assert len(first) == 6 and (first.status != "complete").any()
    done_before = set(first[first.status == "complete"].run_id)
    # the rerun completes every run exactly once, keeping the finished ones
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    summary = pd.read_parquet(out / "summary.parquet")
    assert len(summary) == 6 and summary.run_id.is_unique and (summary.status == "complete").all()
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(summary.run_id)
    assert f"{len(done_before)} already complete" in rerun.stdout


def test_a_run_killed_before_its_first_manifest_is_run_again(tmp_path, capsys):
    """kill -9 between writing config.yaml and the manifest leaves a folder that is not yet a run
    directory; the sweep owns runs/<run_id>, so the rerun clears it and runs it."""
    path = _write(tmp_path, "base: {data: {num_clients: 5}, train: {enabled: false}, algorithm: {concurrency: 2}, "
                            "stop: {sim_time_s: 2}}\nseeds: 2\n")
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 0
    victim = next((out / "runs").iterdir())
    for f in victim.iterdir():
        f.unlink()
    (victim / "config.yaml").write_text("seed: 0\n")
    (victim / ".manifest.json.tmp-12345").write_text("{")
    capsys.readouterr()
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 0
    assert "1 run now, 1 already complete" in capsys.readouterr().out
    assert run_status(victim) == "complete" and not (victim / ".manifest.json.tmp-12345").exists()


def test_a_complete_run_with_a_damaged_table_is_run_again(tmp_path, capsys):
    path = _write(tmp_path, "base: {data: {num_clients: 5}, train: {enabled: false}, algorithm: {concurrency: 2}, "
                            "stop: {sim_time_s: 2}}\nseeds: 2\n")
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 0
    victim = next((out / "runs").iterdir())
    data = (victim / "evals.parquet").read_bytes()
    (victim / "evals.parquet").write_bytes(data[: len(data) // 2])
    capsys.readouterr()
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 0
    assert "1 run now, 1 already complete" in capsys.readouterr().out
    assert len(pd.read_parquet(victim / "evals.parquet")) > 0


def test_a_key_swept_over_numbers_and_mappings_gets_a_summary(tmp_path, capsys):
    """Found by the CLI fuzz test: a grid mixing a number and a distribution for one key made
    writing summary.parquet fail inside pyarrow (a traceback); the column is now text."""
    path = _write(tmp_path, """
        base: {train: {enabled: false}, stop: {sim_time_s: 5}, eval: {every_s: null}}
        grid:
          heterogeneity.network.latency_s: [0.0, {dist: exponential, mean: 1}]
    """)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 0
    summary = pd.read_parquet(tmp_path / "out" / "summary.parquet")
    assert summary["heterogeneity.network.latency_s"].tolist() == ["0.0", "{dist: exponential, mean: 1}"]
    assert (summary.status == "complete").all()
