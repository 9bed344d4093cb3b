"""Results that cannot go stale (issue 19, item 4): a sweep recomputes exactly the runs whose
plugin, data or trace file changed since they ran, never resumes a checkpoint written under
other files, and ``simfl report`` warns about a sweep that mixes versions of a file."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simfl
from simfl.sweep import workers as workers_module
from simfl.running.checkpoint import CHECKPOINT
from simfl.cli import main
from simfl.config.load import dump_config
from simfl.results import read_manifest
from simfl.results.report import report_text
from simfl.sweep import execute_run, run_sweep
from tests.engine.helpers import run_stopped_after_checkpoints

ROOT = Path(__file__).resolve().parents[2]

RULE = '''
from simfl.api import AlgorithmParams, Field, InFlight, Policy


class Rule(Policy):
    """Apply every update with weight 1/2."""

    class Params(AlgorithmParams):
        concurrency: int = Field(3, ge=1, description="tasks in flight")

    def __init__(self, params):
        self.flight = InFlight(params.concurrency)

    def start(self, server):
        self.flight.refill(server)

    def on_arrivals(self, server, updates):
        for task in updates:
            server.applied(task, 0.5)
        self.flight.refill(server)
'''

WORLD = "data: {num_clients: 6}, train: {enabled: false}, algorithm: {type: fedbuff, fedbuff: {concurrency: 2, buffer_size: 2}}, " \
        "stop: {sim_time_s: 20}"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def module_sha(name: str, text: str) -> str:
    """The fingerprint of a one-file module (sha256sum's line of it, hashed)."""
    return sha(f"{sha(text.encode())}  {name}\n".encode())


def stamps(out: Path) -> dict[str, tuple[int, int]]:
    """run id → (inode, mtime_ns) of its manifest: simfl replaces it by a rename whenever it writes the run."""
    return {p.parent.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "runs").glob("*/manifest.json")}


def manifests(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in (out / "runs").glob("*/manifest.json")}


def runs_of(out: Path, column: str, value) -> set[str]:
    summary = pd.read_parquet(out / "summary.parquet")
    return set(summary.run_id[summary[column] == value])


def forget(module: str, monkeypatch) -> None:
    """Drop a plugin module from this process, as a new process (a new sweep, a worker) would not have it."""
    monkeypatch.delitem(sys.modules, module, raising=False)


# ------------------------------------------------------------------ plugins
def test_editing_a_plugin_recomputes_exactly_the_runs_that_use_it(tmp_path):
    """Two ``simfl sweep`` commands, each its own process, with the plugin edited between them."""
    study = tmp_path / "study"
    study.mkdir()
    (study / "fp_sweep_rule.py").write_text(RULE)
    (study / "sweep.yaml").write_text(textwrap.dedent(f"""
        base: {{{WORLD}}}
        variants:
          fedbuff: {{algorithm.type: fedbuff}}
          mine: {{algorithm.type: "fp_sweep_rule:Rule"}}
        seeds: 2
    """))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "simfl.cli", "sweep", str(study / "sweep.yaml"), "--out", str(out), "--workers", "1"]

    def sweep() -> str:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    sweep()
    mine, builtin = runs_of(out, "label", "mine"), runs_of(out, "label", "fedbuff")
    first = manifests(out)
    assert len(mine) == len(builtin) == 2
    assert all(first[r]["fingerprints"]["algorithm.type"]["sha256"] == module_sha("fp_sweep_rule.py", RULE)
               for r in mine)
    assert all(first[r]["fingerprints"] == {} for r in builtin)
    before = stamps(out)
    assert "(0 run now, 4 already complete)" in sweep()  # nothing changed: nothing runs
    assert stamps(out) == before

    edited = RULE + "\n# alpha tuned\n"
    (study / "fp_sweep_rule.py").write_text(edited)
    assert "(2 run now, 2 of them because their files changed, 2 already complete)" in sweep()
    after = stamps(out)
    assert {r for r in before if after[r] != before[r]} == mine  # exactly the plugin's runs were rewritten
    second = manifests(out)
    assert all(second[r]["status"] == "complete" for r in second)
    assert all(second[r]["fingerprints"]["algorithm.type"]["sha256"] == module_sha("fp_sweep_rule.py", edited)
               for r in mine)
    summary = pd.read_parquet(out / "summary.parquet").set_index("run_id")
    assert summary.loc[sorted(builtin), "files_fingerprint"].isna().all()
    assert summary.loc[sorted(mine), "files_fingerprint"].nunique() == 1


