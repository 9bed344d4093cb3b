"""User files are sacred (issue 13, item 1): `--overwrite` replaces only a simfl run directory,
a sweep never replaces files it did not write nor another sweep's summary, a `name` is not a
path, and one sweep directory has one writer at a time."""

from __future__ import annotations

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
from simfl.results.sweepdir import LOCK_FILE, SWEEP_MANIFEST, sweep_lock

CONFIG = "data: {num_clients: 5}\ntrain: {enabled: false}\nalgorithm: {concurrency: 2}\nstop: {sim_time_s: 2}\n"

SWEEP = """\
base: {data: {num_clients: 5}, train: {enabled: false}, algorithm: {concurrency: 2}, stop: {sim_time_s: 2}}
grid: {algorithm.type: [fedasync, fedbuff]}
seeds: 2
"""


def snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``root`` (except under ``skip``, and the sweep lock, which records who
    last held it): size, mtime and content."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != LOCK_FILE and (skip is None or skip not in p.parents):
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns, p.read_bytes())
    return out


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def project(tmp_path):
    """A researcher's project folder: their own config.yaml (named like simfl's), notes, data."""
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (folder / "config.yaml").write_text(CONFIG)
    (folder / "notes.txt").write_text("my notes\n")
    (folder / "data" / "evals.parquet").write_bytes(b"not simfl's")
    return folder


# ------------------------------------------------------------------ simfl run --overwrite
@pytest.mark.parametrize("overwrite", [True, False])
def test_run_into_a_project_folder_changes_nothing(project, capsys, monkeypatch, overwrite):
    monkeypatch.chdir(project)
    before = snapshot(project)
    argv = ["run", "config.yaml", "--out", "."] + (["--overwrite"] if overwrite else [])
    assert main(argv) == 2
    line = one_line(capsys)
    assert "--out ." in line and "not a simfl run" in line
    assert ("--overwrite replaces only a simfl run directory" in line) == overwrite
    assert snapshot(project) == before


def test_overwrite_replaces_a_run_and_keeps_the_users_files(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG)
    out = tmp_path / "run"
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    (out / "notes.txt").write_text("what I saw\n")
    first = json.loads((out / "manifest.json").read_text())
    assert first["kind"] == "simfl run"
    assert main(["run", str(cfg), "--out", str(out), "--set", "seed=3", "--overwrite"]) == 0
    second = json.loads((out / "manifest.json").read_text())
    assert second["status"] == "complete" and second["seed"] == 3
    assert (out / "notes.txt").read_text() == "what I saw\n"


