"""``tracking.callbacks``: callbacks named by import path in a config, validated like any component,
built inside each run; reading a run back never imports them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

import simfl
from simfl.cli import main
from simfl.errors import PluginError
from simfl.tracking import TrackingWarning
from tests.tracking.helpers import DriftTrainer

WORLD = {"seed": 3, "data": {"num_clients": 6}, "train": {"enabled": False}, "stop": {"sim_time_s": 6.0},
         "eval": {"every_s": 1.5}, "algorithm": {"type": "fedasync", "concurrency": 3}}

#: A callback module: one JSON line per evaluation into ``folder/<run name>.jsonl``, every ``every``-th.
JSONL = '''
import json, os
from pathlib import Path

from pydantic import Field

from simfl.tracking import Callback, CallbackParams


class Rec(Callback):
    """Writes the evaluations of each run, one JSON line each."""

    class Params(CallbackParams):
        folder: str = Field(description="where the files go")
        every: int = Field(1, ge=1, description="every n-th evaluation")

    built = 0  # instances made in this process

    def __init__(self, params):
        super().__init__(params)
        type(self).built += 1
        self.seen = 0
        self.file = None

    def on_run_start(self, info):
        Path(self.params.folder).mkdir(parents=True, exist_ok=True)
        self.file = open(Path(self.params.folder) / f"{info.name}.jsonl", "w")
        self._write({"hook": "start", "run_id": info.run_id, "tags": dict(info.tags), "pid": os.getpid(),
                     "instance": id(self)})

    def on_evaluation(self, row, updates):
        if self.seen % self.params.every == 0:
            self._write({"hook": "evaluation", "sim_time_s": row["sim_time_s"], "applied": updates.applied})
        self.seen += 1

    def on_run_end(self, status, manifest):
        self._write({"hook": "end", "status": status})
        self.file.close()

    def _write(self, record):
        self.file.write(json.dumps(record) + "\\n")
        self.file.flush()


class Boom(Callback):
    def on_evaluation(self, row, updates):
        raise RuntimeError("tracker down")


class Unbuildable(Callback):
    def __init__(self, params):
        raise ValueError("no token")

    def on_run_start(self, info):
        pass


class NoHook(Callback):
    pass


class Ends(Callback):
    """No keys: it inherits Callback's Params."""

    ended = []

    def on_run_end(self, status, manifest):
        self.ended.append(status)


class Plain:
    def on_run_end(self, status, manifest):
        pass
