"""Plugin mistakes the command-line fuzzing (tests/cli/test_fuzz_extended.py) found: each ends the
run ``failed`` with one line naming the component and the hook, never a traceback."""

from __future__ import annotations

import pytest

import simfl
from simfl.cli import main

COUNTS = '''
from simfl.api import AlgorithmParams, Field, InFlight, Policy


class Counts(Policy):
    """Calls ``server.count(name, n)`` with ``call`` (Python literals ``name, n``) at each arrival."""
    class Params(AlgorithmParams):
        call: str = Field("0, 0", description="the arguments of server.count")

    def __init__(self, params):
        self.call = params.call
        self.flight = InFlight(2)

    def start(self, server):
        self.flight.refill(server)

    def on_arrivals(self, server, updates):
        for t in updates:
            server.applied(t, 1.0)
        server.install(server.params)
        server.count(*eval(self.call))
        self.flight.refill(server)
'''
WORLD = """seed: 0
data: {num_clients: 12}
train: {enabled: false}
heterogeneity: {compute: {seconds_per_sample: 0.005, jitter: 1.0}}
stop: {sim_time_s: 5}
"""


def _run(tmp_path, capsys, module: str, call: str) -> tuple[int, str]:
    (tmp_path / f"{module}.py").write_text(COUNTS)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(WORLD + f'algorithm: {{type: "{module}:Counts", call: "{call}"}}\n')
    code = main(["run", str(cfg), "--out", str(tmp_path / "out")])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("call, problem", [
    ("0, 0", "server.count(0, 0): a counter's name must be a non-empty string"),
    ("'', 1", "server.count('', 1): a counter's name must be a non-empty string"),
    ("'status', 0", "server.count('status', 0): a counter's name must be a non-empty string other than the "
                    "manifest's own keys"),
    ("'sim_end_s', 1", "server.count('sim_end_s', 1): a counter's name must be"),
    ("'mine', True", "server.count('mine', True): the amount must be an integer, got bool"),
    ("'mine', 1.5", "server.count('mine', 1.5): the amount must be an integer, got float"),
])
def test_a_counter_the_manifest_cannot_hold_is_refused(tmp_path, capsys, call, problem):
    module = f"c_count_{abs(hash(call))}"
    code, err = _run(tmp_path, capsys, module, call)
    assert code == 2, err
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith(f"simfl run: error: algorithm.type: {module}:Counts: on_arrivals() raised ContractError: "
                          f"{problem}"), err
    assert simfl.results.read_manifest(tmp_path / "out")["status"] == "failed"


def test_a_counter_of_its_own_reaches_the_manifest(tmp_path, capsys):
    code, err = _run(tmp_path, capsys, "c_count_fine", "'mine', 2")
    assert code == 0, err
    manifest = simfl.results.read_manifest(tmp_path / "out")
    assert manifest["status"] == "complete" and manifest["mine"] == 2 * manifest["server_updates"]


EXITS = '''
import sys
from simfl.api import AlgorithmParams, Field, InFlight, Policy

if "{where}" == "import":
    sys.exit(3)


class Exits(Policy):
    """Calls sys.exit('boom') in the hook ``where``."""
    class Params(AlgorithmParams):
        pass

    def __init__(self, params):
        if "{where}" == "init":
            sys.exit("boom")
        self.flight = InFlight(2)

    def start(self, server):
        if "{where}" == "start":
            sys.exit("boom")
        self.flight.refill(server)

    def on_arrivals(self, server, updates):
        if "{where}" == "on_arrivals":
            sys.exit(0)
        for t in updates:
            server.applied(t, 1.0)
        server.install(server.params)
        self.flight.refill(server)
'''


@pytest.mark.parametrize("where, problem", [
    ("import", "importing {m} failed: SystemExit: 3"),
    ("init", "building it failed: SystemExit: boom"),
    ("start", "start() raised SystemExit: boom"),
    ("on_arrivals", "on_arrivals() raised SystemExit: 0"),
])
def test_a_plugin_calling_sys_exit_fails_its_run_on_one_line(tmp_path, capsys, where, problem):
    module = f"c_exit_{where}"
    (tmp_path / f"{module}.py").write_text(EXITS.replace("{where}", where))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(WORLD + f'algorithm: {{type: "{module}:Exits"}}\n')
    code = main(["run", str(cfg), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err == f"simfl run: error: algorithm.type: {module}:Exits: {problem.format(m=module)}"
    manifest = simfl.results.read_manifest(tmp_path / "out")
    assert manifest is None or manifest["status"] == "failed"


SAME = '''
from simfl.api import Selector, SelectionParams


class Same(Selector):
    """Always picks client 0 (no select_round of its own)."""
    class Params(SelectionParams):
        pass

    def __init__(self, params):
        pass

    def select(self, server):
        return 0
'''


def test_a_selector_picking_the_same_client_twice_for_a_round_is_refused_naming_select(tmp_path, capsys):
    """FedAvg's round through the default ``select_round``: the second pick, client 0, is already chosen."""
    (tmp_path / "c_same.py").write_text(SAME)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(WORLD + 'algorithm: {type: fedavg, clients_per_round: 3, selection: {type: "c_same:Same"}}\n')
    code = main(["run", str(cfg), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err == ("simfl run: error: algorithm.selection.type: c_same:Same: select() returned 0: client 0 is busy "
                   "(a task in flight); it must return an eligible client (or None)")
    assert simfl.results.read_manifest(tmp_path / "out")["status"] == "failed"