def test_a_run_recorded_without_fingerprints_is_recomputed_if_it_uses_user_files(tmp_path, monkeypatch, capsys):
    """A run written by an older simfl cannot be checked: it is run again if it used a plugin,
    reused otherwise."""
    (tmp_path / "fp_old_rule.py").write_text(RULE)
    path = tmp_path / "sweep.yaml"
    path.write_text(f"base: {{{WORLD}}}\nvariants: {{fedbuff: {{algorithm.type: fedbuff}}, "
                    "mine: {algorithm.type: 'fp_old_rule:Rule'}}\nseeds: 2\n")
    out = tmp_path / "out"
    run_sweep(path, out=out, workers=1, progress=False)
    for manifest in (out / "runs").glob("*/manifest.json"):
        data = json.loads(manifest.read_text())
        del data["fingerprints"]
        manifest.write_text(json.dumps(data))
    before = stamps(out)
    outcome = run_sweep(path, out=out, workers=1, progress=False)
    assert outcome.ran == outcome.recomputed == 2 and outcome.skipped == 2
    assert {r for r in before if stamps(out)[r] != before[r]} == runs_of(out, "label", "mine")


# ------------------------------------------------------------------ data and traces
def _npz(path: Path, shift: float) -> None:
    rng = np.random.default_rng(0)
    np.savez(path, x=(rng.normal(size=(40, 3)) + shift).astype(np.float32), y=rng.integers(0, 2, 40),
             client_id=np.repeat(np.arange(4), 10))


def test_a_changed_data_file_recomputes_its_runs_and_a_touched_one_does_not(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    _npz(a, 0.0)
    _npz(b, 1.0)
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(f"""
        base:
          data: {{dataset: arrays, path: {a}}}
          train: {{enabled: false}}
          algorithm: {{type: fedbuff, concurrency: 2, buffer_size: 2}}
          stop: {{sim_time_s: 20}}
        grid: {{data.path: ["{a}", "{b}"]}}
        seeds: 2
    """))
    out = tmp_path / "out"
    run_sweep(path, out=out, workers=2, progress=False)  # worker processes record the fingerprints
    uses_a = runs_of(out, "data.path", str(a))
    assert all(manifests(out)[r]["fingerprints"]["data.path"] == {"path": str(a), "sha256": sha(a.read_bytes())}
               for r in uses_a)
    before = stamps(out)
    os.utime(b, ns=(time.time_ns(), time.time_ns() + 10**10))  # touched: same bytes, new times
    _npz(a, 0.5)  # new values, same size
    outcome = run_sweep(path, out=out, workers=1, progress=False)
    assert outcome.ran == outcome.recomputed == 2
    after = stamps(out)
    assert {r for r in before if after[r] != before[r]} == uses_a
    assert all(manifests(out)[r]["fingerprints"]["data.path"]["sha256"] == sha(a.read_bytes()) for r in uses_a)


def test_a_data_folder_counts_every_file_in_it(tmp_path):
    """A LEAF folder: a file changed under it recomputes its runs."""
    from tests.data.conftest import leaf_object, random_users, write_leaf

    rng = np.random.default_rng(0)
    folder = write_leaf(tmp_path / "leaf", [leaf_object(random_users(rng, ["u1", "u2", "u3"], [8, 9, 10]))])
    path = tmp_path / "sweep.yaml"
    path.write_text(f"base: {{data: {{dataset: leaf, path: {folder}}}, train: {{enabled: false}}, "
                    "algorithm: {type: fedbuff, concurrency: 2, buffer_size: 2}, stop: {sim_time_s: 10}}\nseeds: 2\n")
    out = tmp_path / "out"
    run_sweep(path, out=out, workers=1, progress=False)
    entry = next(iter(manifests(out).values()))["fingerprints"]["data.path"]
    assert entry["path"] == str(folder) and entry["file_count"] == len(list(folder.rglob("*.json")))
    write_leaf(folder, [leaf_object(random_users(rng, ["u1", "u2", "u3"], [8, 9, 10]))])  # other rows
    assert run_sweep(path, out=out, workers=1, progress=False).recomputed == 2


