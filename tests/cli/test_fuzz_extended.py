"""Fuzzing what issue 21 adds to the command line's fuzzing (:mod:`tests.cli.test_fuzz`):
plugins that misbehave, a user's own data files, and the flags of ``plot``, ``report`` and
``partition``.

Properties: every command exits with an allowed code (0 or 2; ``run`` also 3, diverged),
prints one line ``simfl <cmd>: error: ...`` on 2 and never a traceback; a run that exits 2
leaves a ``failed`` manifest (never ``complete``); nothing outside ``--out`` is touched; a
file the user wrote before the command is neither changed nor deleted unless ``--replace``.

Plugin modules get a fresh name per example (Python caches imported modules by name).
"""

from __future__ import annotations

import itertools
import json
import struct
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from tests.cli.test_fuzz import _check, _quiet, _sandbox, _snapshot

_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]  # no explain: it reruns slow examples


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, phases=_PHASES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


_FAST, _SLOW = _settings(40), _settings(300)
_names = itertools.count()

WORLD = {
    "seed": 0,
    "data": {"num_clients": 12, "dataset": "synthetic"},
    "train": {"enabled": False},
    "eval": {"every_s": None},
    "heterogeneity": {"compute": {"seconds_per_sample": 0.005, "jitter": 1.0}},
    "stop": {"sim_time_s": 5},
}
TRAINED = {"train": {"enabled": True, "local_steps": 1, "batch_size": 8}, "model": {"type": "logreg"},
           "stop": {"sim_time_s": 1.5}}


# ------------------------------------------------------------------ plugins
#: Python literals a hook returns or passes on (text: it is written into the plugin's source).
returned = st.one_of(
    st.integers(-3, 14).map(repr),
    st.sampled_from(["None", "True", "False", "1.5", "2.0", "'3'", "float('nan')", "float('inf')", "-0.0", "1e300",
                     "np.int64(2)", "np.int8(-1)", "np.uint64(3)", "np.float32(1)", "np.bool_(True)", "[1]",
                     "(0, 1)", "np.array(1)", "np.array([2])", "{}", "object()", "2**70", "complex(1, 0)"]),
)
weights = st.one_of(
    st.floats(-2, 3, allow_nan=False).map(repr),
    st.sampled_from(["0", "1", "None", "True", "float('nan')", "float('inf')", "'half'", "np.float32(0.5)",
                     "np.float64('nan')", "np.int64(1)", "[0.5]", "np.array(0.5)", "complex(0.5, 0)", "1e309"]),
)
installs = st.sampled_from([
    "server.params", "None", "x[:-1]", "np.append(x, x[:1])", "x.astype(np.float64)", "x.astype(np.int32)",
    "x * np.float32('nan')", "x * np.float32('inf')", "x.reshape(1, -1)", "list(x)", "0.0", "'model'",
    "np.zeros(3, np.float32)", "x.astype(object)", "x + 1j",
])
hook_raises = st.sampled_from(["ZeroDivisionError", "KeyError", "RuntimeError", "AttributeError",
                               "RecursionError", "MemoryError", "SystemExit", "StopIteration", "ValueError",
                               "TypeError", "IndexError", "OverflowError", "NotImplementedError", "AssertionError"])


