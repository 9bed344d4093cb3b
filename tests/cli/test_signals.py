"""Signals and faults (issue 13, item 3): SIGTERM is Ctrl-C, an interrupt at any moment from
start-up on is one line and exit 130, a full disk marks the run failed, a killed sweep takes its
workers with it, and plot/report refuse unfinished or damaged runs in one line."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from simfl.cli import main
from simfl.results import run_status

LONG = (
    "data: {num_clients: 200}\ntrain: {enabled: false}\nalgorithm: {concurrency: 50}\n"
    "heterogeneity: {compute: {jitter: {dist: exponential, mean: 1}}}\n"
    "stop: {sim_time_s: null, client_updates: 100000000}\neval: {every_s: null}\nlimits: {memory_gb: 1000}\n"
)


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "simfl.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_the_run_keeps_what_was_recorded(tmp_path, signum):
    cfg = tmp_path / "long.yaml"
    cfg.write_text(LONG)
    out = tmp_path / "run"
    proc = _start("run", str(cfg), "--out", str(out))
    _wait_for(lambda: run_status(out) == "running", proc)
    time.sleep(1.0)
    proc.send_signal(signum)
    stdout, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err == "" and stdout.startswith(f"interrupted: {out} — stopped by interrupted"), (stdout, err)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["stop_reason"] == "interrupted"
    df = pd.read_parquet(out / "client_updates.parquet")
    assert manifest["client_updates"] == df.arrival_time_s.notna().sum() > 0


def _catches_sigterm(pid: int) -> bool:
    """True once the process handles SIGTERM itself: simfl's command line has started."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(caught >> (signal.SIGTERM - 1) & 1)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="watches the process's signal mask through /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("delay", [0.0, 0.3, 1.0, 2.5])
def test_an_interrupt_at_any_moment_of_start_up_is_one_line(tmp_path, signum, delay):
    """Sent ``delay`` s after the command line starts, while it imports simfl, reads and checks
    the config, builds the data and the world, or runs: never a traceback, never a directory
    left ``running``, exit 130 with one line. (Before that moment the interpreter itself is
    starting: Python's own start-up, tens of milliseconds, is outside simfl's reach.)"""
    cfg = tmp_path / "start.yaml"
    cfg.write_text(LONG.replace("num_clients: 200", "num_clients: 3000, partition: dirichlet"))
    out = tmp_path / "run"
    proc = _start("run", str(cfg), "--out", str(out))
    deadline = time.time() + 60
    while not _catches_sigterm(proc.pid) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    time.sleep(delay)
    proc.send_signal(signum)
    stdout, err = proc.communicate(timeout=300)
    assert "Traceback" not in err, err
    assert proc.returncode == 130, (proc.returncode, stdout, err)
    assert len((stdout + err).strip().splitlines()) == 1 and "interrupted" in stdout + err, (stdout, err)
    assert run_status(out) in (None, "interrupted")


def _two_method_sweep(tmp_path: Path, updates: int, seeds: int) -> Path:
    """A dry-run sweep of FedAsync and FedBuff, each run stopping after ``updates`` updates."""
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(f"""\
        base:
          data: {{num_clients: 200}}
          train: {{enabled: false}}
          heterogeneity: {{compute: {{jitter: {{dist: exponential, mean: 1}}}}}}
          algorithm: {{fedasync: {{concurrency: 50}}, fedbuff: {{concurrency: 50}}}}
          stop: {{sim_time_s: null, client_updates: {updates}}}
          limits: {{memory_gb: 1000}}
          eval: {{every_s: null}}
        grid: {{algorithm.type: [fedasync, fedbuff]}}
        seeds: {seeds}
    """))
    return path


def test_sigterm_during_a_sweep_stops_every_worker(tmp_path):
    path = _two_method_sweep(tmp_path, updates=100_000_000, seeds=2)
    out = tmp_path / "out"
    proc = _start("sweep", str(path), "--out", str(out), "--workers", "2")
    _wait_for(lambda: sum(run_status(d) == "running" for d in (out / "runs").glob("*")) == 2, proc)
    workers = _children(proc.pid)
    assert len(workers) == 2
    everyone = _children(proc.pid, workers_only=False)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)  # to the main process only, as kill or a scheduler does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "interrupted; what finished is kept" in err
    _assert_gone(everyone)
    statuses = [run_status(d) for d in (out / "runs").glob("*")]
    assert sorted(statuses) == ["interrupted", "interrupted"]
    summary = pd.read_parquet(out / "summary.parquet")
    assert sorted(summary.status) == ["interrupted", "interrupted", "pending", "pending"]