def test_a_changed_trace_recomputes_the_runs_that_replay_it(tmp_path):
    (tmp_path / "p.csv").write_text("client_id,seconds_per_sample,latency_s,down_mbps,up_mbps\n"
                                    "a,0.01,0.1,10,1\nb,0.02,0.2,20,2\n")
    (tmp_path / "av.csv").write_text("client_id,start_s,end_s\na,0,100\nb,5,50\n")
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(f"""
        base: {{{WORLD}}}
        variants:
          drawn: {{algorithm.type: fedbuff}}
          profiles: {{heterogeneity.profiles: {{path: "{tmp_path / 'p.csv'}", replace: true}}}}
          online: {{heterogeneity.availability: {{type: trace, path: "{tmp_path / 'av.csv'}", replace: true}}}}
        seeds: 2
    """))
    out = tmp_path / "out"
    run_sweep(path, out=out, workers=1, progress=False)
    before = stamps(out)
    (tmp_path / "av.csv").write_text("client_id,start_s,end_s\na,0,100\nb,5,60\n")
    assert run_sweep(path, out=out, workers=1, progress=False).recomputed == 2
    after = stamps(out)
    assert {r for r in before if after[r] != before[r]} == runs_of(out, "label", "online")
    (tmp_path / "p.csv").write_text("client_id,seconds_per_sample,latency_s,down_mbps,up_mbps\na,0.03,0.1,10,1\n")
    assert run_sweep(path, out=out, workers=1, progress=False).recomputed == 2
    assert {r for r in after if stamps(out)[r] != after[r]} == runs_of(out, "label", "profiles")