@st.composite
def policies(draw) -> str:
    """The source of a ``Policy`` class ``P`` that misbehaves in one generated way."""
    how = draw(st.sampled_from(["dispatch", "applied", "hold_twice", "hold", "install", "raise_init", "raise_start",
                                "raise_arrivals", "drop_twice", "stop", "count", "call_later", "fine"]))
    value, weight, model, exc = draw(returned), draw(weights), draw(installs), draw(hook_raises)
    start = "self.flight.refill(server)"
    arrive = ("for t in updates:\n    server.applied(t, 1.0)\n"
              "x = server.params\nserver.install(server.params)\nself.flight.refill(server)")
    init = ""
    if how == "dispatch":
        start = f"server.dispatch({value})"
    elif how == "applied":
        arrive = arrive.replace("server.applied(t, 1.0)", f"server.applied(t, {weight})")
    elif how == "hold":
        arrive = arrive.replace("server.applied(t, 1.0)", f"server.hold(t, {weight})\n    server.applied(t, 1.0)")
    elif how == "hold_twice":
        arrive = arrive.replace("server.applied(t, 1.0)", "server.hold(t)\n    server.hold(t)")
    elif how == "drop_twice":
        arrive = arrive.replace("server.applied(t, 1.0)", "server.drop(t)\n    server.drop(t)")
    elif how == "install":
        arrive = arrive.replace("server.install(server.params)", f"server.install(None if x is None else {model})")
    elif how == "raise_init":
        init = f"raise {exc}('boom')"
    elif how == "raise_start":
        start = f"raise {exc}('boom')"
    elif how == "raise_arrivals":
        arrive = f"raise {exc}('boom')"
    elif how == "stop":
        arrive += f"\nserver.stop({value})"
    elif how == "count":
        arrive += f"\nserver.count({value}, {value})"
    elif how == "call_later":
        arrive += f"\nserver.call_later({weight}, self.flight.refill, server)"
    default = draw(st.sampled_from(["2", "2", "2", "0", "-1", "'two'", "None", "2.5", "True"]))
    return f'''
class P(Policy):
    class Params(AlgorithmParams):
        concurrency: int = Field({default}, description="tasks in flight")

    def __init__(self, params):
        self.flight = InFlight(max(1, params.concurrency) if isinstance(params.concurrency, int) else 2)
{textwrap.indent(init, " " * 8)}

    def start(self, server):
{textwrap.indent(start, " " * 8)}

    def on_arrivals(self, server, updates):
{textwrap.indent(arrive, " " * 8)}
'''


@st.composite
def selectors(draw) -> str:
    """The source of a ``Selector`` class ``S`` whose ``select`` returns a generated value, or raises."""
    value = draw(returned)
    body = draw(st.sampled_from([f"return {value}", f"raise {draw(hook_raises)}('boom')",
                                 f"return {value} if server.now > 0 else None"]))
    round_ = draw(st.sampled_from(["", f"\n    def select_round(self, server, m):\n        return {draw(st.sampled_from(['[0, 0]', '[]', 'None', '[1, 2]', '(3,)', '[-1]', 'np.arange(m)', '[True]', '[1.0]']))}\n"]))
    return f'''
class S(Selector):
    class Params(SelectionParams):
        pass

    def __init__(self, params):
        pass

    def select(self, server):
        {body}
{round_}'''


@st.composite
def stalenesses(draw) -> str:
    """The source of a ``StalenessFunction`` class ``F`` returning a generated value."""
    value = draw(st.one_of(returned, weights, st.sampled_from(["1 / (tau + 1)", "1 / tau", "tau", "-tau",
                                                               "np.float32(1) / (tau + 1)", "0.5 ** tau"])))
    return f'''
class F(StalenessFunction):
    a: float = Field({draw(st.sampled_from(["0.5", "0.5", "-1", "'x'", "None"]))}, description="a")

    def __call__(self, tau):
        return {value}
'''


@st.composite
def plugin_modules(draw) -> tuple[str, dict]:
    """``(module source, algorithm section)``: plugins written into one module, named in the config."""
    kind = draw(st.sampled_from(["policy", "policy", "selector", "staleness", "broken"]))
    header = ("import numpy as np\nfrom simfl.api import (AlgorithmParams, Field, InFlight, Policy, Selector, "
              "SelectionParams, StalenessFunction)\n")
    if kind == "policy":
        return header + draw(policies()), {"type": "{m}:P"}
    if kind == "selector":
        return header + draw(selectors()), {"type": draw(st.sampled_from(["fedasync", "fedbuff", "fedavg"])),
                                            "selection": {"type": "{m}:S"}}
    if kind == "staleness":
        return header + draw(stalenesses()), {"type": draw(st.sampled_from(["fedasync", "fedbuff", "semisync"])),
                                              "staleness": {"type": "{m}:F"}}
    broken = draw(st.sampled_from([
        "def (:\n", "raise RuntimeError('at import')\n", "import no_such_module_xyz\n", "P = 3\n", "class P:\n    pass\n",
        "import sys\nsys.exit(3)\n", "raise KeyboardInterrupt_ := ValueError('x')\n", "\x00\n",
        "from simfl.api import Policy\nclass P(Policy):\n    pass\n",
        "from simfl.api import Policy, AlgorithmParams\nclass P(Policy):\n    Params = 3\n    def start(self, s): pass\n"
        "    def on_arrivals(self, s, u): pass\n",
    ]))
    key = draw(st.sampled_from(["type", "selection", "staleness", "missing"]))
    section = {"type": "fedasync", "selection": {"type": "{m}:P"}} if key == "selection" else \
        {"type": "fedasync", "staleness": {"type": "{m}:P"}} if key == "staleness" else \
        {"type": "{m}:Nope" if key == "missing" else "{m}:P"}
    return broken, section


