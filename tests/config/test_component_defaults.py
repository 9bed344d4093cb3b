"""A plugin parameter holding another component, left at a default written as a mapping, is validated
like a configured value (issue 21, item 5): it used to pass validate, then crash the run with a
26-line PydanticSerializationError."""

from __future__ import annotations

import textwrap

import yaml

import simfl
from simfl.cli import main

PLUGIN = '''
from pydantic import Field
from simfl.api import StalenessField
from simfl.methods.fedasync import FedAsync, FedAsyncParams

class MyParams(FedAsyncParams):
    late: StalenessField = Field({DEFAULT}, description="the staleness of late arrivals")

class MyAsync(FedAsync):
    Params = MyParams
'''
CONFIG = """
data: {num_clients: 8}
algorithm: {type: "myasync:MyAsync", concurrency: 3}
stop: {sim_time_s: 3}
"""


def _write(tmp_path, default: str, module: str):
    (tmp_path / f"{module}.py").write_text(PLUGIN.replace("{DEFAULT}", default))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(textwrap.dedent(CONFIG).replace("myasync:", f"{module}:"))
    return cfg


def test_a_mapping_default_runs_and_is_written_as_its_component(tmp_path, capsys):
    cfg = _write(tmp_path, '{"type": "polynomial", "a": 0.5}', "late_ok")
    assert main(["run", str(cfg), "--dry-run", "--out", str(tmp_path / "run")]) == 0
    written = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert written["algorithm"]["late"] == {"type": "polynomial", "a": 0.5}


def test_a_bad_mapping_default_is_a_one_line_error(tmp_path, capsys):
    cfg = _write(tmp_path, '{"type": "polynomial", "a": -1}', "late_bad")
    assert main(["validate", str(cfg), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "simfl validate: error: algorithm: the default of late.a: must be >= 0 (got -1)"


def test_validate_builds_the_plugin_so_a_raising_constructor_is_one_line(tmp_path, capsys):
    (tmp_path / "boom_method.py").write_text(
        "from simfl.methods.fedasync import FedAsync\n\n"
        "class Boom(FedAsync):\n"
        "    def __init__(self, params):\n"
        "        raise RuntimeError('no GPU here')\n")
    builtin = tmp_path / "builtin.yaml"
    builtin.write_text(textwrap.dedent(CONFIG).replace('"myasync:MyAsync"', "fedasync"))
    assert main(["validate", str(builtin), "--dry-run"]) == 0  # FedAsync resolved first, then the plugin
    cfg = tmp_path / "c.yaml"
    cfg.write_text(textwrap.dedent(CONFIG).replace("myasync:MyAsync", "boom_method:Boom"))
    assert main(["validate", str(cfg), "--dry-run"]) == 2
    # Boom keeps FedAsync's parameter model: it must neither be taken for FedAsync nor replace it
    assert main(["validate", str(builtin), "--dry-run"]) == 0
    err = capsys.readouterr().err.strip()
    assert err == "simfl validate: error: algorithm.type: boom_method:Boom: building it failed: RuntimeError: no GPU here"
    assert simfl.run(simfl.load_config(builtin, ["train.enabled=false"]), progress=False).status == "complete"


def test_dispatch_takes_round_by_the_documented_keyword(tmp_path):
    """docs/plugins.md writes ``server.dispatch(client, round=-1)``; the keyword was ``round_``."""
    (tmp_path / "rounds_kw.py").write_text(
        "from simfl.api import AlgorithmParams, InFlight, Policy\n\n"
        "class Rounds(Policy):\n"
        "    Params = AlgorithmParams\n\n"
        "    def __init__(self, params):\n"
        "        self.k = 0\n\n"
        "    def start(self, server):\n"
        "        server.dispatch(0, round=0)\n\n"
        "    def on_arrivals(self, server, updates):\n"
        "        for t in updates:\n"
        "            server.applied(t, 1.0)\n"
        "        server.install(server.params)\n"
        "        self.k += 1\n"
        "        server.dispatch(0, round=self.k)\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(textwrap.dedent(CONFIG).replace('"myasync:MyAsync", concurrency: 3', '"rounds_kw:Rounds"'))
    assert main(["run", str(cfg), "--dry-run", "--out", str(tmp_path / "run")]) == 0
    import pandas as pd

    rounds = pd.read_parquet(tmp_path / "run" / "client_updates.parquet")["round"].tolist()
    assert len(rounds) >= 2 and rounds == list(range(len(rounds)))  # each task records the round it was given


def test_a_plugin_default_of_the_wrong_type_is_a_one_line_error(tmp_path, capsys):
    """pydantic does not validate defaults: ``concurrency: int = Field("two")`` passed validate and the
    run, with only a serializer warning (found by fuzzing plugins)."""
    (tmp_path / "bad_default.py").write_text(
        "from simfl.api import Field\n"
        "from simfl.methods.fedasync import FedAsync, FedAsyncParams\n\n"
        "class MyParams(FedAsyncParams):\n"
        "    rounds: int = Field('two', description='how many')\n\n"
        "class Bad(FedAsync):\n"
        "    Params = MyParams\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(textwrap.dedent(CONFIG).replace('"myasync:MyAsync"', '"bad_default:Bad"'))
    assert main(["validate", str(cfg), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("simfl validate: error: algorithm.type: bad_default:Bad: the default of rounds: ")
    assert err.endswith("(got 'two')") and "\n" not in err