def test_sigterm_stops_a_one_worker_sweep_instead_of_starting_the_next_run(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent("""\
        base:
          data: {num_clients: 200}
          train: {enabled: false}
          heterogeneity: {compute: {jitter: {dist: exponential, mean: 1}}}
          algorithm: {concurrency: 50}
          stop: {sim_time_s: null, client_updates: 100000000}
          limits: {memory_gb: 1000}
          eval: {every_s: null}
        seeds: 3
    """))
    out = tmp_path / "out"
    proc = _start("sweep", str(path), "--out", str(out), "--workers", "1")
    _wait_for(lambda: any(run_status(d) == "running" for d in (out / "runs").glob("*")), proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert [run_status(d) for d in (out / "runs").glob("*")] == ["interrupted"]


def _children(pid: int, workers_only: bool = True) -> list[int]:
    """Child processes of ``pid``: the pool's workers (``spawn_main``), or all of them (with
    multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and (not workers_only or "spawn_main" in cmdline):
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has stopped computing; only its exit status is left


def _assert_gone(pids: list[int], timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while any(map(_alive, pids)) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, pids)), f"still running: {[p for p in pids if _alive(p)]}"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds worker processes through /proc")
def test_a_killed_sweep_takes_its_workers_with_it_and_resumes(tmp_path):
    path = _two_method_sweep(tmp_path, updates=30_000, seeds=3)
    out = tmp_path / "out"
    cmd = ["sweep", str(path), "--out", str(out), "--workers", "2"]
    proc = _start(*cmd)
    _wait_for(lambda: any(run_status(d) == "running" for d in (out / "runs").glob("*")), proc)
    workers = _children(proc.pid)
    assert len(workers) == 2
    everyone = _children(proc.pid, workers_only=False)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    _assert_gone(everyone)  # nobody computes on for a dead sweep
    for d in (out / "runs").glob("*"):
        assert run_status(d) != "complete" or (d / "evals.parquet").is_file()
    rerun = subprocess.run([sys.executable, "-m", "simfl.cli", *cmd], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    summary = pd.read_parquet(out / "summary.parquet")  # rebuilt from runs/
    assert len(summary) == 6 and (summary.status == "complete").all()


# ------------------------------------------------------------------ a full disk
def test_a_full_disk_marks_the_run_failed_in_one_line(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {num_clients: 5}\ntrain: {enabled: false}\nalgorithm: {concurrency: 2}\nstop: {sim_time_s: 3}\n")

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    out = tmp_path / "run"
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"simfl run: error: {out / 'client_updates.parquet'}: cannot write (No space left on device)"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "No space left on device" in manifest["error"]
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "manifest.json"]  # no temporary files left


def test_a_disk_full_even_for_the_manifest_still_gives_one_line(tmp_path, capsys, monkeypatch):
    """Nothing can be written at the end: the run stays ``running`` (never ``complete``), one line."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {num_clients: 5}\ntrain: {enabled: false}\nalgorithm: {concurrency: 2}\nstop: {sim_time_s: 3}\n")
    import types

    import simfl.results.rundir as rundir

    renames = []

    def replace(src, dst):
        renames.append(Path(dst).name)
        if len(renames) > 2:  # config.yaml and the first manifest fit; nothing after
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        os.replace(src, dst)

    monkeypatch.setattr(rundir, "os", types.SimpleNamespace(replace=replace, getpid=os.getpid))
    out = tmp_path / "run"
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "No space left on device" in err, err
    assert run_status(out) == "running"
    assert renames[:3] == ["config.yaml", "manifest.json", "client_updates.parquet"]
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "manifest.json"]


# ------------------------------------------------------------------ plot and report
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    cfg = tmp / "c.yaml"
    cfg.write_text("data: {num_clients: 5}\ntrain: {enabled: false}\nalgorithm: {concurrency: 2}\nstop: {sim_time_s: 3}\n")
    assert main(["run", str(cfg), "--out", str(tmp / "run")]) == 0
    return tmp / "run"