def _named(section, module: str):
    if isinstance(section, dict):
        return {k: _named(v, module) for k, v in section.items()}
    return section.replace("{m}", module) if isinstance(section, str) else section


def _merge(base: dict, extra: dict) -> dict:
    out = json.loads(json.dumps(base))
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _plugin_case(plugin: tuple[str, dict], trained: bool, validate: bool) -> None:
    source, section = plugin
    module = f"fz_plugin_{next(_names)}"
    with _sandbox() as sandbox:
        (sandbox / f"{module}.py").write_text(source)
        config = _merge(_merge(WORLD, TRAINED) if trained else WORLD, {"algorithm": _named(section, module)})
        (sandbox / "cfg.yaml").write_text(yaml.safe_dump(config))
        out = sandbox / "out"
        if validate:
            event(f"validate: exit {_check(['validate', 'cfg.yaml'], sandbox, out)}")
            return
        code = _check(["run", "cfg.yaml", "--out", str(out)], sandbox, out, allowed=(0, 2, 3))
        event(f"run: exit {code}")
        manifest = out / "manifest.json"
        if code == 2 and manifest.is_file():
            assert json.loads(manifest.read_text())["status"] == "failed"
        if code == 0:
            assert json.loads(manifest.read_text())["status"] == "complete"


plugin_cases = dict(plugin=plugin_modules(), trained=st.sampled_from([False] * 5 + [True]), validate=st.booleans())


@_FAST
@given(**plugin_cases)
def test_misbehaving_plugins_fail_on_one_line(plugin, trained, validate):
    _plugin_case(plugin, trained, validate)


@pytest.mark.slow
@_SLOW
@given(**plugin_cases)
def test_misbehaving_plugins_fail_on_one_line_at_length(plugin, trained, validate):
    _plugin_case(plugin, trained, validate)


# ------------------------------------------------------------------ own data files
_arrays = st.one_of(
    st.tuples(st.sampled_from(["float32", "float64", "int64", "int8", "uint8", "bool", "complex64", "object", "U3",
                               "float16"]),
              st.lists(st.integers(0, 6), min_size=0, max_size=3)),
    st.sampled_from([("nan", [5, 2]), ("inf", [5, 2]), ("labels", [5]), ("negative", [5]), ("scalar", [])]),
)


def _array(spec: tuple[str, list[int]]) -> np.ndarray:
    kind, shape = spec
    n = int(np.prod(shape)) if shape else 1
    base = np.arange(n) % 3
    if kind == "nan":
        return np.full(shape, np.nan, np.float32)
    if kind == "inf":
        return np.full(shape, np.inf)
    if kind == "labels":
        return base.reshape(shape).astype(np.int64)
    if kind == "negative":
        return -base.reshape(shape) - 1
    if kind == "scalar":
        return np.array(1.5)
    if kind == "object":
        return np.array([{"a": i} for i in range(n)], dtype=object).reshape(shape)
    return base.reshape(shape).astype(kind)


