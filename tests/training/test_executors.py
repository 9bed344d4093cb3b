"""Executors (``train.executor``): where jobs are computed never changes the results.

A run on a 2-worker Dask cluster equals the in-process sequential run bit for bit (FedAvg with
over-selection and FedBuff with a staleness bound, with and without on/off availability, so
with lost, discarded and dropped tasks), also when a worker is killed mid-run and when the run
is paused and resumed; cancelled jobs are never computed; the number of jobs on the cluster is
bounded; the devices executor spreads jobs by task id; a cluster that cannot be reached is a
one-line error.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import simfl
from simfl.errors import ConfigError, ExecutorError
from simfl.training.executors.cluster import DaskExecutor
from tests.conftest import _merge
from tests.training.helpers import TRAIN_BASE

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("client_updates", "aggregations", "evals", "clients")
ONOFF = {"type": "onoff", "on_s": {"dist": "exponential", "mean": 3.0}, "off_s": {"dist": "exponential", "mean": 1.0}}
ALGORITHMS = {
    # over-selection: the slowest 2 of 6 tasks per round are discarded (cancelled jobs)
    "fedavg": {"type": "fedavg", "clients_per_round": 4, "over_selection": 0.5},
    # a staleness bound: stale arrivals are dropped (half of them here)
    "fedbuff": {"type": "fedbuff", "concurrency": 6, "buffer_size": 3, "max_staleness": 0},
}


def _config(executor, algorithm: str, availability: bool = True, sim_time_s: float = 20.0, **train):
    sections = {
        "data": {"num_clients": 12},
        "train": {"executor": executor, "dtype": "float32", **train},
        "algorithm": ALGORITHMS[algorithm],
        "stop": {"sim_time_s": sim_time_s},
        "eval": {"every_s": 5.0},
    }
    if availability:
        sections["heterogeneity"] = {"availability": ONOFF}
    return simfl.config_from_dict(_merge(TRAIN_BASE, sections))


def _dask(address: str, **spec):
    return {"type": "dask", "address": address, **spec}


def _assert_same_tables(result, reference) -> None:
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(result, table), getattr(reference, table), check_exact=True)
    np.testing.assert_array_equal(result.final_params, reference.final_params)


@pytest.fixture(scope="module")
def cluster():
    """A 2-worker local cluster of processes (one thread each), shared by this module's runs."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=40) as local:
        yield local


def _trainer(config):
    from simfl.running.world import build_world

    return build_world(config, None, None, None).trainer


# --------------------------------------------------------------------------- bitwise equality
@pytest.mark.parametrize("availability", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["onoff", "always"])
@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_a_run_on_two_dask_workers_equals_the_sequential_run_bitwise(cluster, algorithm, availability):
    reference = simfl.run(_config("sequential", algorithm, availability), progress=False)
    result = simfl.run(_config(_dask(cluster.scheduler_address, max_in_flight=4), algorithm, availability),
                       progress=False)
    _assert_same_tables(result, reference)
    assert result.manifest["executor"] == "dask"
    statuses = set(reference.client_updates.status)
    expected = {"fedavg": "discarded_deadline", "fedbuff": "dropped_stale"}[algorithm]
    assert expected in statuses  # the run had cancelled jobs (over-selection / staleness)
    assert ("lost_offline" in statuses) == availability


@pytest.mark.slow
def test_results_do_not_depend_on_the_worker_count_or_the_cap(cluster):
    """One worker started by the executor itself, everything in flight at once: same tables."""
    reference = simfl.run(_config("sequential", "fedbuff"), progress=False)
    result = simfl.run(_config({"type": "dask", "workers": 1, "max_in_flight": 1000}, "fedbuff"), progress=False)
    _assert_same_tables(result, reference)


# ----------------------------------------------------------------------------- cancellations
def _count_engine_calls(trainer) -> dict[str, set[int]]:
    """Record the task ids the engine cancels and fetches (spying on the trainer's executor)."""
    seen: dict[str, set[int]] = {"cancelled": set(), "fetched": set()}
    executor = trainer.jobs
    cancel, results = executor.cancel, executor.results

    def spy_cancel(job):
        seen["cancelled"].add(job.task_id)
        cancel(job)

    def spy_results(jobs):
        seen["fetched"].update(j.task_id for j in jobs)
        return results(jobs)

    executor.cancel, executor.results = spy_cancel, spy_results
    return seen