def test_a_run_directory_of_an_older_simfl_can_be_overwritten(tmp_path):
    """Manifests written before ``kind`` existed are recognised by simfl's version entry."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG)
    out = tmp_path / "run"
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["kind"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main(["run", str(cfg), "--out", str(out), "--overwrite"]) == 0


def test_a_manifest_that_is_not_simfls_does_not_count(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG)
    out = tmp_path / "web"
    out.mkdir()
    (out / "manifest.json").write_text('{"name": "my web app", "status": "complete"}')
    (out / "config.yaml").write_text("port: 80\n")
    before = snapshot(out)
    assert main(["run", str(cfg), "--out", str(out), "--overwrite"]) == 2
    assert "not a simfl run" in one_line(capsys)
    assert snapshot(out) == before


# ------------------------------------------------------------------ names are not paths
@pytest.mark.parametrize("name", ["../../escaped", "ABSOLUTE", "a/b", ".."])
def test_a_config_name_is_not_a_path(tmp_path, capsys, monkeypatch, name):
    work = tmp_path / "work"
    work.mkdir()
    name = str(tmp_path / "outside") if name == "ABSOLUTE" else name
    (work / "c.yaml").write_text(CONFIG + f"name: {json.dumps(name)}\n")
    monkeypatch.chdir(work)
    before = snapshot(tmp_path)
    assert main(["run", "c.yaml"]) == 2  # no --out: the default root is runs/<name>-<time>
    line = one_line(capsys)
    assert line.startswith("simfl run: error: name: must be a name, not a path"), line
    assert snapshot(tmp_path) == before and sorted(tmp_path.iterdir()) == [work]
    assert main(["run", str(work / "c.yaml"), "--set", "name=ok"]) == 0  # --set replaces it
    capsys.readouterr()


def test_a_sweep_name_is_not_a_path(tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "s.yaml").write_text("name: ../../escaped\n" + SWEEP)
    monkeypatch.chdir(work)
    before = snapshot(tmp_path)
    assert main(["sweep", "s.yaml", "--workers", "1"]) == 2
    assert "name: must be a name, not a path" in one_line(capsys)
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------ sweep directories
def _sweep(folder: Path, text: str = SWEEP, name: str = "sweep.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_sweep_into_its_own_folder_leaves_the_sweep_file_alone(tmp_path, capsys):
    """DIR = the sweep file's folder: the user's sweep.yaml is neither rewritten nor broken."""
    path = _sweep(tmp_path / "exp")
    (tmp_path / "exp" / "README.md").write_text("my experiment\n")
    before = snapshot(tmp_path / "exp")
    assert main(["sweep", str(path), "--out", str(tmp_path / "exp"), "--workers", "1"]) == 0
    after = snapshot(tmp_path / "exp")
    assert {k: v for k, v in after.items() if k in before} == before
    assert {k for k in after if k not in before and not k.startswith("runs/")} == {"summary.parquet", SWEEP_MANIFEST}
    assert (tmp_path / "exp" / LOCK_FILE).is_file()
    assert "4 run now" in capsys.readouterr().out
    # rerunning the same sweep resumes it
    assert main(["sweep", str(path), "--out", str(tmp_path / "exp"), "--workers", "1"]) == 0
    assert "0 run now, 4 already complete" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "exp" / SWEEP_MANIFEST).read_text())
    assert manifest["kind"] == "simfl sweep" and manifest["name"] == "sweep" and len(manifest["runs"]) == 4
    assert manifest["sweep"]["grid"] == {"algorithm.type": ["fedasync", "fedbuff"]}


def test_another_sweep_in_the_same_folder_is_refused_unless_asked(tmp_path, capsys):
    first = _sweep(tmp_path / "a", SWEEP)
    second = _sweep(tmp_path / "b", SWEEP.replace("seeds: 2", "seeds: 3"))
    out = tmp_path / "out"
    assert main(["sweep", str(first), "--out", str(out), "--workers", "1"]) == 0
    capsys.readouterr()
    before = snapshot(out)
    assert main(["sweep", str(second), "--out", str(out), "--workers", "1"]) == 2
    line = one_line(capsys)
    assert "holds another sweep ('sweep': 4 runs, 4 of them in this sweep)" in line and "--replace-sweep" in line
    assert snapshot(out) == before
    # asked: the folder becomes the second sweep's; the 4 shared runs are reused, 2 are new
    assert main(["sweep", str(second), "--out", str(out), "--workers", "1", "--replace-sweep"]) == 0
    assert "6 runs (2 run now, 4 already complete)" in capsys.readouterr().out
    assert len(pd.read_parquet(out / "summary.parquet")) == 6
    # and now the first is the other sweep
    assert main(["sweep", str(first), "--out", str(out), "--workers", "1"]) == 2
    assert "6 runs, 4 of them in this sweep" in one_line(capsys)


def test_a_dry_run_of_a_sweep_is_another_sweep(tmp_path, capsys):
    path = _sweep(tmp_path / "exp", SWEEP.replace("train: {enabled: false}, ", "train: {local_steps: 1}, "))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--dry-run"]) == 0
    capsys.readouterr()
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    assert "holds another sweep" in one_line(capsys)


@pytest.mark.parametrize("what", ["summary", "runs"])
def test_a_folder_with_files_simfl_did_not_write_is_refused(tmp_path, capsys, what):
    path = _sweep(tmp_path / "exp")
    out = tmp_path / "out"
    out.mkdir()
    if what == "summary":
        pd.DataFrame({"x": [1]}).to_parquet(out / "summary.parquet")
    else:
        (out / "runs" / "mine").mkdir(parents=True)
        (out / "runs" / "mine" / "data.csv").write_text("1,2\n")
    before = snapshot(out)
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--replace-sweep"]) == 2
    assert "simfl did not write" in one_line(capsys)
    assert snapshot(out) == before


def test_a_sweep_directory_of_an_older_simfl_is_adopted(tmp_path, capsys):
    """Written before sweep manifests existed (sweep.yaml + summary.parquet): same runs, resumed."""
    path = _sweep(tmp_path / "exp")
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 0
    (out / SWEEP_MANIFEST).unlink()
    (out / "sweep.yaml").write_text("name: sweep\n")  # what older versions wrote
    capsys.readouterr()
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 0
    assert "0 run now, 4 already complete" in capsys.readouterr().out
    assert (out / SWEEP_MANIFEST).is_file() and (out / "sweep.yaml").read_text() == "name: sweep\n"


# ------------------------------------------------------------------ one writer per sweep directory
def test_a_second_sweep_process_is_refused_while_the_first_holds_the_lock(tmp_path, capsys):
    path = _sweep(tmp_path / "exp")
    out = tmp_path / "out"
    out.mkdir()
    with sweep_lock(out):
        assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
        line = one_line(capsys)
        assert f"another simfl sweep (pid {os.getpid()}) is running in this folder" in line
    assert not (out / "runs").exists() and not (out / "summary.parquet").exists()
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 0  # released


LONG_SWEEP = """\
base:
  data: {num_clients: 200}
  train: {enabled: false}
  heterogeneity: {compute: {jitter: {dist: exponential, mean: 1}}}
  algorithm: {fedasync: {concurrency: 50}, fedbuff: {concurrency: 50}}
  stop: {sim_time_s: null, client_updates: 300000}
  eval: {every_s: null}