@st.composite
def npz_files(draw) -> bytes:
    """The bytes of a ``.npz`` with generated members (or not an archive at all)."""
    kind = draw(st.sampled_from(["npz"] * 8 + ["bytes", "empty", "huge", "zip"]))
    if kind == "bytes":
        return draw(st.binary(max_size=40))
    if kind == "empty":
        return b""
    buffer = __import__("io").BytesIO()
    if kind in ("huge", "zip"):
        with zipfile.ZipFile(buffer, "w") as z:
            header = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 10), }"
            header += " " * (118 - len(header)) + "\n"
            z.writestr("x.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 16
                       if kind == "huge" else b"not an npy")
            z.writestr("y.npy", b"\x93NUMPY")
        return buffer.getvalue()
    good = {"x": np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32), "y": np.arange(40) % 3,
            "client_id": np.arange(40) % 4}
    keys = draw(st.lists(st.sampled_from(["x", "y", "client_id", "x_test", "y_test", "client_id_test", "extra"]),
                         unique=True, max_size=draw(st.sampled_from([0, 1, 1, 3]))))
    arrays = {k: v for k, v in good.items() if draw(st.integers(0, 5)) > 0}
    for key in keys:
        arrays[key] = _array(draw(_arrays))
    np.savez(buffer, allow_pickle=True, **arrays) if draw(st.booleans()) else np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 5), st.floats(allow_nan=False, allow_infinity=False, width=32),
              st.sampled_from(["", "u1", "a", "1"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["x", "y", "u1", "a"]), inner,
                                                                          max_size=3)),
    max_leaves=8,
)


@st.composite
def leaf_objects(draw) -> object:
    """A LEAF JSON object: mostly well formed with one generated defect, sometimes anything."""
    if draw(st.integers(0, 5)) == 0:
        return draw(_json_values)
    users = draw(st.lists(st.sampled_from(["u1", "u2", "u3"]), max_size=3, unique=draw(st.integers(0, 5)) > 0))
    obj = {"users": users, "num_samples": [3 for _ in users],
           "user_data": {u: {"x": [[0.1, 0.2]] * 3, "y": [0, 1, 2]} for u in users}}
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        where = draw(st.sampled_from(["users", "num_samples", "user_data", "x", "y", "drop"]))
        value = draw(_json_values)
        if where == "drop":
            obj.pop(draw(st.sampled_from(["users", "num_samples", "user_data"])), None)
        elif where in ("x", "y") and users and isinstance(obj.get("user_data"), dict) and users[0] in obj["user_data"]:
            obj["user_data"][users[0]][where] = draw(st.one_of(st.just(value), st.sampled_from(
                [[["a", "b"]] * 3, [0.5, 1.5, 2.5], [True, False, True], [[0.1], [0.2, 0.3], [0.4]], [], [[[[[1]]]]] * 3,
                 [-1, 0, 1], [1e300, 1, 2], ["0", "1", "2"]])))
        else:
            obj[where] = value
    return obj


@st.composite
def idx_files(draw) -> bytes:
    """An IDX file: a generated magic (type code, dimensions), sizes and a possibly truncated body."""
    dtype = draw(st.sampled_from([0x08, 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]))
    dims = draw(st.lists(st.integers(0, 12), min_size=0, max_size=4))
    magic = bytes([0, 0, dtype, draw(st.one_of(st.just(len(dims)), st.integers(0, 255)))])
    if draw(st.integers(0, 6)) == 0:
        magic = draw(st.binary(min_size=0, max_size=4))
    sizes = b"".join(struct.pack(">I", d) for d in dims)
    if draw(st.integers(0, 8)) == 0:
        sizes = struct.pack(">I", 2**31) + sizes[4:]
    size = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}.get(dtype, 1) * int(np.prod(dims or [0]))
    body = bytes(i % 7 for i in range(size))
    cut = draw(st.one_of(st.just(len(body)), st.integers(0, max(len(body), 1))))
    return magic + sizes + body[:cut]


