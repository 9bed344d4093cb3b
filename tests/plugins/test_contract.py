"""The server contract at the boundary: a plugin's mistake ends its run ``failed`` with a one-line
error naming the component and the hook — never a silent wrong result, a hang or a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

import simfl
from simfl.cli import main

#: One small plugin per violation (each test writes it under its own module name).
PLUGINS = '''
import numpy as np
from simfl.api import (AlgorithmParams, Field, InFlight, Policy, Selector, SelectionParams, ServerOptimizer,
                       ServerOptimizerSpec, StalenessField, StalenessFunction, default_staleness)


def offline_idle(server):
    for c in range(server.num_clients):
        if not server.busy[c] and not server.is_eligible(c):
            return c
    return None


class Dispatches(Policy):
    """Dispatches ``client`` (a Python literal) at t = 0, or twice, or an offline client."""
    class Params(AlgorithmParams):
        client: str = Field("0", description="the client to dispatch")

    def __init__(self, params):
        self.client = params.client
        self.flight = InFlight(2)

    def start(self, server):
        if self.client == "offline":
            self.flight.refill(server)
        elif self.client == "twice":
            server.dispatch(0)
            server.dispatch(0)
        else:
            server.dispatch(eval(self.client))

    def on_arrivals(self, server, updates):
        for t in updates:
            server.applied(t, 1.0)
        server.install(server.params)
        c = offline_idle(server) if self.client == "offline" else None
        if c is not None:
            server.dispatch(c)
        self.flight.refill(server)


class Twice(Policy):
    """Settles each update twice: ``how`` = applied | drop."""
    class Params(AlgorithmParams):
        how: str = Field("applied", description="applied | drop")

    def __init__(self, params):
        self.how = params.how
        self.flight = InFlight(3)

    def start(self, server):
        self.flight.refill(server)

    def on_arrivals(self, server, updates):
        for t in updates:
            if self.how == "applied":
                server.applied(t, 0.5)
                server.applied(t, 0.5)
            else:
                server.drop(t)
                server.drop(t)
        server.install(server.params)
        self.flight.refill(server)


class Installs(Policy):
    """Installs a model changed by ``change``: shorter | longer | float64."""
    class Params(AlgorithmParams):
        change: str = Field("longer", description="shorter | longer | float64")

    def __init__(self, params):
        self.change = params.change
        self.flight = InFlight(2)

    def start(self, server):
        self.flight.refill(server)

    def on_arrivals(self, server, updates):
        for t in updates:
            server.applied(t, 1.0)
        x = server.params
        x = {"shorter": x[:-1], "longer": np.append(x, x[:1]), "float64": x.astype(np.float64)}[self.change]
        server.install(x)
        self.flight.refill(server)


class Weighs(Policy):
    """Applies each update with ``weight`` (a Python literal), or holds it twice (``weight: hold-twice``)."""
    class Params(AlgorithmParams):
        weight: str = Field("-1", description="the weight given to applied()")

    def __init__(self, params):
        self.weight = params.weight
        self.flight = InFlight(2)

    def start(self, server):
        self.flight.refill(server)

    def on_arrivals(self, server, updates):
        for t in updates:
            if self.weight == "hold-twice":
                server.hold(t)
                server.hold(t)
            else:
                server.applied(t, eval(self.weight))
        server.install(server.params)
        self.flight.refill(server)


class OwnStaleness(Policy):
    """A policy of its own (no built-in base) that weighs each update by its staleness function."""
    class Params(AlgorithmParams):
        staleness: StalenessField = Field(default_factory=default_staleness, description="s(tau)")

    def __init__(self, params):
        self.s = params.staleness
        self.flight = InFlight(2)

    def start(self, server):
        self.flight.refill(server)

    def on_arrivals(self, server, updates):
        for t in updates:
            server.applied(t, 0.5 * self.s(server.staleness(t)))
        server.install(server.params)
        self.flight.refill(server)


class Mixes(Policy):
    """x <- (x + x_client) / 2 per update, or (``nan: true``) a model it spoils itself."""
    class Params(AlgorithmParams):
        nan: bool = Field(False, description="install x * nan")

    def __init__(self, params):
        self.nan = params.nan
        self.flight = InFlight(2)

    def start(self, server):
        self.flight.refill(server)

    def on_arrivals(self, server, updates):
        x = server.params
        for t, r in zip(updates, server.results(updates)):
            server.applied(t, 0.5)
            x = 0.5 * (x + r)
        server.install(x * np.float32("nan") if self.nan else x)
        self.flight.refill(server)


class Picks(Selector):
    """Returns ``value`` (a Python literal), or an offline client when there is one."""
    class Params(SelectionParams):
        value: str = Field("-1", description="what select() returns")

    def __init__(self, params):
        self.value = params.value

    def select(self, server):
        if self.value == "offline":
            c = offline_idle(server)
            if c is not None:
                return c
            idle = np.flatnonzero(server.eligible_mask())
            return int(idle[0]) if len(idle) else None
        return eval(self.value)


class Factor(StalenessFunction):
    """s(tau) = ``value`` (a Python literal)."""
    value: str = Field("1e6", description="what s(tau) returns")

    def __call__(self, tau):
        return eval(self.value)


class Step(ServerOptimizerSpec):
    """A server step of the wrong shape: ``shape`` = scalar | column | short | list."""
    shape: str = Field("scalar", description="what update() returns")

    def build(self):
        shape = self.shape

        def init(params):
            return None

        def update(g, state):
            u = {"scalar": lambda: np.float32(0.1), "column": lambda: g[:, None], "short": lambda: g[1:],
                 "list": lambda: list(g)}[shape]()
            return u, state

        return ServerOptimizer(init, update)
'''

WORLD = """
seed: 0
data: {num_clients: 12, dataset: synthetic}
eval: {every_s: null}
stop: {sim_time_s: 40}
"""
TRAINED = "train: {enabled: true, local_steps: 2, batch_size: 8}\nmodel: {type: logreg}\n"
ONOFF = ("heterogeneity: {compute: {seconds_per_sample: 0.005, jitter: 1.0}, availability: "
         "{type: onoff, on_s: {dist: exponential, mean: 4.0}, off_s: 2.0}}\n")


@pytest.fixture
def plugin_dir(tmp_path):
    (tmp_path / "plug").mkdir()
    return tmp_path / "plug"


def _fails(plugin_dir: Path, tmp_path: Path, capsys, module: str, config: str) -> str:
    """Run ``config`` (with the plugins as ``module``): the run fails, its one-line error is returned."""
    (plugin_dir / f"{module}.py").write_text(PLUGINS)
    cfg = plugin_dir / "c.yaml"
    if "heterogeneity" not in config:
        config += "heterogeneity: {compute: {seconds_per_sample: 0.005, jitter: 1.0}}\n"
    cfg.write_text(WORLD + config)
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    manifest = simfl.results.read_manifest(out)
    assert manifest["status"] == "failed"
    assert manifest["error"].endswith(err.removeprefix("simfl run: error: "))
    return err.removeprefix("simfl run: error: ")


# ---------------------------------------------------------------- server.dispatch
@pytest.mark.parametrize("client, problem", [
    ("-1", "server.dispatch(-1): a client must be an integer in [0, 12), got -1"),
    ("12", "server.dispatch(12): a client must be an integer in [0, 12), got 12"),
    ("2.0", "server.dispatch(2.0): a client must be an integer in [0, 12), got 2.0 (float)"),
    ("'3'", "server.dispatch('3'): a client must be an integer in [0, 12), got '3' (str)"),
    ("True", "server.dispatch(True): a client must be an integer in [0, 12), got True (bool)"),
    ("twice", "server.dispatch(0): client 0 is busy (a task in flight)"),
])
def test_dispatching_a_client_that_cannot_run_is_refused(plugin_dir, tmp_path, capsys, client, problem):
    module = f"c_dispatch_{abs(hash(client))}"
    err = _fails(plugin_dir, tmp_path, capsys, module,
                 f'train: {{enabled: false}}\nalgorithm: {{type: "{module}:Dispatches", client: "{client}"}}\n')
    assert err == f"algorithm.type: {module}:Dispatches: start() raised ContractError: {problem}"


def test_dispatching_an_offline_client_is_refused(plugin_dir, tmp_path, capsys):
    err = _fails(plugin_dir, tmp_path, capsys, "c_offline",
                 'train: {enabled: false}\nalgorithm: {type: "c_offline:Dispatches", client: offline}\n' + ONOFF)
    assert err.startswith("algorithm.type: c_offline:Dispatches: on_arrivals() raised ContractError: server.dispatch(")
    assert err.endswith("is not eligible now (offline or cooling down)")


# ------------------------------------------------------------ applied / drop once
@pytest.mark.parametrize("how, status", [("applied", "applied"), ("drop", "dropped_stale")])
def test_settling_an_update_twice_is_refused(plugin_dir, tmp_path, capsys, how, status):
    module = f"c_twice_{how}"
    err = _fails(plugin_dir, tmp_path, capsys, module,
                 f'train: {{enabled: false}}\nalgorithm: {{type: "{module}:Twice", how: {how}}}\n')
    assert err.startswith(f"algorithm.type: {module}:Twice: on_arrivals() raised ContractError: server.{how}(task ")
    assert err.endswith(f"its update is already {status} (applied/drop once per update)")


# ---------------------------------------------------------------- server.install
@pytest.mark.parametrize("change, got", [("shorter", "shape (609,) of float32"), ("longer", "shape (611,) of float32"),
                                         ("float64", "shape (610,) of float64")])
def test_installing_a_model_of_another_size_or_dtype_is_refused(plugin_dir, tmp_path, capsys, change, got):
    module = f"c_install_{change}"
    err = _fails(plugin_dir, tmp_path, capsys, module, TRAINED + f'algorithm: {{type: "{module}:Installs", change: {change}}}\n')
    assert err.startswith(f"algorithm.type: {module}:Installs: on_arrivals() raised ContractError: server.install(): "
                          "the model must be a flat ")
    assert err.endswith(f"float32 vector of 610 values (like server.params), got {got}")


# ------------------------------------------------------------------- selection
@pytest.mark.parametrize("value, problem", [
    ("-1", "a client must be an integer in [0, 12), got -1"),
    ("12", "a client must be an integer in [0, 12), got 12"),
    ("1.5", "a client must be an integer in [0, 12), got 1.5 (float)"),
    ("'3'", "a client must be an integer in [0, 12), got '3' (str)"),
    ("offline", "is not eligible now (offline or cooling down)"),
])
def test_a_selector_choosing_nobody_valid_is_refused(plugin_dir, tmp_path, capsys, value, problem):
    module = f"c_select_{abs(hash(value))}"
    extra = ONOFF if value == "offline" else ""
    err = _fails(plugin_dir, tmp_path, capsys, module,
                 f'train: {{enabled: false}}\nalgorithm: {{type: fedasync, selection: '
                 f'{{type: "{module}:Picks", value: "{value}"}}}}\n' + extra)
    assert err.startswith(f"algorithm.selection.type: {module}:Picks: select() returned ")
    assert problem in err and err.endswith("it must return an eligible client (or None)")


# ------------------------------------------------------------------- staleness
@pytest.mark.parametrize("method", ["fedasync", "fedbuff", "semisync"])
@pytest.mark.parametrize("value", ["1e6", "-1", "0", "float('nan')", "'half'"])
def test_a_staleness_factor_outside_0_1_is_refused(plugin_dir, tmp_path, capsys, method, value):
    module = f"c_stale_{method}_{abs(hash(value))}"
    err = _fails(plugin_dir, tmp_path, capsys, module,
                 f'train: {{enabled: false}}\nalgorithm: {{type: {method}, staleness: '
                 f'{{type: "{module}:Factor", value: "{value}"}}}}\n')
    assert err.startswith(f"algorithm.staleness.type: {module}:Factor: __call__(0) returned ")
    assert err.endswith("a staleness factor must be a number in (0, 1]")


# ------------------------------------------------------------- server optimizer
@pytest.mark.parametrize("method", ["fedbuff", "fedasync"])
@pytest.mark.parametrize("shape, got", [("scalar", "shape () (float32)"), ("column", "shape (610, 1) (ndarray)"),
                                        ("short", "shape (609,) (ndarray)"), ("list", "shape (610,) (list)")])
def test_a_server_optimizer_step_of_the_wrong_shape_is_refused(plugin_dir, tmp_path, capsys, method, shape, got):
    module = f"c_step_{method}_{shape}"
    err = _fails(plugin_dir, tmp_path, capsys, module,
                 TRAINED + f'algorithm: {{type: {method}, server_optimizer: {{type: "{module}:Step", shape: {shape}}}}}\n')
    assert err == (f"algorithm.server_optimizer.type: {module}:Step: update() returned a step of {got}: "
                   "it must be an array of the model's shape (610,)")


# ------------------------------------------------------------- hold / applied weights
@pytest.mark.parametrize("weight, got", [("-1", "-1"), ("float('nan')", "nan"), ("float('inf')", "inf"),
                                         ("'half'", "'half'"), ("None", "None")])
def test_applying_an_update_with_a_weight_that_is_not_a_finite_non_negative_number_is_refused(
        plugin_dir, tmp_path, capsys, weight, got):
    module = f"c_weight_{abs(hash(weight))}"
    err = _fails(plugin_dir, tmp_path, capsys, module,
                 f'train: {{enabled: false}}\nalgorithm: {{type: "{module}:Weighs", weight: "{weight}"}}\n')
    assert err.startswith(f"algorithm.type: {module}:Weighs: on_arrivals() raised ContractError: server.applied(task ")
    assert err.endswith(f"weight {got}): a weight must be a finite number >= 0")


def test_holding_an_update_twice_is_refused(plugin_dir, tmp_path, capsys):
    err = _fails(plugin_dir, tmp_path, capsys, "c_hold_twice",
                 'train: {enabled: false}\nalgorithm: {type: "c_hold_twice:Weighs", weight: hold-twice}\n')
    assert err.startswith("algorithm.type: c_hold_twice:Weighs: on_arrivals() raised ContractError: server.hold(task ")
    assert err.endswith("it is already buffered (hold once, then applied or drop)")


@pytest.mark.parametrize("value", ["1e6", "-1", "'half'"])
def test_a_plugin_staleness_function_called_by_a_plugin_policy_is_checked(plugin_dir, tmp_path, capsys, value):
    module = f"c_own_stale_{abs(hash(value))}"
    err = _fails(plugin_dir, tmp_path, capsys, module,
                 f'train: {{enabled: false}}\nalgorithm: {{type: "{module}:OwnStaleness", staleness: '
                 f'{{type: "{module}:Factor", value: "{value}"}}}}\n')
    assert err.startswith(f"algorithm.staleness.type: {module}:Factor: __call__(0) returned ")
    assert err.endswith("a staleness factor must be a number in (0, 1]")


def test_a_plugin_that_makes_nan_from_finite_models_is_refused(plugin_dir, tmp_path, capsys):
    err = _fails(plugin_dir, tmp_path, capsys, "c_nan_own", TRAINED + 'algorithm: {type: "c_nan_own:Mixes", nan: true}\n')
    assert err.startswith("algorithm.type: c_nan_own:Mixes: on_arrivals() raised ContractError: server.install(): ")
    assert err.endswith("the model holds NaN or inf, though server.params and every result fetched since the last "
                        "install were finite")


def test_a_plugin_mixing_diverged_client_models_ends_diverged_not_failed(plugin_dir, tmp_path, capsys):
    """Training that blows up is the run's outcome, not the plugin's mistake: ``diverged``."""
    (plugin_dir / "c_nan_in.py").write_text(PLUGINS)
    cfg = plugin_dir / "c.yaml"
    cfg.write_text(WORLD + TRAINED.replace("batch_size: 8", "batch_size: 8, lr: 3.0e+38")
                   + 'algorithm: {type: "c_nan_in:Mixes"}\n'
                   + "heterogeneity: {compute: {seconds_per_sample: 0.005, jitter: 1.0}}\n")
    result = simfl.run(simfl.load_config(cfg), out=tmp_path / "out", progress=False)
    assert result.status == "diverged", result.manifest.get("error")
    assert result.manifest["diverged_because"] == "the global model holds NaN or inf"
