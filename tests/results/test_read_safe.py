"""Reading results never runs code: a run or sweep directory whose config names a plugin and whose
manifest points at a folder holding it is loaded, reported and plotted without importing it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import simfl
from simfl import registry
from simfl.errors import PluginError

ROOT = Path(__file__).resolve().parents[2]

SWEEP = """\
base:
  data: {num_clients: 6}
  train: {enabled: false}
  algorithm: {type: fedasync, concurrency: 3}
  stop: {sim_time_s: 10}
variants:
  plain: {}
seeds: 1
"""


def _evil(folder: Path, marker: Path) -> None:
    """A module that leaves ``marker`` behind when imported (and is otherwise a valid method plugin)."""
    (folder / "evilmod.py").write_text(textwrap.dedent(f"""
        from pathlib import Path
        Path({str(marker)!r}).write_text("imported")
        from simfl.methods.fedasync import FedAsync as Evil
    """))


def _simfl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "simfl.cli", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def evil_sweep(tmp_path_factory):
    """A real (tiny) sweep whose run claims ``algorithm.type: evilmod:Evil``, with ``search_path`` in its
    manifest naming both ``.`` and the absolute folder that holds ``evilmod.py``."""
    root = tmp_path_factory.mktemp("evil")
    (root / "sweep.yaml").write_text(SWEEP)
    done = _simfl("sweep", "sweep.yaml", "--out", "out", cwd=root)
    assert done.returncode == 0, done.stderr
    marker = root / "MARKER"
    _evil(root, marker)
    sweep = root / "out"
    for run in (sweep / "runs").iterdir():
        config = yaml.safe_load((run / "config.yaml").read_text())
        config["algorithm"]["type"] = "evilmod:Evil"
        (run / "config.yaml").write_text(yaml.safe_dump(config))
        _evil(run, marker)  # the module also sits in the run directory itself
        manifest = json.loads((run / "manifest.json").read_text())
        manifest["search_path"] = [".", str(root), str(run)]
        (run / "manifest.json").write_text(json.dumps(manifest))
    return root, sweep, marker


def _one_run(sweep: Path) -> Path:
    return next((sweep / "runs").iterdir())


@pytest.mark.parametrize("command", ["report", "plot"])
@pytest.mark.parametrize("target", ["run", "sweep"])
def test_reading_a_results_folder_imports_none_of_its_plugins(evil_sweep, command, target, tmp_path):
    root, sweep, marker = evil_sweep
    marker.unlink(missing_ok=True)
    path = _one_run(sweep) if target == "run" else sweep
    args = [command, str(path)] + (["--out", str(tmp_path / "plots")] if command == "plot" else [])
    args += ["--by", "label"] if target == "sweep" else []
    done = _simfl(*args, cwd=root)  # cwd holds evilmod.py: "." in the manifest points at it
    assert not marker.exists(), f"simfl {command} {target} imported the run's plugin"
    assert done.returncode == 0, done.stderr
    if command == "report" and target == "run":
        assert "evilmod:Evil" in done.stdout  # the name is read from the stored config, as data


def test_load_run_imports_no_plugin(evil_sweep, monkeypatch):
    root, sweep, marker = evil_sweep
    marker.unlink(missing_ok=True)
    monkeypatch.delitem(sys.modules, "evilmod", raising=False)  # an import would run it afresh
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))  # even importable: load_run still does not import it
    result = simfl.load_run(_one_run(sweep))
    assert not marker.exists() and "evilmod" not in sys.modules
    assert result.config.algorithm.type == "evilmod:Evil"
    assert result.config.algorithm.concurrency == 3  # the plugin's own keys are kept as data
    assert result.config.search_path == ()  # a manifest's search_path is never used for imports
    assert len(result.aggregations) > 0


def test_resume_never_imports_from_a_manifest_search_path(evil_sweep, tmp_path):
    """``run --resume`` imports plugins from the run directory and the Python path, not from the
    folders its manifest names."""
    root, sweep, marker = evil_sweep
    marker.unlink(missing_ok=True)
    run = tmp_path / "run"
    shutil.copytree(_one_run(sweep), run, ignore=shutil.ignore_patterns("evilmod.py"))
    manifest = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps({**manifest, "status": "interrupted"}))
    done = _simfl("run", "--resume", str(run), cwd=tmp_path)
    assert not marker.exists(), "run --resume imported a plugin from the manifest's search_path"
    assert done.returncode == 2 and "no module named 'evilmod'" in done.stderr and done.stderr.count("\n") == 1


def _with_data_source(run: Path, tmp_path: Path, **data) -> Path:
    """A copy of ``run`` whose config reads its data from ``evilmod:load`` (dataset python)."""
    copy = tmp_path / "source-run"
    shutil.copytree(run, copy)
    config = yaml.safe_load((copy / "config.yaml").read_text())
    config["algorithm"]["type"] = "fedasync"
    config["data"].update({"dataset": "python", "source": "evilmod:load", **data})
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    return copy


def test_plotting_a_run_imports_not_its_data_source(evil_sweep, tmp_path):
    """The partition heatmap would rebuild the data by calling ``data.source``: skipped in one line instead."""
    root, sweep, marker = evil_sweep
    marker.unlink(missing_ok=True)
    run = _with_data_source(_one_run(sweep), tmp_path, partition="iid")
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["train"]["enabled"] = True
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    done = _simfl("plot", str(run), "--out", str(tmp_path / "plots"), cwd=root)
    assert not marker.exists(), "simfl plot called the run's data source"
    assert done.returncode == 0, done.stderr
    assert "no partition heatmap" in done.stderr and "evilmod:load" in done.stderr


def test_load_run_resolves_no_client_count_by_calling_code(evil_sweep, tmp_path, monkeypatch):
    """``num_clients: null`` with a python source would be counted by calling it: one line instead."""
    root, sweep, marker = evil_sweep
    marker.unlink(missing_ok=True)
    monkeypatch.delitem(sys.modules, "evilmod", raising=False)
    monkeypatch.chdir(root)
    run = _with_data_source(_one_run(sweep), tmp_path, num_clients=None, partition="iid")
    with pytest.raises(simfl.SimflError) as info:
        simfl.load_run(run)
    assert not marker.exists() and "\n" not in str(info.value) and "data.source" in str(info.value)


def test_reading_refuses_to_import_in_one_line(tmp_path, monkeypatch):
    """Inside :func:`registry.no_imports`, an import path is refused, not imported."""
    monkeypatch.delitem(sys.modules, "evilmod", raising=False)
    marker = tmp_path / "MARKER"
    _evil(tmp_path, marker)
    with registry.no_imports(), pytest.raises(PluginError) as info:
        registry.import_object("evilmod:Evil", [tmp_path], "data.source")
    assert not marker.exists() and "\n" not in str(info.value) and "data.source" in str(info.value)
    assert registry.resolve("algorithm", "fedbuff").builtin  # built-ins are still simfl's own code