grid: {algorithm.type: [fedasync, fedbuff]}
seeds: 2
"""


def test_two_sweep_processes_never_compute_a_run_twice(tmp_path):
    path = _sweep(tmp_path / "exp", LONG_SWEEP)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "simfl.cli", "sweep", str(path), "--out", str(out), "--workers", "1"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / LOCK_FILE).exists() or not (out / SWEEP_MANIFEST).exists():
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.05)
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert second.returncode == 2 and "another simfl sweep" in second.stderr, second.stderr
    assert f"pid {first.pid}" in second.stderr
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    started = [json.loads(m.read_text())["started_at"] for m in (out / "runs").glob("*/manifest.json")]
    assert len(started) == 4


def test_a_killed_sweep_leaves_no_lock_behind(tmp_path):
    path = _sweep(tmp_path / "exp", LONG_SWEEP)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "simfl.cli", "sweep", str(path), "--out", str(out), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not any(run_status(d) == "running" for d in (out / "runs").glob("*")):
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with sweep_lock(out):  # taken at once: the OS released the dead process's lock
        pass
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert (pd.read_parquet(out / "summary.parquet").status == "complete").all()


# ------------------------------------------------------------------ issue 21: sweeps, partition and plot
def test_replace_sweep_never_makes_a_run_directory_a_sweeps(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG)
    run_dir = tmp_path / "run"
    assert main(["run", str(cfg), "--out", str(run_dir)]) == 0
    capsys.readouterr()
    before = snapshot(run_dir)
    path = _sweep(tmp_path / "exp")
    for flags in ([], ["--replace-sweep"]):
        assert main(["sweep", str(path), "--out", str(run_dir), "--workers", "1", *flags]) == 2
        line = one_line(capsys)
        assert f"--out {run_dir}: is a simfl run directory, not a sweep's" in line, line
    assert snapshot(run_dir) == before and not (run_dir / LOCK_FILE).exists()


@pytest.mark.parametrize("what", ["summary", "another sweep"])
def test_a_refused_sweep_leaves_no_lock_file(tmp_path, capsys, what):
    out = tmp_path / "mine"
    if what == "summary":
        out.mkdir()
        pd.DataFrame({"x": [1]}).to_parquet(out / "summary.parquet")
    else:
        assert main(["sweep", str(_sweep(tmp_path / "a")), "--out", str(out), "--workers", "1"]) == 0
        (out / LOCK_FILE).unlink()  # as if a user copied the results folder without it
        capsys.readouterr()
    before = snapshot(out)
    other = _sweep(tmp_path / "b", SWEEP.replace("seeds: 2", "seeds: 3"))
    assert main(["sweep", str(other), "--out", str(out), "--workers", "1"]) == 2
    line = one_line(capsys)
    assert ("simfl did not write" if what == "summary" else "holds another sweep") in line, line
    assert snapshot(out) == before and not (out / LOCK_FILE).exists()


PARTITION = ("seed: 7\ndata: {dataset: digits, partition: dirichlet, dirichlet_alpha: 0.5, num_clients: 6}\n"
             "model: {type: logreg}\nalgorithm: {concurrency: 2}\n")


@pytest.mark.parametrize("theirs", [b"my own table", "parquet"])
def test_partition_never_replaces_a_users_file(tmp_path, capsys, theirs):
    cfg = tmp_path / "part.yaml"
    cfg.write_text(PARTITION)
    out = tmp_path / "u.parquet"
    if theirs == "parquet":  # a real parquet file, even with simfl's column names, is the user's
        pd.DataFrame({"client_id": [0], "label": [1], "count": [5]}).to_parquet(out, index=False)
    else:
        out.write_bytes(theirs)
    before = out.read_bytes()
    assert main(["partition", str(cfg), "--out", str(out)]) == 2
    line = one_line(capsys)
    assert line == (f"simfl partition: error: --out {out}: exists and simfl did not write it (no simfl label counts "
                     "mark); pass --replace to replace it, or choose another --out"), line
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["part.yaml", "u.parquet"]
    assert main(["partition", str(cfg), "--out", str(out), "--replace"]) == 0  # asked
    assert len(pd.read_parquet(out)) > 0


def test_partition_replaces_a_table_it_wrote(tmp_path, capsys):
    cfg = tmp_path / "part.yaml"
    cfg.write_text(PARTITION)
    out = tmp_path / "u.parquet"
    assert main(["partition", str(cfg), "--out", str(out)]) == 0
    assert main(["partition", str(cfg), "--out", str(out), "--set", "data.num_clients=4"]) == 0
    assert set(pd.read_parquet(out).client_id) == {0, 1, 2, 3}
    capsys.readouterr()


@pytest.fixture
def run_dir(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG)
    out = tmp_path / "run"
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    return out


def test_plot_never_replaces_a_users_file(run_dir, tmp_path, capsys):
    figs = tmp_path / "figs"
    figs.mkdir()
    (figs / "convergence.png").write_bytes(b"my own figure")  # a name simfl's run figures use
    (figs / "keep.txt").write_text("notes\n")
    capsys.readouterr()
    before = snapshot(figs)
    assert main(["plot", str(run_dir), "--out", str(figs)]) == 2
    line = one_line(capsys)
    assert line.startswith(f"simfl plot: error: --out {figs}: convergence.png") and "simfl did not write it" in line, line
    assert "pass --replace" in line and snapshot(figs) == before


def test_plot_replaces_only_the_figures_it_wrote(run_dir, tmp_path, capsys):
    figs = tmp_path / "figs"
    assert main(["plot", str(run_dir), "--out", str(figs)]) == 0
    written = sorted(p.name for p in figs.glob("*.png"))
    assert "convergence.png" in written
    assert main(["plot", str(run_dir), "--out", str(figs)]) == 0  # its own figures: replaced
    (figs / "convergence.png").write_bytes(b"edited by hand")  # now the user's
    capsys.readouterr()
    assert main(["plot", str(run_dir), "--out", str(figs)]) == 2
    assert "convergence.png exists and simfl did not write it" in one_line(capsys)
    assert (figs / "convergence.png").read_bytes() == b"edited by hand"
    assert main(["plot", str(run_dir), "--out", str(figs), "--replace"]) == 0
    assert (figs / "convergence.png").read_bytes() != b"edited by hand"
    # the default folder DIR/plots is simfl's: rerunning replaces its figures
    assert main(["plot", str(run_dir)]) == 0 and main(["plot", str(run_dir)]) == 0


def test_plot_out_an_existing_file_is_one_line(run_dir, tmp_path, capsys):
    mine = tmp_path / "mine.txt"
    mine.write_text("not a folder\n")
    capsys.readouterr()
    assert main(["plot", str(run_dir), "--out", str(mine)]) == 2
    assert one_line(capsys) == (f"simfl plot: error: --out {mine}: exists and is not a folder; "
                                "give a folder for the figure files")
    assert mine.read_text() == "not a folder\n"


@pytest.mark.parametrize("dpi", ["100000", "0", "9"])
def test_plot_dpi_is_bounded(run_dir, capsys, dpi):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["plot", str(run_dir), "--dpi", dpi])
    assert exc.value.code == 2
    assert f"argument --dpi: expected an integer from 10 to 2400, got {dpi}" in one_line(capsys)
    assert not (run_dir / "plots").exists()