def test_a_jobs_step_count_is_its_plan_in_batches():
    """The executor groups jobs by step count without drawing their plans: the count must be the
    plan's length over the batch size, rounded up."""
    from simfl.engine.protocols import Job

    trainer = _trainer(_config("batched", "fedavg", batch_size=7))
    for client in range(12):
        for k in range(3):
            job = Job(task_id=0, client_id=client, task_index=k, start_params=None)
            plan, batch = trainer.plan(job)
            assert trainer.steps(job) == -(-len(plan) // batch) >= 1


def test_the_sequential_executor_computes_exactly_the_fetched_jobs():
    config = _config("sequential", "fedavg")
    trainer = _trainer(config)
    seen = _count_engine_calls(trainer)
    result = simfl.run(config, trainer=trainer, progress=False)
    table = result.client_updates
    ids = {status: set(table.task_id[table.status == status]) for status in set(table.status)}
    # lost, discarded and (at the end) still in flight: cancelled, never computed
    assert seen["cancelled"] == ids["lost_offline"] | ids["discarded_deadline"] | ids["in_flight"]
    assert ids["lost_offline"] and ids["discarded_deadline"]
    assert seen["fetched"] == ids["applied"] and trainer.jobs.computed == len(ids["applied"])


def test_cancelled_dask_jobs_are_dropped_before_submission_or_cancelled(cluster):
    """With at most 2 jobs on the cluster, most lost tasks never leave this process; every job
    sent is collected, cancelled or still in flight; none of the cancelled is ever fetched."""
    config = _config(_dask(cluster.scheduler_address, max_in_flight=2), "fedavg")
    trainer = _trainer(config)
    seen = _count_engine_calls(trainer)
    in_flight: list[int] = []
    executor = trainer.jobs
    fill = executor._fill

    def spy_fill():
        fill()
        in_flight.append(executor.in_flight)

    executor._fill = spy_fill
    try:
        result = simfl.run(config, trainer=trainer, progress=False)
    finally:
        trainer.close()
    reference = simfl.run(_config("sequential", "fedavg"), progress=False)
    _assert_same_tables(result, reference)
    assert not seen["cancelled"] & seen["fetched"]
    assert executor.cancelled_waiting + executor.cancelled_in_flight == len(seen["cancelled"])
    assert executor.cancelled_waiting > 0  # lost before they were ever sent
    assert executor.submitted == executor.computed + executor.cancelled_in_flight + executor.in_flight
    assert max(in_flight) <= 2  # the cap holds after every submission


# ------------------------------------------------------------------------------- failures
def _worker_pids(client) -> dict[str, int]:
    return client.run(os.getpid)


@pytest.mark.slow
def test_killing_a_worker_mid_run_gives_the_same_tables():
    reference = simfl.run(_config("sequential", "fedbuff", sim_time_s=60.0), progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as local:
        config = _config(_dask(local.scheduler_address, max_in_flight=8), "fedbuff", sim_time_s=60.0)
        trainer = _trainer(config)
        executor: DaskExecutor = trainer.jobs
        results, calls = executor.results, []
        before = _worker_pids(executor.client)

        def kill_once(jobs):
            calls.append(len(jobs))
            if len(calls) == 20:  # mid-run, with jobs on both workers
                os.kill(next(iter(before.values())), signal.SIGKILL)
            return results(jobs)

        executor.results = kill_once
        try:
            result = simfl.run(config, trainer=trainer, progress=False)
            after = _worker_pids(executor.client)
        finally:
            trainer.close()
    assert len(calls) > 20
    assert set(before.values()) != set(after.values())  # a worker did die (its nanny restarted it)
    _assert_same_tables(result, reference)


def test_a_cluster_left_without_workers_fails_in_one_line_instead_of_waiting():
    """Every worker retired while a job waits: the run fails within about timeout_s, never hangs."""
    from simfl.engine.protocols import Job

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0",
                                  silence_logs=50) as local:
        trainer = _trainer(_config(_dask(local.scheduler_address, timeout_s=2), "fedavg"))
        executor: DaskExecutor = trainer.jobs
        try:
            executor.client.retire_workers(close_workers=True)
            while executor.client.scheduler_info().get("workers"):
                time.sleep(0.1)
            job = Job(task_id=0, client_id=0, task_index=0, start_params=trainer.initial_params())
            start = time.monotonic()
            with pytest.raises(ExecutorError, match=r"^train.executor: the Dask cluster has had no worker for 2 s") as err:
                executor.results([job])
            assert time.monotonic() - start < 30 and "\n" not in str(err.value)
        finally:
            trainer.close()


def test_a_bad_scheduler_address_is_a_one_line_error():
    config = _config({"type": "dask", "address": "tcp://127.0.0.1:9", "timeout_s": 2}, "fedavg")
    with pytest.raises(ExecutorError, match=r"^train.executor: cannot connect to tcp://127.0.0.1:9: ") as err:
        simfl.run(config, progress=False)
    assert "\n" not in str(err.value)


def test_the_cli_exits_2_with_one_line_on_a_bad_scheduler_address(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(_merge(TRAIN_BASE, {"train": {"executor": {
        "type": "dask", "address": "tcp://127.0.0.1:9", "timeout_s": 2}}, "stop": {"sim_time_s": 5},
        "algorithm": ALGORITHMS["fedavg"], "data": {"num_clients": 12}})))
    proc = subprocess.run([sys.executable, "-m", "simfl.cli", "run", str(cfg), "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "train.executor: cannot connect to tcp://127.0.0.1:9" in lines[0]
    assert simfl.results.read_manifest(tmp_path / "r")["status"] == "failed"


# ---------------------------------------------------------------------------- checkpoints
def test_a_dask_run_paused_and_resumed_equals_the_uninterrupted_run(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SIMFL_CHECKPOINT_KEY", raising=False)
    config = _config(_dask(cluster.scheduler_address, max_in_flight=3), "fedbuff")
    reference = simfl.run(_config("sequential", "fedbuff"), progress=False)
    out = tmp_path / "run"
    for i, pause in enumerate((5.3, 13.0)):
        part = simfl.run(config, out=out, overwrite=True, resume=i > 0, progress=False, pause_at_s=pause)
        assert part.status == "paused"
    final = simfl.run(config, out=out, overwrite=True, resume=True, progress=False)
    assert final.status == "complete"
    _assert_same_tables(final, reference)


@pytest.mark.slow
def test_a_devices_run_paused_and_resumed_equals_the_uninterrupted_run(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SIMFL_CHECKPOINT_KEY", raising=False)
    config = _config({"type": "devices", "devices": ["cpu", "cpu"]}, "fedbuff")
    reference = simfl.run(config, progress=False)
    out = tmp_path / "run"
    assert simfl.run(config, out=out, progress=False, pause_at_s=7.3).status == "paused"
    _assert_same_tables(simfl.run(config, out=out, overwrite=True, resume=True, progress=False), reference)


# -------------------------------------------------------------------------------- devices
def test_devices_spread_jobs_by_task_id_and_equal_sequential_bitwise():
    config = _config({"type": "devices", "devices": ["cpu", "cpu"], "batched": False}, "fedbuff")
    trainer = _trainer(config)
    seen = _count_engine_calls(trainer)
    try:
        result = simfl.run(config, trainer=trainer, progress=False)
    finally:
        trainer.close()
    _assert_same_tables(result, simfl.run(_config("sequential", "fedbuff"), progress=False))
    parts = trainer.jobs.parts
    assert [p.computed for p in parts] == [sum(1 for t in seen["fetched"] if t % 2 == k) for k in range(2)]
    assert all(p.computed > 0 for p in parts)


@pytest.mark.slow
def test_batched_devices_agree_with_sequential_within_rounding():
    """Batched per device: same math, float32 rounding only (relative 1e-4 of the parameters)."""
    reference = simfl.run(_config("sequential", "fedavg", availability=False), progress=False)
    result = simfl.run(_config({"type": "devices", "devices": ["cpu", "cpu", "cpu"]}, "fedavg", availability=False),
                       progress=False)
    assert result.client_updates.status.tolist() == reference.client_updates.status.tolist()
    scale = max(1.0, float(np.abs(reference.final_params).max()))
    np.testing.assert_allclose(result.final_params, reference.final_params, rtol=0, atol=1e-4 * scale)


# ------------------------------------------------------------------------------------ config
@pytest.mark.parametrize("value, message", [
    ("bogus", r"^train.executor: unknown executor 'bogus'; allowed: sequential, batched, or a mapping"),
    ({"type": "ray"}, r"^train.executor.type: expected one of dask, devices, got 'ray'"),
    ({"type": "dask", "workers": 0}, r"^train.executor.workers: "),
    ({"type": "dask", "max_in_flight": 0}, r"^train.executor.max_in_flight: "),
    ({"type": "devices", "devices": []}, r"^train.executor.devices: "),
    ({"type": "dask", "cores": 2}, r"^train.executor.cores: unknown key"),
])
def test_bad_executor_values_are_one_line_errors(value, message):
    with pytest.raises(ConfigError, match=message) as err:
        simfl.config_from_dict({"train": {"executor": value}})
    assert "\n" not in str(err.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the devices are present here")
@pytest.mark.parametrize("devices, message", [(None, "no CUDA device is visible"), (["cuda:0"], "cuda is not present"),
                                              (["cpu", "tpu"], "unknown device 'tpu'")])
def test_missing_devices_are_one_line_errors(devices, message):
    with pytest.raises(ConfigError, match=f"^train.executor.devices: .*{message}") as err:
        simfl.run(_config({"type": "devices", "devices": devices}, "fedavg"), progress=False)
    assert "\n" not in str(err.value)