def _damaged(finished_run: Path, tmp_path: Path, how: str) -> Path:
    import shutil

    d = tmp_path / how
    shutil.copytree(finished_run, d)
    manifest = json.loads((d / "manifest.json").read_text())
    if how == "running":  # what a live run (or one whose process died) looks like
        for t in ("client_updates", "aggregations", "evals", "clients"):
            (d / f"{t}.parquet").unlink()
        manifest = {k: manifest[k] for k in ("kind", "seed", "name", "algorithm", "versions")} | {"status": "running"}
    elif how == "failed":
        for t in ("client_updates", "aggregations", "evals", "clients"):
            (d / f"{t}.parquet").unlink()
        manifest.update(status="failed", error="RuntimeError: boom")
    elif how == "truncated":
        data = (d / "evals.parquet").read_bytes()
        (d / "evals.parquet").write_bytes(data[: len(data) // 2])
    elif how == "missing_table":
        (d / "client_updates.parquet").unlink()
    elif how == "manifest_list":
        manifest = [1, 2]
    (d / "manifest.json").write_text(json.dumps(manifest))
    return d


@pytest.mark.parametrize("command", ["plot", "report"])
@pytest.mark.parametrize("how, expected", [
    ("running", "the run has not finished (status running"),
    ("failed", "the run failed (RuntimeError: boom)"),
    ("truncated", "evals.parquet: unreadable (truncated or corrupt?)"),
    ("missing_table", "no client_updates.parquet"),
    ("manifest_list", "neither a sweep directory"),
])
def test_plot_and_report_on_an_unfinished_or_damaged_run(finished_run, tmp_path, capsys, command, how, expected):
    d = _damaged(finished_run, tmp_path, how)
    assert main([command, str(d)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert expected in err
    assert not (d / "plots").exists()


@pytest.mark.parametrize("command", ["plot", "report"])
def test_plot_and_report_on_a_sweep_with_a_damaged_summary(tmp_path, capsys, command):
    sweep = tmp_path / "sweep"
    (sweep / "runs").mkdir(parents=True)
    (sweep / "summary.parquet").write_bytes(b"PAR1 not really")
    assert main([command, str(sweep)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "summary.parquet: unreadable" in err, err


def test_the_command_line_handles_interrupts_before_any_heavy_import():
    """``simfl`` reaches its interrupt handling first: importing the command line (and the
    ``simfl`` package) loads neither pandas, torch nor the engine, which take seconds during
    which Ctrl-C used to end in a traceback."""
    code = ("import sys, simfl.cli; heavy = ('pandas', 'torch', 'pydantic', 'simfl.running', 'simfl.engine'); "
            "print(sorted(m for m in heavy if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr


# ------------------------------------------------------------------ a hook that never returns, in a sweep
HANGING_PLUGIN = '''
import os, time
from simfl.methods.fedasync import FedAsync

class Hangs(FedAsync):
    """Applies 2000 updates, then never returns (a hook stuck on a dead server)."""
    calls = 0

    def apply(self, server, task, tau):
        Hangs.calls += 1
        if Hangs.calls == 2000:
            open(os.environ["SIMFL_TEST_HUNG_DIR"] + f"/{os.getpid()}", "w").close()
            time.sleep(10**6)
        super().apply(server, task, tau)
'''


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds worker processes through /proc")
@pytest.mark.parametrize("workers", [1, 2])
def test_a_first_sigterm_ends_a_sweep_whose_plugin_hook_hangs(tmp_path, workers):
    """Issue 21, item 9: the main process gets one SIGTERM (as a scheduler sends it before its SIGKILL)
    while every worker's run is stuck in a plugin hook; the sweep still ends, in a bounded time, with
    those runs recorded ``interrupted`` (not left ``running``), and exit 130."""
    (tmp_path / "hangs.py").write_text(HANGING_PLUGIN)
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent("""\
        base:
          data: {num_clients: 50}
          train: {enabled: false}
          algorithm: {type: "hangs:Hangs", concurrency: 10}
          stop: {sim_time_s: null, client_updates: 100000}
          eval: {every_s: null}
        seeds: 2
    """))
    hung = tmp_path / "hung"
    hung.mkdir()
    out = tmp_path / "out"
    env = {**os.environ, "SIMFL_TEST_HUNG_DIR": str(hung)}
    proc = subprocess.Popen([sys.executable, "-m", "simfl.cli", "sweep", str(path), "--out", str(out),
                             "--workers", str(workers)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path)
    _wait_for(lambda: len(list(hung.iterdir())) == workers, proc)
    everyone = _children(proc.pid, workers_only=False)
    proc.send_signal(signal.SIGTERM)  # once, to the main process only
    started = time.monotonic()
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()  # its workers follow it (they watch it)
        raise
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert time.monotonic() - started < 60  # the engine's grace (5 s), not the hook's 10^6 s
    _assert_gone(everyone)
    statuses = sorted(run_status(d) for d in (out / "runs").glob("*"))
    assert statuses == ["interrupted"] * workers
    summary = pd.read_parquet(out / "summary.parquet")
    assert sorted(summary.status) == sorted(["interrupted"] * workers + ["pending"] * (2 - workers))


DROPPING_SOURCE = '''
import os, signal, time

import numpy as np


def arrays():
    try:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while a library reads the data...
        time.sleep(5)
    except KeyboardInterrupt:  # ...and the library drops it
        pass
    rng = np.random.default_rng(0)
    return {"x": rng.random((60, 4)), "y": np.arange(60) % 3, "client_id": np.arange(60) % 6}
'''


def test_an_interrupt_a_library_drops_during_start_up_still_stops_the_run(tmp_path):
    """simfl/interrupts.py: the command line records the interrupt, and the engine honours it when
    the run starts. Before, the run went on to its end (exit 0, complete): an interrupt lost."""
    (tmp_path / "dropping.py").write_text(DROPPING_SOURCE)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {dataset: python, source: dropping:arrays}\ntrain: {enabled: false}\n"
                   "algorithm: {concurrency: 3}\nstop: {sim_time_s: null, client_updates: 3000}\n")
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "simfl.cli", "run", str(cfg), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 130, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and len((proc.stdout + proc.stderr).strip().splitlines()) == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["client_updates"] == 0


def test_the_record_of_an_interrupt_ends_with_its_command():
    """An interrupt recorded by one command does not stop a later run in the same process."""
    from simfl import interrupts

    with pytest.raises(KeyboardInterrupt), interrupts.recorded():
        signal.raise_signal(signal.SIGINT)
    assert not interrupts.requested()
    assert signal.getsignal(signal.SIGINT) is not interrupts.raise_interrupt