'''


def _config_file(folder, module: str, callbacks: list, **extra) -> str:
    """A config file in ``folder`` naming ``callbacks`` of the module ``module`` written beside it."""
    (folder / f"{module}.py").write_text(JSONL)
    path = folder / "cfg.yaml"
    path.write_text(yaml.safe_dump({**WORLD, **extra, "tracking": {"callbacks": callbacks}}))
    return str(path)


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_named_callback_sees_the_run_with_its_keys(tmp_path):
    cfg = _config_file(tmp_path, "cb_keys", [{"type": "cb_keys:Rec", "folder": str(tmp_path / "out"), "every": 2}])
    config = simfl.load_config(cfg)
    assert config.tracking.callbacks[0].model_dump() == {"type": "cb_keys:Rec", "folder": str(tmp_path / "out"),
                                                         "every": 2}
    result = simfl.run(config, out=tmp_path / "run", progress=False)
    lines = _lines(tmp_path / "out" / "run.jsonl")  # named like the run's trackers: its run directory
    assert [r["hook"] for r in lines] == ["start", *["evaluation"] * 3, "end"]
    assert [r["sim_time_s"] for r in lines[1:-1]] == result.evals.sim_time_s.tolist()[::2] == [0.0, 3.0, 6.0]
    assert lines[-1]["status"] == "complete" and lines[0]["pid"] == os.getpid()
    # the resolved config keeps it (it is not part of the run's id)
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["tracking"]["callbacks"] == [{"type": "cb_keys:Rec", "folder": str(tmp_path / "out"), "every": 2}]


def test_each_run_builds_its_own_instances(tmp_path):
    cfg = _config_file(tmp_path, "cb_own", ["cb_own:Ends", {"type": "cb_own:Rec", "folder": str(tmp_path / "out")}])
    config = simfl.load_config(cfg)
    module = sys.modules["cb_own"]
    for k in range(2):
        simfl.run(config, out=tmp_path / f"run{k}", progress=False)
    assert module.Rec.built == 2 and module.Ends.ended == ["complete", "complete"]
    assert [len(_lines(tmp_path / "out" / f"run{k}.jsonl")) for k in range(2)] == [7, 7]  # 5 evaluations each


def test_the_import_path_shorthand_and_python_callbacks_together(tmp_path):
    cfg = _config_file(tmp_path, "cb_mix", ["cb_mix:Ends"])
    config = simfl.load_config(cfg)
    assert [type(p).__name__ for p in config.tracking.callbacks] == ["CallbackParams"]

    class Count:
        ends = 0

        def on_run_end(self, status, manifest):
            Count.ends += 1

    simfl.run(config, callbacks=[Count()], progress=False)
    assert Count.ends == 1 and sys.modules["cb_mix"].Ends.ended == ["complete"]


@pytest.mark.parametrize("callback, message", [
    ({"type": "cb_bad:Rec", "folder": "x", "evry": 2},
     "tracking.callbacks.0.evry: unknown key 'evry' in tracking.callbacks.0 (did you mean 'every'?)"),
    ({"type": "cb_bad:Rec"}, "tracking.callbacks.0.folder: required"),
    ({"type": "cb_bad:Rec", "folder": "x", "every": 0}, "tracking.callbacks.0.every: must be >= 1 (got 0)"),
    ("cb_bad:Nope", "tracking.callbacks.0.type: cb_bad:Nope: module cb_bad has no attribute 'Nope'"),
    ("cb_bad:NoHook", "tracking.callbacks.0.type: cb_bad:NoHook does not implement on_run_start or on_evaluation or "
                      "on_server_version or on_task_end or on_run_end"),
    ("cb_bad:Plain", "tracking.callbacks.0.type: cb_bad:Plain needs a nested class Params subclassing "
                     "simfl.tracking.callback.CallbackParams"),
    (3, "tracking.callbacks.0: expected a mapping with a 'type' key (got 3)"),
], ids=["unknown-key", "missing-key", "bad-value", "no-class", "no-hook", "no-params", "not-a-name"])
def test_a_bad_callback_is_one_line_naming_its_key(tmp_path, capsys, callback, message):
    cfg = _config_file(tmp_path, "cb_bad", [callback])
    with pytest.raises(simfl.ConfigError) as caught:
        simfl.load_config(cfg)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert main(["validate", cfg]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_failing_named_callback_warns_and_the_run_completes(tmp_path):
    cfg = _config_file(tmp_path, "cb_fail", ["cb_fail:Boom", {"type": "cb_fail:Rec", "folder": str(tmp_path / "out")}])
    config = simfl.load_config(cfg)
    with pytest.warns(TrackingWarning, match=r"Boom.on_evaluation\(\) raised RuntimeError: tracker down"):
        result = simfl.run(config, out=tmp_path / "run", trainer=DriftTrainer(), progress=False)
    assert result.status == "complete"
    assert result.manifest["tracking_errors"] == ["Boom.on_evaluation() raised RuntimeError: tracker down"]
    assert simfl.load_run(tmp_path / "run").manifest["tracking_errors"] == result.manifest["tracking_errors"]
    assert [r["hook"] for r in _lines(tmp_path / "out" / "run.jsonl")][-1] == "end"  # the other one heard it all
    plain = simfl.run(simfl.config_from_dict(WORLD), progress=False)
    assert result.evals.equals(plain.evals) and result.client_updates.equals(plain.client_updates)


def test_a_callback_whose_constructor_raises_fails_the_run_before_anything_is_written(tmp_path, capsys):
    cfg = _config_file(tmp_path, "cb_ctor", ["cb_ctor:Unbuildable"])
    config = simfl.load_config(cfg)  # valid: its keys are fine
    message = "tracking.callbacks: cb_ctor:Unbuildable: building it failed: ValueError: no token"
    with pytest.raises(PluginError) as caught:
        simfl.run(config, out=tmp_path / "run", progress=False)
    assert str(caught.value) == message
    assert not (tmp_path / "run").exists()
    assert main(["run", cfg, "--out", str(tmp_path / "cli")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(message) and not (tmp_path / "cli").exists()


#: A callback module that leaves a mark whenever it is imported.
MARKING = '''
from pathlib import Path
from simfl.tracking import Callback

with open(Path(__file__).with_suffix(".imported"), "a") as f:
    f.write("imported\\n")


class Mark(Callback):
    def on_run_end(self, status, manifest):
        pass
'''


def test_reading_a_run_back_never_imports_its_callbacks(tmp_path):
    (tmp_path / "cb_mark.py").write_text(MARKING)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({**WORLD, "tracking": {"callbacks": ["cb_mark:Mark"]}}))
    marker = tmp_path / "cb_mark.imported"
    # run in another process: this one has never imported the module
    subprocess.run([sys.executable, "-m", "simfl.cli", "run", str(cfg), "--out", str(tmp_path / "run")], check=True,
                   capture_output=True)
    assert marker.read_text() == "imported\n"  # the run did import it
    marker.unlink()
    run = simfl.load_run(tmp_path / "run")
    assert run.config.tracking.callbacks[0].type == "cb_mark:Mark"  # kept as data
    assert main(["plot", str(tmp_path / "run"), "--out", str(tmp_path / "plots")]) == 0
    assert not marker.exists() and "cb_mark" not in sys.modules


def test_the_manifest_fingerprints_the_callback_module_apart_from_the_run_files(tmp_path):
    import hashlib

    cfg = _config_file(tmp_path, "cb_print", ["cb_print:Ends"])
    result = simfl.run(simfl.load_config(cfg), out=tmp_path / "run", progress=False)
    entry = result.manifest["tracking_fingerprints"]["tracking.callbacks.0"]
    assert entry["module"] == "cb_print" and entry["path"] == str(tmp_path / "cb_print.py")
    assert entry["files"] == ["cb_print.py"]
    digest = hashlib.sha256((tmp_path / "cb_print.py").read_bytes()).hexdigest()
    assert entry["sha256"] == hashlib.sha256(f"{digest}  cb_print.py\n".encode()).hexdigest()  # sha256sum's lines
    assert result.manifest["fingerprints"] == {}  # a callback never makes a finished run stale
    assert "tracking_fingerprints" not in simfl.run(simfl.config_from_dict(WORLD), progress=False).manifest