@st.composite
def data_layouts(draw) -> tuple[dict, dict[str, bytes]]:
    """``(data section, files to write)`` for dataset arrays, leaf or idx."""
    dataset = draw(st.sampled_from(["arrays", "leaf", "idx"]))
    section: dict = {"dataset": dataset, "num_clients": draw(st.sampled_from([None, 2, 4, 50]))}
    if draw(st.booleans()):
        section["partition"] = draw(st.sampled_from(["natural", "iid", "dirichlet", "shards"]))
    if draw(st.integers(0, 5)) == 0:
        section[draw(st.sampled_from(["num_classes", "input_dtype", "input_shape"]))] = draw(st.sampled_from(
            [None, 2, 3, 100, -1, "float32", "int64", "auto", [2, 2], [6], [1, 3]]))
    if dataset == "arrays":
        section["path"] = draw(st.sampled_from(["d.npz"] * 8 + ["missing.npz", "d.txt", "."]))
        return section, {"d.npz": draw(npz_files()), "d.txt": b"x"}
    if dataset == "leaf":
        layout = draw(st.sampled_from(["file", "folder", "split"]))
        text = lambda obj: json.dumps(obj).encode()  # noqa: E731
        if layout == "file":
            section["path"] = "leaf.json"
            return section, {"leaf.json": draw(st.one_of(leaf_objects().map(text), st.binary(max_size=20)))}
        section["path"] = "leaf"
        files = {"leaf/train/a.json": text(draw(leaf_objects()))}
        if layout == "split":
            files["leaf/test/a.json"] = text(draw(leaf_objects()))
        return section, files
    section["path"] = "mnist"
    section.setdefault("partition", "iid")
    if draw(st.booleans()):  # a valid pair of files, one of them perhaps replaced by a generated one
        n = draw(st.integers(1, 30))
        files = {"mnist/train-images-idx3-ubyte": b"\0\0\x08\x03" + struct.pack(">III", n, 2, 2) + bytes(4 * n),
                 "mnist/train-labels-idx1-ubyte": b"\0\0\x08\x01" + struct.pack(">I", n) + bytes(i % 3 for i in range(n))}
        if draw(st.booleans()):
            files[draw(st.sampled_from(sorted(files) + ["mnist/t10k-labels-idx1-ubyte"]))] = draw(idx_files())
        return section, files
    names = draw(st.lists(st.sampled_from(["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]),
                          unique=True, min_size=1, max_size=4))
    return section, {f"mnist/{name}": draw(idx_files()) for name in names}


def _data_case(layout: tuple[dict, dict[str, bytes]], command: str) -> None:
    section, files = layout
    with _sandbox() as sandbox:
        for name, data in files.items():
            (sandbox / name).parent.mkdir(parents=True, exist_ok=True)
            (sandbox / name).write_bytes(data)
        config = _merge(WORLD, {"data": section, "algorithm": {"type": "fedasync", "concurrency": 1}})
        (sandbox / "cfg.yaml").write_text(yaml.safe_dump(config))
        out = sandbox / "out"
        argv = {"validate": ["validate", "cfg.yaml"],
                "run": ["run", "cfg.yaml", "--out", str(out), "--dry-run"],
                "partition": ["partition", "cfg.yaml", "--out", str(out / "counts.parquet")]}[command]
        out.mkdir()
        event(f"{section['dataset']} {command}: exit {_check(argv, sandbox, out)}")


data_cases = dict(layout=data_layouts(), command=st.sampled_from(["validate", "run", "partition"]))


@_FAST
@given(**data_cases)
def test_own_data_files_are_read_or_refused_on_one_line(layout, command):
    _data_case(layout, command)


@pytest.mark.slow
@_SLOW
@given(**data_cases)
def test_own_data_files_are_read_or_refused_on_one_line_at_length(layout, command):
    _data_case(layout, command)


# ------------------------------------------------------------------ plot / report / partition flags
SWEEP = {
    "base": _merge(_merge(WORLD, TRAINED), {"eval": {"every_s": 0.5}, "stop": {"sim_time_s": 3},
                                            "algorithm": {"fedasync": {"concurrency": 3},
                                                          "fedavg": {"clients_per_round": 3}}}),
    "grid": {"algorithm.type": ["fedavg", "fedasync"]},
    "seeds": 2,
    "targets": [0.2, 0.5],
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> dict[str, Path]:
    """A finished tiny trained sweep (2 methods x 2 seeds, figures drawn once) and a dry run."""
    root = tmp_path_factory.mktemp("finished")
    (root / "s.yaml").write_text(yaml.safe_dump(SWEEP))
    (root / "r.yaml").write_text(yaml.safe_dump(WORLD))
    assert _quiet(["sweep", str(root / "s.yaml"), "--out", str(root / "sweep"), "--workers", "1"])[0] == 0
    assert _quiet(["run", str(root / "r.yaml"), "--out", str(root / "run")])[0] == 0
    return {"sweep": root / "sweep", "run": root / "run", "sweep run": sorted((root / "sweep" / "runs").iterdir())[0]}


_floats = st.sampled_from(["0.5", "0", "1", "-1", "nan", "inf", "x", "1e-9", "0.999", "3", ""])
flag_values = {
    "--dpi": st.sampled_from(["10", "20", "9", "2401", "100000", "x", "-1", "20.5", ""]),
    "--size": st.sampled_from(["column", "text", "huge", ""]),
    "--style": st.sampled_from(["paper", "default", "ggplot", "nosuch", "../x.mplstyle", "mine.mplstyle", "",
                                "missing.mplstyle", "seaborn-v0_8"]),
    "--format": st.sampled_from(["png", "svg", "pdf", "jpg", ""]),
    "--by": st.sampled_from(["algorithm.type", "algorithm.type", "seed", "nosuch", "", "heterogeneity"]),
    "--reference": st.sampled_from(["fedavg", "fedasync", "nosuch", "", "0", "FedAvg"]),
    "--level": _floats,
    "--horizon": _floats,
    "--budget": _floats,
    "--label": st.sampled_from(["algorithm.type=method", "fedavg=FedAvg", "noequals", "=x", "x=", "a=b=c",
                                "algorithm.type=ünï $x^2$", "algorithm.type=$\\frac{$"]),
    "--targets": st.lists(_floats, min_size=0, max_size=2),
    "--relative-targets": st.lists(_floats, min_size=0, max_size=2),
    "--target-rule": st.sampled_from(["sustained", "first", "last", ""]),
    "--target-window": st.sampled_from(["1", "2", "3", "50", "0", "-1", "x"]),
}
_COMMON = ["--by", "--reference", "--level", "--horizon", "--targets", "--relative-targets", "--target-rule",
           "--target-window"]
_PLOT = _COMMON + ["--dpi", "--size", "--style", "--format", "--budget", "--label"]


@st.composite
def flags(draw, names: list[str]) -> list[str]:
    out: list[str] = []
    for name in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
        value = draw(flag_values[name])
        out += [name, *value] if isinstance(value, list) else [name, value]
    return out


_USER = b"the user's own bytes\n"


def _user_files(sandbox: Path, target: Path, where: str) -> tuple[Path | None, list[Path]]:
    """Set up ``--out`` (None: the default) as ``where`` says; the user files written, to be kept."""
    (sandbox / "mine.mplstyle").write_text("lines.linewidth: 2\n")
    mine = [sandbox / "mine.mplstyle", target / "plots" / "notes.txt"]
    if where == "default":
        out = None
    elif where == "new":
        out = sandbox / "figs" / "deep"
    elif where == "user file":
        out = sandbox / "figure.png"
        mine.append(out)
    elif where == "user folder":
        out = sandbox / "mine"
        out.mkdir()
        mine += [out / "convergence.png", out / "timeline.pdf", out / "notes.txt", out / ".simfl-figures.json"]
    elif where == "plots by name":
        out = target / "plots"
        mine.append(out / "convergence.png")
    else:  # simfl's own folder: the run or sweep directory itself
        out = target
    for path in mine:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_USER)
    return out, mine


def _plot_case(what: str, args: list[str], where: str, replace: bool, finished: dict[str, Path]) -> None:
    with _sandbox() as sandbox:
        import shutil

        source = finished["sweep" if what == "sweep run" else what]
        shutil.copytree(source, sandbox / "given")
        target = sandbox / "given" / (finished["sweep run"].relative_to(source) if what == "sweep run" else "")
        out, mine = _user_files(sandbox, target, where)
        before = {p: p.read_bytes() for p in mine}
        argv = ["plot", str(target), *args] + (["--out", str(out)] if out is not None else []) + \
            (["--replace"] if replace else [])
        written = target if out is None or out == target else sandbox / "figs" if where == "new" else out
        code = _check(argv, sandbox, written)
        event(f"plot {what}: exit {code}")
        for path, data in before.items():
            if replace and out is not None and path.parent == out:
                continue
            assert path.is_file() and path.read_bytes() == data, (argv, path)
        if code == 0:
            made = [p for p in (out or target / "plots").iterdir() if p.suffix in (".png", ".svg", ".pdf")]
            assert made, argv


def _report_case(what: str, args: list[str], finished: dict[str, Path]) -> None:
    with _sandbox() as sandbox:
        target = finished[what]
        before = _snapshot(target, skip=target / "nothing")
        code = _check(["report", str(target), *args], sandbox, sandbox / "out")
        event(f"report {what}: exit {code}")
        assert _snapshot(target, skip=target / "nothing") == before, args  # reading writes nothing


def _partition_case(config: dict, where: str, replace: bool, again: bool) -> None:
    with _sandbox() as sandbox:
        (sandbox / "cfg.yaml").write_text(yaml.safe_dump(config))
        out = {"new": sandbox / "new" / "c.parquet", "user parquet": sandbox / "c.parquet",
               "user text": sandbox / "c.txt", "folder": sandbox / "d.parquet", "none": None}[where]
        mine = []
        if where in ("user parquet", "user text"):
            out.write_bytes(_USER)
            mine.append(out)
        elif where == "folder":
            out.mkdir()
            (out / "x").write_bytes(_USER)
            mine.append(out / "x")
        argv = ["partition", "cfg.yaml", *(["--out", str(out)] if out is not None else []),
                *(["--replace"] if replace else [])]
        runs = 2 if again else 1  # the second time, --out holds the table simfl wrote
        for _ in range(runs):
            code = _check(argv, sandbox, sandbox / "new" if where == "new" else out or sandbox / "none")
        event(f"partition {where}: exit {code}")
        for path in mine:
            if not (replace and path == out):
                assert path.read_bytes() == _USER, (argv, path)
        if where == "user text" and code == 0:
            pytest.fail(f"{argv}: wrote a label-count table to a path not ending in .parquet")


plot_cases = dict(what=st.sampled_from(["sweep", "sweep", "run", "sweep run"]), args=flags(_PLOT),
                  where=st.sampled_from(["default", "new", "user file", "user folder", "plots by name", "own"]),
                  replace=st.booleans())
report_cases = dict(what=st.sampled_from(["sweep", "sweep", "run", "sweep run"]), args=flags(_COMMON))
partition_cases = dict(
    config=st.fixed_dictionaries({"seed": st.integers(0, 3), "data": st.fixed_dictionaries(
        {"num_clients": st.sampled_from([4, 12, 200]), "dataset": st.sampled_from(["synthetic", "digits"]),
         "partition": st.sampled_from(["natural", "iid", "dirichlet", "shards"])},
        optional={"dirichlet_alpha": st.sampled_from([0.01, 1.0, -1, 1e9]), "shards_per_client": st.sampled_from(
            [1, 2, 0, 1000]), "quantity_skew": st.sampled_from([None, 0.5, 3.0, -1]),
                  "test_fraction": st.sampled_from([0.0, 0.2, 0.99, 1.0])})}),
    where=st.sampled_from(["new", "new", "user parquet", "user text", "folder", "none"]), replace=st.booleans(),
    again=st.booleans())


@_settings(6)
@given(**plot_cases)
def test_plot_flags_never_trace_back_nor_touch_user_files(finished, what, args, where, replace):
    _plot_case(what, args, where, replace, finished)


@_settings(30)
@given(**report_cases)
def test_report_flags_never_trace_back(finished, what, args):
    _report_case(what, args, finished)


@_FAST
@given(**partition_cases)
def test_partition_flags_never_trace_back_nor_touch_user_files(config, where, replace, again):
    _partition_case(config, where, replace, again)


@pytest.mark.slow
@_settings(60)
@given(**plot_cases)
def test_plot_flags_never_trace_back_nor_touch_user_files_at_length(finished, what, args, where, replace):
    _plot_case(what, args, where, replace, finished)


@pytest.mark.slow
@_settings(200)
@given(**report_cases)
def test_report_flags_never_trace_back_at_length(finished, what, args):
    _report_case(what, args, finished)


@pytest.mark.slow
@_SLOW
@given(**partition_cases)
def test_partition_flags_never_trace_back_nor_touch_user_files_at_length(config, where, replace, again):
    _partition_case(config, where, replace, again)
