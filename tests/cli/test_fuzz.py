"""Fuzzing the command line (issue 13, item 9): over generated configs, config files and
arguments, `simfl validate`, `run`, `sweep`, `report` and `plot` exit 0 or 2, never print a
traceback, never leave a ``complete`` manifest behind an error, and never touch a file outside
``--out``.

The default run is quick (dry runs, a few simulated seconds, a modest number of examples); the
``slow`` variants try many more. Generated worlds keep every task's duration positive and the
population small: runs that never end and absurd sizes are the engine's own tests' business.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simfl.cli import main

GOOD = {
    "seed": 0,
    "data": {"num_clients": 12},
    "train": {"enabled": False},
    "stop": {"sim_time_s": 3},
}

# ------------------------------------------------------------------ values
_magnitudes = st.floats(min_value=0.05, max_value=50, allow_nan=False)
numbers = st.one_of(
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=-5, max_value=-1),
    _magnitudes,
    _magnitudes.map(lambda x: -x),
    st.sampled_from([math.nan, math.inf, -math.inf, 0, 0.0, 1e-300, 1e300, 2**63]),
)
texts = st.one_of(
    st.sampled_from(["", "fedavg", "fedbuff", "lognormal", "iid", "dirichlet", "shards", "idx", "cnn", "mlp",
                     "../../escape", "/abs/escape", "a/b", "..", ".", "nosuch:Thing", "os:system", "x" * 300,
                     "trace", "fedscale", "onoff", "always", "yes", "true", "1e-3", "\x00", "ünïcode"]),
    st.text(max_size=12),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
dist_maps = st.fixed_dictionaries(
    {"dist": st.sampled_from(["constant", "uniform", "normal", "lognormal", "exponential", "gamma", "pareto",
                              "weibull", "choice", "nope"])},
    optional={"mean": scalars, "sigma": scalars, "low": scalars, "high": scalars, "value": scalars,
              "shape": scalars, "scale": scalars, "median": scalars, "values": st.lists(scalars, max_size=3)},
)
type_maps = st.fixed_dictionaries(
    {"type": st.sampled_from(["fedavg", "fedasync", "fedbuff", "fedat", "semisync", "polynomial", "hinge",
                              "constant", "onoff", "diurnal", "always", "trace", "uniform", "fastest", "oort",
                              "adam", "nope", "os:system"])},
    optional={"a": scalars, "b": scalars, "on_s": scalars, "off_s": scalars, "path": texts, "epsilon": scalars,
              "concurrency": scalars, "profile": st.lists(scalars, max_size=3), "format": texts},
)
values = st.one_of(scalars, st.lists(scalars, max_size=4), dist_maps, type_maps)

#: Keys a user sets, plus typos and sections; task durations stay positive (see the module docstring).
KEYS = [
    "seed", "name", "data.num_clients", "data.dataset", "data.partition", "data.dirichlet_alpha",
    "data.shards_per_client", "data.quantity_skew", "data.test_fraction", "data.path", "data.synthetic_iid",
    "data.drift", "model.type", "model.hidden", "train.local_steps", "train.batch_size", "train.lr",
    "algorithm.type", "algorithm.concurrency", "algorithm.alpha", "algorithm.clients_per_round",
    "algorithm.buffer_size", "algorithm.staleness", "algorithm.max_staleness", "algorithm.selection",
    "algorithm.deadline_s", "algorithm.over_selection", "algorithm.server_optimizer", "algorithm.fedbuff",
    "heterogeneity.network.latency_s", "heterogeneity.network.up_mbps", "heterogeneity.network.down_mbps",
    "heterogeneity.availability", "heterogeneity.profiles", "heterogeneity.coupling", "stop.sim_time_s",
    "stop.client_updates", "stop.server_updates", "stop.target_accuracy", "eval.every_s", "eval.per_client",
    "algoritm.type", "nosuch", "data", "stop", "train.enabled",
]
POSITIVE_KEYS = ["heterogeneity.compute.seconds_per_sample", "heterogeneity.compute.jitter"]

_unit = st.floats(min_value=0.05, max_value=1.0)
#: Values a careful user would write, so that many generated configs run (and then must stay within --out).
PLAUSIBLE = {
    "seed": st.integers(0, 5),
    "name": st.sampled_from(["a", "run-1", "ünï"]),
    "data.num_clients": st.integers(10, 20),
    "data.dataset": st.sampled_from(["synthetic", "digits"]),
    "data.partition": st.sampled_from(["natural", "iid", "dirichlet", "shards"]),
    "data.dirichlet_alpha": st.floats(0.1, 5),
    "data.shards_per_client": st.integers(1, 3),
    "data.quantity_skew": st.one_of(st.none(), st.floats(0, 2)),
    "data.test_fraction": st.floats(0.05, 0.5),
    "train.local_steps": st.integers(1, 5),
    "train.batch_size": st.integers(1, 20),
    "train.lr": _unit,
    "algorithm.type": st.sampled_from(["fedavg", "fedasync", "fedbuff", "fedat", "semisync"]),
    "algorithm.concurrency": st.integers(1, 3),
    "algorithm.alpha": _unit,
    "algorithm.clients_per_round": st.integers(1, 3),
    "algorithm.buffer_size": st.integers(1, 3),
    "algorithm.max_staleness": st.one_of(st.none(), st.integers(0, 5)),
    "heterogeneity.network.latency_s": st.floats(0, 1),
    "heterogeneity.network.up_mbps": st.one_of(st.floats(0.5, 100), st.just(math.inf)),
    "heterogeneity.network.down_mbps": st.one_of(st.floats(0.5, 100), st.just(math.inf)),
    "heterogeneity.availability": st.one_of(
        st.just({"type": "always"}),
        st.fixed_dictionaries({"type": st.just("onoff"), "on_s": st.floats(1, 10), "off_s": st.floats(0.5, 5)})),
    "stop.sim_time_s": st.floats(0.5, 10),
    "stop.client_updates": st.one_of(st.none(), st.integers(1, 50)),
    "eval.every_s": st.one_of(st.none(), st.floats(0.5, 5)),
}


def value_for(key: str):
    """Mostly a plausible value of ``key``, else anything."""
    plausible = PLAUSIBLE.get(key)
    return values if plausible is None else st.one_of(*[plausible] * 5, values)


mutations = st.sampled_from(KEYS).flatmap(lambda key: st.tuples(st.just(key), value_for(key)))


def _set(config: dict, key: str, value: Any) -> None:
    node = config
    *parents, last = key.split(".")
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value


@st.composite
def configs(draw) -> dict:
    config = json.loads(json.dumps(GOOD))
    for key, value in draw(st.lists(mutations, max_size=2)):
        _set(config, key, value)
    for key in draw(st.lists(st.sampled_from(POSITIVE_KEYS), max_size=2, unique=True)):
        _set(config, key, draw(st.one_of(_magnitudes.map(lambda x: x / 10), st.sampled_from([-1.0, math.nan]))))
    return config


def _yaml_text(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


@st.composite
def config_files(draw) -> bytes:
    """A config file: mostly YAML of a generated config, sometimes malformed bytes."""
    kind = draw(st.sampled_from(["yaml"] * 15 + ["binary", "latin1", "empty", "garbage", "list"]))
    if kind == "yaml":
        return yaml.safe_dump(draw(configs()), allow_unicode=True).encode()
    return {
        "binary": b"\x89PNG\r\n\x1a\n\x00\x00",
        "latin1": "train: {enabled: caf\xe9}\n".encode("latin-1"),
        "empty": b"",
        "garbage": draw(st.binary(max_size=40)),
        "list": b"- 1\n- 2\n",
    }[kind]


@st.composite
def overrides(draw) -> list[str]:
    out = []
    for key, value in draw(st.lists(mutations, max_size=2)):
        out += ["--set", f"{key}={_yaml_text(value)}"]
    if draw(st.integers(0, 4)) == 0:
        out += ["--set", draw(st.sampled_from(["noequals", "=1", "a..b=1", "data.num_clients=[", "x.y.z=1"]))]
    return out


# ------------------------------------------------------------------ the sandbox
def _snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int, bytes]]:
    out = {}
    for p in sorted(root.rglob("*")):
        if skip == p or skip in p.parents:
            continue
        out[str(p.relative_to(root))] = (p.stat().st_mtime_ns, 0, p.read_bytes()) if p.is_file() else (0, 0, b"dir")
    return out


def _manifests(out: Path) -> dict[str, str]:
    return {str(p): p.read_text() for p in out.rglob("manifest.json")} if out.is_dir() else {}


def _prepare_out(sandbox: Path, how: str) -> Path:
    out = sandbox / "out"
    if how == "user files":
        out.mkdir()
        (out / "config.yaml").write_text("mine: true\n")
        (out / "notes.txt").write_text("keep me\n")
    elif how == "previous run":
        (sandbox / "prev.yaml").write_text(yaml.safe_dump(GOOD))
        assert _quiet(["run", str(sandbox / "prev.yaml"), "--out", str(out)])[0] == 0
    return out


def _quiet(argv: list[str]) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors (the console script exits the same way)
            code = exc.code
    return code, stdout.getvalue(), stderr.getvalue()


@contextlib.contextmanager
def _sandbox():
    with tempfile.TemporaryDirectory(prefix="simfl-fuzz-") as d:
        here = os.getcwd()
        os.chdir(d)
        try:
            yield Path(d)
        finally:
            os.chdir(here)


def _check(argv: list[str], sandbox: Path, out: Path, allowed=(0, 2)) -> int:
    before_outside = _snapshot(sandbox, skip=out)
    before = _manifests(out)
    code, _, err = _quiet(argv)
    assert code in allowed, (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2:
        command = argv[0]
        lines = err.strip().splitlines()
        assert lines and all(line.startswith(f"simfl {command}: error: ") or line.startswith("simfl: error: ")
                             for line in lines), (argv, err)
    if code != 0:  # nothing became complete because of this command
        for path, text in _manifests(out).items():
            if before.get(path) != text:
                assert json.loads(text).get("status") != "complete", (argv, path, err)
    assert _snapshot(sandbox, skip=out) == before_outside, (argv, err)
    return code


# ------------------------------------------------------------------ the properties
def _run_case(data: bytes, args: list[str], command: str, out_how: str, overwrite: bool) -> None:
    with _sandbox() as sandbox:
        (sandbox / "cfg.yaml").write_bytes(data)
        out = _prepare_out(sandbox, out_how)
        if command == "validate":
            argv = ["validate", "cfg.yaml", *args]
        else:
            argv = ["run", "cfg.yaml", "--out", str(out), "--dry-run", *args] + (["--overwrite"] if overwrite else [])
        code = _check(argv, sandbox, out)
        if command == "run" and out_how == "user files":
            assert (out / "config.yaml").read_text() == "mine: true\n" and (out / "notes.txt").is_file()
        if command == "run" and code == 0:
            assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def _sweep_case(config: dict, grid: dict, seeds: Any, out_how: str, extra: list[str]) -> None:
    with _sandbox() as sandbox:
        (sandbox / "s.yaml").write_text(yaml.safe_dump({"base": config, "grid": grid, "seeds": seeds},
                                                       allow_unicode=True))
        out = _prepare_out(sandbox, out_how)
        _check(["sweep", "s.yaml", "--out", str(out), "--workers", "1", "--dry-run", *extra], sandbox, out)


def _report_case(args: list[str], command: str) -> None:
    with _sandbox() as sandbox:
        out = _prepare_out(sandbox, "previous run")
        _check([command, str(out), *args], sandbox, out)


report_args = st.lists(st.one_of(
    st.tuples(st.just("--by"), st.sampled_from(["algorithm.type", "seed", "nosuch", ""])),
    st.tuples(st.just("--reference"), texts),
    st.tuples(st.just("--level"), st.sampled_from(["0.5", "0", "1", "nan", "-1", "x", "0.999999"])),
    st.tuples(st.just("--horizon"), st.sampled_from(["10", "0", "-1", "inf", "nan", "x"])),
), max_size=3).map(lambda pairs: [a for pair in pairs for a in pair])

_FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_SLOW = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

run_cases = dict(data=config_files(), args=overrides(), command=st.sampled_from(["validate", "run"]),
                 out_how=st.sampled_from(["new", "new", "user files", "previous run"]), overwrite=st.booleans())
sweep_cases = dict(config=configs(),
                   grid=st.lists(st.sampled_from(KEYS).flatmap(
                       lambda key: st.tuples(st.just(key), st.lists(value_for(key), min_size=1, max_size=2))),
                       max_size=2).map(dict),
                   seeds=st.one_of(*[st.integers(1, 2)] * 6, st.integers(-1, 0), st.booleans(),
                                   st.lists(st.integers(-1, 3), max_size=2)),
                   out_how=st.sampled_from(["new", "new", "user files"]),
                   extra=st.sampled_from([[], ["--replace-sweep"]]))


@_FAST
@given(**run_cases)
def test_run_and_validate_never_trace_back(data, args, command, out_how, overwrite):
    _run_case(data, args, command, out_how, overwrite)


@_FAST
@given(**sweep_cases)
def test_sweep_never_traces_back(config, grid, seeds, out_how, extra):
    _sweep_case(config, grid, seeds, out_how, extra)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=report_args)
def test_report_never_traces_back(args):
    _report_case(args, "report")


@pytest.mark.slow
@_SLOW
@given(**run_cases)
def test_run_and_validate_never_trace_back_at_length(data, args, command, out_how, overwrite):
    _run_case(data, args, command, out_how, overwrite)


@pytest.mark.slow
@_SLOW
@given(**sweep_cases)
def test_sweep_never_traces_back_at_length(config, grid, seeds, out_how, extra):
    _sweep_case(config, grid, seeds, out_how, extra)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=report_args, command=st.sampled_from(["report", "plot"]))
def test_report_and_plot_never_trace_back_at_length(args, command):
    _report_case(args, command)