# ------------------------------------------------------------------ checkpoints
@pytest.fixture
def private_key(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SIMFL_CHECKPOINT_KEY", raising=False)


def _interrupted_plugin_run(tmp_path, module: str, monkeypatch):
    """A plugin run stopped (as Ctrl-C would) right after its second checkpoint."""
    (tmp_path / f"{module}.py").write_text(RULE)
    config = simfl.config_from_dict(
        {"data": {"num_clients": 6}, "train": {"enabled": False}, "algorithm": {"type": f"{module}:Rule"},
         "stop": {"sim_time_s": 30}, "run": {"checkpoint_every_s": 5}}, search_path=[tmp_path])
    out = run_stopped_after_checkpoints(config, tmp_path / "run", monkeypatch, count=2)
    assert (out / CHECKPOINT).is_file()
    return config, out


@pytest.mark.parametrize("edited", [False, True])
def test_a_sweep_never_resumes_a_checkpoint_of_another_plugin_version(tmp_path, monkeypatch, private_key, edited):
    module = f"fp_ck_rule_{int(edited)}"
    config, out = _interrupted_plugin_run(tmp_path, module, monkeypatch)
    text = RULE + ("\n# edited after the checkpoint\n" if edited else "")
    if edited:
        (tmp_path / f"{module}.py").write_text(text)
        forget(module, monkeypatch)
    row = execute_run(dump_config(config), str(out), [], (str(tmp_path),))
    manifest = read_manifest(out)
    assert row["status"] == "complete" and manifest["status"] == "complete"
    assert ("resumed_from_s" in manifest) == (not edited)  # an unchanged plugin resumes; an edited one starts over
    assert manifest["fingerprints"]["algorithm.type"]["sha256"] == module_sha(f"{module}.py", text)
    reference = simfl.run(config, progress=False)
    pd.testing.assert_frame_equal(simfl.load_run(out).client_updates, reference.client_updates, check_exact=True)


def test_simfl_run_resume_refuses_a_checkpoint_of_another_plugin_version(tmp_path, monkeypatch, private_key, capsys):
    _, out = _interrupted_plugin_run(tmp_path, "fp_ck_cli_rule", monkeypatch)
    (tmp_path / "fp_ck_cli_rule.py").write_text(RULE + "\n# edited\n")
    forget("fp_ck_cli_rule", monkeypatch)
    monkeypatch.syspath_prepend(str(tmp_path))  # a resume imports from the run directory and the Python path only
    assert main(["run", "--resume", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("the checkpoint was written under another version of algorithm.type (fp_ck_cli_rule.py); "
                        "rerun without --resume") and "\n" not in err


# ------------------------------------------------------------------ report
def test_report_warns_about_a_sweep_that_mixes_versions_of_a_plugin(tmp_path, monkeypatch):
    """The plugin is edited while the sweep runs (after its first plugin run): the sweep ends
    complete, with runs of two versions; report names the file; the next sweep recomputes the
    old version's run and the warning goes."""
    (tmp_path / "fp_mixed_rule.py").write_text(RULE)
    path = tmp_path / "sweep.yaml"
    path.write_text(f"base: {{{WORLD}}}\nvariants: {{fedbuff: {{algorithm.type: fedbuff}}, "
                    "mine: {algorithm.type: 'fp_mixed_rule:Rule'}}\nseeds: 3\n")
    out = tmp_path / "out"
    original, plugin_runs = workers_module.execute_run, []

    def edit_after_the_first_plugin_run(config_yaml, *args, **kwargs):
        row = original(config_yaml, *args, **kwargs)
        if "fp_mixed_rule" in config_yaml:
            if not plugin_runs:
                (tmp_path / "fp_mixed_rule.py").write_text(RULE + "\n# edited during the sweep\n")
                forget("fp_mixed_rule", monkeypatch)  # the next run imports it afresh (a new worker)
            plugin_runs.append(row)
        return row

    monkeypatch.setattr(workers_module, "execute_run", edit_after_the_first_plugin_run)
    outcome = run_sweep(path, out=out, workers=1, progress=False)
    monkeypatch.setattr(workers_module, "execute_run", original)
    assert (outcome.summary.status == "complete").all()
    mine = outcome.summary[outcome.summary.label == "mine"]
    assert mine.files_fingerprint.nunique() == 2  # visible in the summary alone
    warnings = [line for line in report_text(out, by="label").splitlines() if line.startswith("warning: algorithm")]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"warning: algorithm.type ({tmp_path / 'fp_mixed_rule.py'}): 2 versions across 3 runs: ")
    assert " in 2 (" in warnings[0] and " in 1 (" in warnings[0]
    assert run_sweep(path, out=out, workers=1, progress=False).recomputed == 1
    assert not [line for line in report_text(out, by="label").splitlines() if line.startswith("warning: algorithm")]


# ------------------------------------------------------------------ tuning trials
def test_a_tuned_sweep_reruns_the_trials_and_runs_of_an_edited_plugin(tmp_path, monkeypatch):
    (tmp_path / "fp_tuned_rule.py").write_text(RULE)
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent("""
        base:
          data: {num_clients: 4, validation_fraction: 0.25}
          train: {local_steps: 1, batch_size: 5}
          algorithm: {type: fedbuff, fedbuff: {concurrency: 2, buffer_size: 2}}
          stop: {sim_time_s: 4}
          eval: {every_s: 2}
        variants:
          fedbuff: {algorithm.type: fedbuff}
          mine: {algorithm.type: "fp_tuned_rule:Rule"}
        seeds: 1
        tune:
          seeds: 1
          criterion: {type: accuracy_at, budget_s: 4}
          space:
            fedbuff: {train.lr: [0.01, 0.1]}
            mine: {train.lr: [0.01, 0.1]}
    """))
    out = tmp_path / "out"
    run_sweep(path, out=out, workers=1, progress=False)

    def trial_stamps() -> dict[str, tuple[str, tuple[int, int]]]:
        return {p.parent.name: (json.loads(p.read_text())["algorithm"], (p.stat().st_ino, p.stat().st_mtime_ns))
                for p in (out / "tuning").glob("*/manifest.json")}

    trials, runs = trial_stamps(), stamps(out)
    assert len(trials) == 4 and len(runs) == 2
    (tmp_path / "fp_tuned_rule.py").write_text(RULE + "\n# edited\n")
    forget("fp_tuned_rule", monkeypatch)
    outcome = run_sweep(path, out=out, workers=1, progress=False)
    assert outcome.recomputed == 1 and outcome.skipped == 1
    changed = {t for t, (algorithm, stamp) in trial_stamps().items() if stamp != trials[t][1]}
    assert changed == {t for t, (algorithm, _) in trials.items() if algorithm == "fp_tuned_rule:Rule"}
    assert len(changed) == 2
    assert {r for r in runs if stamps(out)[r] != runs[r]} == runs_of(out, "label", "mine")
