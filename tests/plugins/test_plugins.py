"""Components named by import path: found, validated, run, swept and read back like built-ins."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simfl
from simfl import registry
from simfl.cli import main
from simfl.config.load import dump_config, load_config
from simfl.errors import PluginError
from tests.conftest import make_config

#: A plugin that re-implements FedAsync with nothing but the public API.
MY_FEDASYNC = '''
from simfl.api import AlgorithmParams, Field, InFlight, Policy, StalenessField, default_staleness, mix


class MyFedAsync(Policy):
    """FedAsync, written as a plugin."""

    class Params(AlgorithmParams):
        concurrency: int = Field(10, ge=1, description="tasks in flight")
        alpha: float = Field(0.6, gt=0, le=1, description="mixing weight")
        staleness: StalenessField = Field(default_factory=default_staleness, description="s(tau)")

    def __init__(self, params):
        self.alpha, self.s = params.alpha, params.staleness
        self.flight = InFlight(params.concurrency)

    def start(self, server):
        self.flight.refill(server)

    def on_arrivals(self, server, updates):
        for task in updates:
            weight = self.alpha * self.s(server.staleness(task))
            params = server.params
            if params is not None:
                params = mix(params, server.results([task])[0], weight)
            server.applied(task, weight)
            server.install(params)
        self.flight.refill(server)

    def on_lost(self, server, tasks):
        self.flight.refill(server)
'''

BROKEN = '''
from simfl.api import AlgorithmParams, Field, InFlight, Policy, Selector, SelectionParams, StalenessFunction


class Raises(Policy):
    class Params(AlgorithmParams):
        concurrency: int = Field(3, ge=1, description="tasks in flight")

    def __init__(self, params):
        self.flight = InFlight(params.concurrency)

    def start(self, server):
        self.flight.refill(server)

    def on_arrivals(self, server, updates):
        return 1 / 0


class NoArrivals(Policy):
    class Params(AlgorithmParams):
        pass

    def start(self, server):
        pass


class NoParams(Policy):
    def start(self, server):
        pass

    def on_arrivals(self, server, updates):
        pass


class BadInit(Raises):
    def __init__(self, params):
        raise RuntimeError("cannot start")


class NotCallable(StalenessFunction):
    pass


class Plain:
    pass


not_a_class = 3
'''

WORLD = {
    "data": {"num_clients": 12},
    "heterogeneity": {"compute": {"seconds_per_sample": 0.005, "jitter": {"dist": "exponential", "mean": 1.0}}},
    "stop": {"sim_time_s": 30.0},
}


@pytest.fixture
def plugin_dir(tmp_path):
    """A folder holding the plugin modules (unique names per test: modules are cached)."""
    (tmp_path / "plug").mkdir()
    return tmp_path / "plug"


def _write_config(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def _module(folder: Path, name: str, text: str) -> str:
    (folder / f"{name}.py").write_text(text)
    return name


# ------------------------------------------------------------------ finding plugins
def test_a_plugin_next_to_its_config_is_found_from_any_folder(plugin_dir, tmp_path, monkeypatch):
    mod = _module(plugin_dir, "next_to_cfg_alg", MY_FEDASYNC)
    cfg = _write_config(plugin_dir, "c.yaml", f"""
        data: {{num_clients: 12}}
        train: {{enabled: false}}
        algorithm: {{type: "{mod}:MyFedAsync", concurrency: 4}}
        stop: {{sim_time_s: 20}}
    """)
    monkeypatch.chdir(tmp_path)  # not the config's folder, not on the Python path
    config = load_config(cfg)
    assert config.algorithm.type == f"{mod}:MyFedAsync" and config.algorithm.concurrency == 4
    assert config.search_path == (str(plugin_dir.resolve()),)
    res = simfl.run(config, out=tmp_path / "run", progress=False)
    assert res.status == "complete" and len(res.aggregations) > 10
    # the run records the import path and parameters, and reads back from elsewhere
    text = (tmp_path / "run" / "config.yaml").read_text()
    assert f"type: {mod}:MyFedAsync" in text and "concurrency: 4" in text
    monkeypatch.chdir(plugin_dir.parent.parent)
    loaded = simfl.load_run(tmp_path / "run")
    # read as data: the plugin's keys and values, without importing it (tests/results/test_read_safe.py)
    assert loaded.config.algorithm.model_dump() == config.algorithm.model_dump()
    pd.testing.assert_frame_equal(loaded.client_updates, res.client_updates, check_categorical=False)


def test_a_plugin_on_the_python_path(plugin_dir, monkeypatch):
    mod = _module(plugin_dir, "on_path_alg", MY_FEDASYNC)
    monkeypatch.syspath_prepend(str(plugin_dir))
    config = make_config(algorithm={"type": f"{mod}:MyFedAsync", "concurrency": 3})
    assert type(config.algorithm).__qualname__ == "MyFedAsync.Params"


def test_a_plugin_that_reimplements_fedasync_gives_the_same_run(plugin_dir, monkeypatch):
    """One code path: a plugin using only the public API reproduces the built-in bit for bit."""
    mod = _module(plugin_dir, "same_as_builtin", MY_FEDASYNC)
    monkeypatch.syspath_prepend(str(plugin_dir))
    common = dict(
        seed=4,
        data={"num_clients": 12},
        train={"enabled": True, "local_steps": 2},
        heterogeneity={"compute": {"jitter": {"dist": "exponential", "mean": 1.0}},
                       "availability": {"type": "onoff", "on_s": {"dist": "exponential", "mean": 8.0}, "off_s": 2.0}},
        stop={"sim_time_s": 25.0},
        eval={"every_s": 5.0},
    )
    params = {"concurrency": 5, "alpha": 0.5, "staleness": {"type": "hinge", "a": 2, "b": 1}}
    builtin = simfl.run(make_config(**common, algorithm={"type": "fedasync", **params}), progress=False)
    plugin = simfl.run(make_config(**common, algorithm={"type": f"{mod}:MyFedAsync", **params}), progress=False)
    for table in ("client_updates", "aggregations", "evals", "clients"):
        pd.testing.assert_frame_equal(getattr(plugin, table), getattr(builtin, table))
    np.testing.assert_array_equal(plugin.final_params, builtin.final_params)
    assert (builtin.client_updates.status == "lost_offline").any()


def test_register_gives_a_short_name(plugin_dir, monkeypatch):
    mod = _module(plugin_dir, "registered_alg", MY_FEDASYNC)
    monkeypatch.syspath_prepend(str(plugin_dir))
    monkeypatch.setitem(registry._registered["algorithm"], "mine", f"{mod}:MyFedAsync")
    assert "mine" in registry.names("algorithm")
    config = make_config(algorithm={"type": "mine", "concurrency": 2})
    assert config.algorithm.concurrency == 2
    with pytest.raises(PluginError, match="built-in"):
        registry.register("algorithm", "fedavg", f"{mod}:MyFedAsync")


def test_entry_points_register_names(plugin_dir, monkeypatch):
    mod = _module(plugin_dir, "entry_point_alg", MY_FEDASYNC)
    monkeypatch.syspath_prepend(str(plugin_dir))

    class FakeEntryPoint:
        name, value = "ep_async", f"{mod}:MyFedAsync"

    def entry_points(group):
        return [FakeEntryPoint()] if group == "simfl.algorithms" else []

    monkeypatch.setattr(registry.importlib.metadata, "entry_points", entry_points)
    monkeypatch.setattr(registry, "_entry_points", None)
    assert registry.names("algorithm")[-1] == "ep_async"
    assert make_config(algorithm={"type": "ep_async"}).algorithm.type == "ep_async"


# --------------------------------------------------------------------- parameters
def test_unknown_keys_are_rejected_for_plugins_and_builtins(plugin_dir, monkeypatch):
    mod = _module(plugin_dir, "keys_alg", MY_FEDASYNC)
    monkeypatch.syspath_prepend(str(plugin_dir))
    with pytest.raises(simfl.ConfigError) as exc:
        make_config(algorithm={"type": f"{mod}:MyFedAsync", "concurency": 3})
    assert str(exc.value) == "algorithm.concurency: unknown key 'concurency' in algorithm (did you mean 'concurrency'?)"
    with pytest.raises(simfl.ConfigError, match="'buffer_size' is not a key of fedavg; it belongs to fedbuff"):
        make_config(algorithm={"type": "fedavg", "buffer_size": 3})
    # a section of a method that does not run is still checked, plugin or built-in
    with pytest.raises(simfl.ConfigError, match=r"algorithm\.fedbuff\.bufer_size: unknown key 'bufer_size'"):
        make_config(algorithm={"type": "fedavg", "fedbuff": {"bufer_size": 3}})
    with pytest.raises(simfl.ConfigError, match=rf"algorithm\.{mod}:MyFedAsync\.alpha: must be <= 1"):
        make_config(algorithm={"type": "fedavg", f"{mod}:MyFedAsync": {"alpha": 3}})
    # a nested component of a plugin is validated too
    with pytest.raises(simfl.ConfigError, match="algorithm.staleness.type: unknown staleness 'polynomal'"):
        make_config(algorithm={"type": f"{mod}:MyFedAsync", "staleness": {"type": "polynomal"}})


def test_one_config_carries_every_method_and_one_key_switches(plugin_dir, monkeypatch):
    mod = _module(plugin_dir, "switch_alg", MY_FEDASYNC)
    monkeypatch.syspath_prepend(str(plugin_dir))
    algorithm = {"fedavg": {"clients_per_round": 4}, "fedbuff": {"buffer_size": 3, "concurrency": 6},
                 f"{mod}:MyFedAsync": {"alpha": 0.3}}
    for name, check in [("fedavg", lambda a: a.clients_per_round == 4), ("fedbuff", lambda a: a.buffer_size == 3),
                        (f"{mod}:MyFedAsync", lambda a: a.alpha == 0.3), ("fedasync", lambda a: a.alpha == 0.6)]:
        config = make_config(algorithm={"type": name, **algorithm})
        assert check(config.algorithm)
        # the resolved config holds only what runs
        assert "fedbuff" not in dump_config(config).split("algorithm:")[1].split("stop:")[0].replace("type: fedbuff", "")


def test_set_and_sweeps_reach_a_plugins_parameters(plugin_dir, tmp_path, monkeypatch):
    mod = _module(plugin_dir, "set_alg", MY_FEDASYNC)
    monkeypatch.syspath_prepend(str(plugin_dir))
    config = simfl.config_from_dict(WORLD, [f'algorithm."{mod}:MyFedAsync".alpha=0.25', f"algorithm.type={mod}:MyFedAsync"])
    assert config.algorithm.alpha == 0.25
    config = simfl.config_from_dict(WORLD, [f"algorithm.type={mod}:MyFedAsync", "algorithm.staleness.a=2"])
    assert config.algorithm.staleness.a == 2.0 and config.algorithm.staleness.type == "polynomial"
    from simfl.sweep.spec import expand_sweep, load_sweep

    sweep = tmp_path / "s.yaml"
    sweep.write_text(textwrap.dedent(f"""
        base: {{data: {{num_clients: 12}}, train: {{enabled: false}}, algorithm: {{type: "{mod}:MyFedAsync"}}}}
        grid:
          algorithm.alpha: [0.2, 0.4]
          algorithm.staleness: [{{type: constant}}, {{type: hinge, a: 1, b: 2}}]
    """))
    runs = expand_sweep(*load_sweep(sweep))
    assert sorted((r.config.algorithm.alpha, r.config.algorithm.staleness.type) for r in runs) == [
        (0.2, "constant"), (0.2, "hinge"), (0.4, "constant"), (0.4, "hinge")]


def test_plugin_docs_render_like_builtins(plugin_dir):
    from simfl.config.docs import component_doc

    mod = _module(plugin_dir, "docs_alg", MY_FEDASYNC)
    text = component_doc("algorithm", f"{mod}:MyFedAsync", search_path=(plugin_dir,))
    assert "FedAsync, written as a plugin." in text
    assert "| `alpha` | `0.6` | mixing weight |" in text
    assert "| `staleness` | `{type: polynomial, a: 0.5}` | s(tau) |" in text


# ------------------------------------------------------------------ broken plugins
@pytest.mark.parametrize(
    "name, message",
    [
        ("broken_plugins:NoArrivals", "algorithm.type: broken_plugins:NoArrivals does not implement on_arrivals or on_task_ends"),
        ("broken_plugins:NoParams", "algorithm.type: broken_plugins:NoParams needs a nested class Params"),
        ("broken_plugins:Plain", "algorithm.type: broken_plugins:Plain needs a nested class Params"),
        ("broken_plugins:not_a_class", "algorithm.type: broken_plugins:not_a_class is not a class"),
        ("broken_plugins:Missing", "algorithm.type: broken_plugins:Missing: module broken_plugins has no attribute 'Missing'"),
        ("no_such_module:X", "algorithm.type: no_such_module:X: no module named 'no_such_module'"),
        ("explodes_on_import:X", "algorithm.type: explodes_on_import:X: importing explodes_on_import failed: "
                                 "RuntimeError: import-time failure"),
        ("not an import path", "algorithm.type: unknown algorithm 'not an import path'"),
    ],
)
def test_a_broken_plugin_is_one_line_naming_it(plugin_dir, tmp_path, capsys, name, message):
    _module(plugin_dir, "broken_plugins", BROKEN)
    _module(plugin_dir, "explodes_on_import", "raise RuntimeError('import-time failure')\n")
    cfg = _write_config(plugin_dir, "c.yaml", f'algorithm: {{type: "{name}"}}\ntrain: {{enabled: false}}\n')
    assert main(["run", str(cfg), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"simfl run: error: {message}") and "\n" not in err
    assert not (tmp_path / "out").exists()  # bad input leaves no run directory


def test_a_staleness_plugin_without_call_is_refused(plugin_dir):
    _module(plugin_dir, "broken_stale", BROKEN)
    with pytest.raises(simfl.ConfigError, match="broken_stale:NotCallable does not implement __call__"):
        simfl.config_from_dict({"algorithm": {"staleness": {"type": "broken_stale:NotCallable"}}}, search_path=[plugin_dir])


def test_an_exception_inside_a_hook_names_the_plugin_and_the_hook(plugin_dir, tmp_path, capsys):
    _module(plugin_dir, "raising_hook", BROKEN)
    cfg = _write_config(plugin_dir, "c.yaml", 'algorithm: {type: "raising_hook:Raises"}\ntrain: {enabled: false}\n')
    assert main(["run", str(cfg), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("simfl run: error: algorithm.type: raising_hook:Raises: on_arrivals() raised "
                   "ZeroDivisionError: division by zero")
    manifest = simfl.results.read_manifest(tmp_path / "out")
    assert manifest["status"] == "failed" and "on_arrivals() raised ZeroDivisionError" in manifest["error"]


def test_an_exception_in_a_plugins_constructor_names_it(plugin_dir):
    _module(plugin_dir, "bad_init", BROKEN)
    config = simfl.config_from_dict({"train": {"enabled": False}, "algorithm": {"type": "bad_init:BadInit"}},
                                    search_path=[plugin_dir])
    with pytest.raises(PluginError, match="bad_init:BadInit: building it failed: RuntimeError: cannot start"):
        simfl.run(config, progress=False)


# ------------------------------------------------------------------------- sweeps
def test_a_plugin_sweep_in_worker_processes_records_a_failing_variant(plugin_dir, tmp_path, monkeypatch):
    mod = _module(plugin_dir, "sweep_alg", MY_FEDASYNC)
    _module(plugin_dir, "sweep_broken", BROKEN)
    sweep = _write_config(plugin_dir, "sweep.yaml", f"""
        base:
          data: {{num_clients: 12}}
          train: {{enabled: false}}
          algorithm: {{fedbuff: {{concurrency: 4, buffer_size: 2}}}}
          stop: {{sim_time_s: 20}}
        variants:
          fedbuff: {{algorithm.type: fedbuff}}
          mine: {{algorithm.type: "{mod}:MyFedAsync", 'algorithm."{mod}:MyFedAsync".concurrency': 4}}
          broken: {{algorithm.type: "sweep_broken:Raises"}}
        seeds: 2
    """)
    monkeypatch.chdir(tmp_path)  # workers import the plugins from the sweep file's folder
    out = tmp_path / "out"
    assert main(["sweep", str(sweep), "--out", str(out), "--workers", "2"]) == 1  # not every run completed
    summary = pd.read_parquet(out / "summary.parquet")
    status = summary.groupby("label").status.agg(set).to_dict()
    assert status == {"fedbuff": {"complete"}, "mine": {"complete"}, "broken": {"failed"}}
    errors = summary[summary.label == "broken"].error
    assert errors.str.contains("sweep_broken:Raises: on_arrivals\\(\\) raised ZeroDivisionError").all()
    # the runs read back, and report / plot work on a sweep with plugins
    mine = summary[(summary.label == "mine")].run_id.iloc[0]
    assert simfl.load_run(out / "runs" / mine).config.algorithm.type == f"{mod}:MyFedAsync"
    assert main(["report", str(out), "--by", "label", "--reference", "fedbuff"]) == 0
