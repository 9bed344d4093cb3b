"""A checkpoint that fails its check inside a sweep (tampered, corrupted, another user's key, another
simfl's format) is set aside — renamed ``checkpoint.pkl.rejected-<time>``, never deleted — and its
run starts over, so a rerun of the sweep completes it and the run's manifest and the summary agree
(issue 21, item 9). It used to fail that run on every rerun until the file was deleted by hand,
while the manifest said ``interrupted`` and the summary ``failed``."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

import simfl
from simfl.running.checkpoint import CHECKPOINT
from simfl.results import read_manifest
from simfl.sweep import make_plan, run_sweep
from simfl.sweep.workers import execute_run

SWEEP = """\
base:
  data: {num_clients: 12}
  train: {enabled: false}
  algorithm: {type: fedasync, concurrency: 4}
  stop: {sim_time_s: 40}
  eval: {every_s: 5}
seeds: 1
targets: []
"""

TABLES = ("client_updates", "aggregations", "evals")


@pytest.fixture(autouse=True)
def _private_key(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SIMFL_CHECKPOINT_KEY", raising=False)


def _tamper(path):
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF  # one bit pattern changed inside the pickle: the signature no longer matches
    path.write_bytes(bytes(raw))
    return bytes(raw)


def _paused_sweep_run(tmp_path):
    """A finished one-run sweep whose run is then left paused mid-way with a checkpoint (as a tuning
    rung leaves it), and that checkpoint altered."""
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(SWEEP))
    out = tmp_path / "out"
    run_sweep(path, out, workers=1, progress=False)
    (planned,) = make_plan(path).runs
    run_dir = out / "runs" / planned.run_id
    job_yaml = (run_dir / "config.yaml").read_text()
    row = execute_run(job_yaml, str(run_dir), [], pause_at_s=17.0)
    assert row["status"] == "paused" and (run_dir / CHECKPOINT).is_file()
    return path, out, run_dir, _tamper(run_dir / CHECKPOINT)


def test_the_worker_sets_a_rejected_checkpoint_aside_and_starts_over(tmp_path):
    path, out, run_dir, tampered = _paused_sweep_run(tmp_path)
    row = execute_run((run_dir / "config.yaml").read_text(), str(run_dir), [])
    assert row["status"] == "complete" and row["error"] is None
    (aside,) = run_dir.glob(f"{CHECKPOINT}.rejected-*")
    assert aside.read_bytes() == tampered  # renamed, not deleted, not changed
    assert not (run_dir / CHECKPOINT).exists()
    manifest = read_manifest(run_dir)
    assert manifest["status"] == "complete" and "resumed_from_s" not in manifest
    assert aside.name in manifest["restarted_because"] and "signature" in manifest["restarted_because"]
    # started over: the tables of a run that was never paused
    reference = simfl.run(simfl.load_config(run_dir / "config.yaml"), out=tmp_path / "reference", progress=False)
    for table in TABLES:
        pd.testing.assert_frame_equal(pd.read_parquet(run_dir / f"{table}.parquet"), getattr(reference, table),
                                      check_exact=True)


def test_a_sweep_rerun_completes_the_run_and_the_manifest_and_summary_agree(tmp_path):
    path, out, run_dir, _ = _paused_sweep_run(tmp_path)
    outcome = run_sweep(path, out, workers=1, progress=False)
    summary = pd.read_parquet(out / "summary.parquet")
    assert summary.status.tolist() == ["complete"] == [read_manifest(run_dir)["status"]]
    assert outcome.counts["complete"] == 1
    assert len(list(run_dir.glob(f"{CHECKPOINT}.rejected-*"))) == 1


def test_a_second_rejection_keeps_both_files(tmp_path):
    path, out, run_dir, first = _paused_sweep_run(tmp_path)
    execute_run((run_dir / "config.yaml").read_text(), str(run_dir), [], pause_at_s=23.0)
    (first_aside,) = run_dir.glob(f"{CHECKPOINT}.rejected-*")  # the first rejection, on this resume
    second = _tamper(run_dir / CHECKPOINT)
    execute_run((run_dir / "config.yaml").read_text(), str(run_dir), [])
    kept = sorted(p.read_bytes() for p in run_dir.glob(f"{CHECKPOINT}.rejected-*"))
    assert kept == sorted([first, second])
