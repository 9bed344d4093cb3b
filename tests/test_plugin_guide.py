"""docs/plugins.md, run: every code block of the guide is read from the page and executed.

The page is the only copy: a block marked ``file=NAME`` in its opening fence is saved as ``NAME``
in one folder (a config block is put in a small world: :data:`WORLDS`; a sweep file, with a
``base``, is saved as written); an unmarked ``python`` block is executed there (its ``assert``s
are the facts it states); a ``bash`` block's ``simfl`` commands run there in order, each output
folder checked by :data:`OUTPUT_CHECKS`; a ``console`` block runs its ``$`` commands in a
subprocess and compares their output and exit code with the page. Each config the commands do not
run is run here and checked by its entry in :data:`CONFIG_CHECKS`. A block of another kind, or a
file no check knows, fails :func:`test_every_block_of_the_guide_is_checked`.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import yaml

import simfl
from simfl import registry
from simfl.cli import main

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"

_FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    """One fenced block of the guide."""

    lang: str
    file: str | None
    code: str
    line: int

    @property
    def id(self) -> str:
        return f"{self.lang}@{self.line}" if self.file is None else self.file


def guide_blocks() -> list[Block]:
    """The fenced blocks of docs/plugins.md, in order."""
    text = GUIDE.read_text(encoding="utf-8")
    blocks = []
    for m in _FENCE.finditer(text):
        marks = dict(part.split("=", 1) for part in m.group(2).split() if "=" in part)
        blocks.append(Block(m.group(1), marks.get("file"), m.group(3), text.count("\n", 0, m.start()) + 1))
    return blocks


def _blocks(lang: str, *, files: bool = False) -> list[Block]:
    return [b for b in guide_blocks() if b.lang == lang and (b.file is not None) == files]


# --------------------------------------------------------------------------- the worlds
_SMALL = {
    "seed": 0,
    "data": {"num_clients": 12},
    "heterogeneity": {"compute": {"seconds_per_sample": {"dist": "lognormal", "median": 0.05, "sigma": 1.0},
                                  "jitter": {"dist": "exponential", "mean": 1.0}}},
    "train": {"local_steps": 2, "batch_size": 10},
}
#: A world trained for a few simulated seconds.
TRAINED = {**_SMALL, "stop": {"sim_time_s": 20.0}, "eval": {"every_s": 10.0}}
#: A timing-only world, long enough for statistics on the recorded columns.
DRY = {**_SMALL, "train": {**_SMALL["train"], "enabled": False}, "stop": {"sim_time_s": 1e4, "client_updates": 600}}

#: The world each config block of the guide is put in (its own keys win).
WORLDS = {
    "adaptive_async.yaml": TRAINED,
    "quantile_fastest.yaml": DRY,
    "sigmoid_staleness.yaml": DRY,
    "clipped.yaml": TRAINED,
    "config.yaml": {**TRAINED, "stop": {"sim_time_s": 5.0}},
    "damped_async.yaml": DRY,
    "by_size.yaml": DRY,
    "broken.yaml": DRY,
}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _modules() -> list[str]:
    return [Path(b.file).stem for b in _blocks("python", files=True)]


@pytest.fixture(scope="module")
def guide(tmp_path_factory):
    """A folder holding every file block of the guide (configs in their worlds); the guide's
    modules are imported from it (and forgotten after: examples/plugins uses the same names)."""
    folder = tmp_path_factory.mktemp("guide")
    for block in guide_blocks():
        if block.file is None:
            continue
        text = block.code
        if block.lang == "yaml":
            data = yaml.safe_load(text)
            if "base" not in data:  # a config: put in its world
                text = yaml.safe_dump(_merge(WORLDS[block.file], data), sort_keys=False)
        (folder / block.file).write_text(text, encoding="utf-8")
    for name in _modules():
        sys.modules.pop(name, None)
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))
    for name in _modules():
        sys.modules.pop(name, None)


def _run(folder: Path, name: str, **stop) -> simfl.RunResult:
    overrides = [f"stop.{key}={value}" for key, value in stop.items()]
    return simfl.run(simfl.load_config(folder / name, overrides), progress=False)


def _applied(updates: pd.DataFrame) -> pd.DataFrame:
    return updates[updates.status == "applied"]


def _s(tau) -> np.ndarray:
    """FedBuff's default staleness function, 1/sqrt(1 + tau)."""
    return (np.asarray(tau, dtype=float) + 1.0) ** -0.5


# -------------------------------------------------------------- what each run must show
def check_adaptive(updates: pd.DataFrame, alpha: float = 0.6, smoothing: float = 0.1) -> None:
    """AdaptiveAsync's weights, recomputed from the recorded staleness in the order it saw them."""
    seen = _applied(updates).sort_values(["arrival_time_s", "task_id"])
    assert len(seen) > 20 and seen.staleness.nunique() > 2
    typical, expected = 0.0, []
    for tau in seen.staleness:
        expected.append(min(1.0, alpha * (typical + 1.0) / (tau + 1.0)))
        typical += smoothing * (tau - typical)
    np.testing.assert_allclose(seen.weight, expected, rtol=1e-12)


def _check_adaptive_run(folder: Path, out: Path) -> None:
    run = simfl.load_run(out)
    assert run.manifest["status"] == "complete"
    check_adaptive(run.client_updates)


def _check_switched(folder: Path, out: Path, alpha: float) -> None:
    run = simfl.load_run(out)
    assert run.config.algorithm.type == "adaptive_async:AdaptiveAsync" and run.config.algorithm.alpha == alpha
    check_adaptive(run.client_updates, alpha=alpha)


def _check_sweep(folder: Path, out: Path) -> None:
    summary = pd.read_parquet(out / "summary.parquet")
    assert summary.groupby("label").status.agg(list).to_dict() == {"adaptive": ["complete"] * 5,
                                                                    "fedbuff": ["complete"] * 5}
    # every variant faced the same five worlds
    assert summary.groupby("label").seed.agg(sorted).map(tuple).nunique() == 1


def _check_plots(folder: Path, out: Path) -> None:
    assert any(out.rglob("*.png")) or any(out.rglob("*.pdf")), "simfl plot wrote no figure"


#: The output folder of each command of the guide → what must hold there.
OUTPUT_CHECKS: dict[str, Callable[[Path, Path], None]] = {
    "runs/adaptive": _check_adaptive_run,
    "runs/mine": lambda folder, out: _check_switched(folder, out, 0.6),
    "runs/mine_03": lambda folder, out: _check_switched(folder, out, 0.3),
    "sweeps/mine": _check_sweep,
}


def check_quantile_fastest(folder: Path) -> None:
    """With 4 tasks in flight and 6 fast clients of 12, every dispatch goes to a fast client."""
    result = _run(folder, "quantile_fastest.yaml")
    assert result.config.algorithm.selection.type == "quantile_fastest:QuantileFastest"
    world = simfl.load_config(folder / "quantile_fastest.yaml", ["algorithm.selection={type: uniform}"])
    everyone = simfl.run(world, progress=False).client_updates  # the same world, uniform picks
    expected = (everyone.download_s + everyone.compute_work_s + everyone.upload_s).groupby(everyone.client_id).mean()
    assert len(expected) == 12
    fast = set(expected.index[expected <= expected.quantile(0.5)])
    picked = result.client_updates.client_id
    assert len(fast) == 6 and set(picked) == fast


def check_sigmoid(folder: Path) -> None:
    """FedBuff records s(tau) in the weight column: here the guide's sigmoid."""
    result = _run(folder, "sigmoid_staleness.yaml")
    rows = result.client_updates[result.client_updates.status.isin(["applied", "buffered"])]
    tau = rows.staleness.to_numpy(dtype=float)
    assert len(rows) > 100 and len(set(tau)) > 2
    k, b = 1.0, 4.0
    np.testing.assert_allclose(rows.weight, (1 + math.exp(-k * b)) / (1 + np.exp(k * (tau - b))), rtol=1e-12)


def check_clipped(folder: Path) -> None:
    """The clipped optimizer moves the model by at most lr * max_norm per server step (and does move it)."""
    finals = [_run(folder, "clipped.yaml", server_updates=k).final_params for k in (1, 2, 3)]
    steps = [np.linalg.norm(b - a) for a, b in zip(finals, finals[1:])]
    assert all(0 < step <= 0.01 * (1 + 1e-6) for step in steps)


def check_damped(folder: Path) -> None:
    """weight = alpha s(tau), times hinge(tau; a=2, b=4) past late_after = 2; the counter counts those."""
    result = simfl.run(simfl.load_config(folder / "damped_async.yaml"), out=folder / "runs" / "damped", progress=False)
    rows = _applied(result.client_updates)
    tau = rows.staleness.to_numpy(dtype=float)
    assert (tau > 4).any() and ((tau > 2) & (tau <= 4)).any() and (tau <= 2).any()
    hinge = np.where(tau <= 4.0, 1.0, 1.0 / (2.0 * (tau - 4.0) + 1.0))
    np.testing.assert_allclose(rows.weight, 0.6 * _s(tau) * np.where(tau > 2, hinge, 1.0), rtol=1e-12)
    assert result.manifest["late_updates"] == int((tau > 2).sum())
    on_disk = json.loads((folder / "runs" / "damped" / "manifest.json").read_text())
    assert on_disk["late_updates"] == result.manifest["late_updates"]  # at the top level of the file


def check_by_size(folder: Path) -> None:
    """FedAvg rounds of 4 distinct clients; and the selector's own draws, against their law."""
    result = _run(folder, "by_size.yaml")
    rounds = result.client_updates.groupby("round").client_id.agg(list)
    assert len(rounds) > 50 and all(len(c) == 4 == len(set(c)) for c in rounds)
    from by_size import BySize

    from simfl.rng import BlockUniforms

    sizes = result.clients.num_samples.to_numpy()
    assert sizes.max() > 3 * sizes.min()  # unequal data: the law differs from the uniform one

    class World:  # what BySize reads of the server
        num_samples = sizes
        selection_stream = BlockUniforms(np.random.default_rng(1))

        @staticmethod
        def eligible_mask():
            return np.ones(len(sizes), dtype=bool)

    selector = BySize(BySize.Params(type="by_size:BySize", epsilon=0.1))
    n = 20_000
    picks = np.array([selector.select(World) for _ in range(n)])
    p = 0.9 * sizes / sizes.sum() + 0.1 / len(sizes)
    freq = np.bincount(picks, minlength=len(sizes)) / n
    assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / n))
    rnd = selector.select_round(World, 5)
    assert isinstance(rnd, list) and len(rnd) == 5 == len(set(rnd)) and all(type(c) is int for c in rnd)


#: Each config block the guide's commands do not run → its check (it runs the config itself).
CONFIG_CHECKS: dict[str, Callable[[Path], None]] = {
    "quantile_fastest.yaml": check_quantile_fastest,
    "sigmoid_staleness.yaml": check_sigmoid,
    "clipped.yaml": check_clipped,
    "damped_async.yaml": check_damped,
    "by_size.yaml": check_by_size,
}
#: Config blocks run by the guide's own commands (checked through :data:`OUTPUT_CHECKS`).
RUN_BY_COMMANDS = {"adaptive_async.yaml", "config.yaml", "broken.yaml"}


# ------------------------------------------------------------------------------ tests
def test_every_block_of_the_guide_is_checked():
    blocks = guide_blocks()
    assert {b.lang for b in blocks} <= {"python", "yaml", "bash", "console"}, "a block of a kind nothing runs"
    assert not _blocks("yaml"), "a yaml block without file=NAME is run by nothing"
    files = [b.file for b in blocks if b.file is not None]
    assert len(files) == len(set(files)), "two blocks write the same file"
    configs = {b.file for b in blocks if b.lang == "yaml" and "base" not in yaml.safe_load(b.code)}
    assert configs == set(CONFIG_CHECKS) | RUN_BY_COMMANDS == set(WORLDS)
    outs = {o for b in _blocks("bash") for o in re.findall(r"--out (\S+)", b.code)}
    assert outs == set(OUTPUT_CHECKS)
    # the python files are the ones the configs name
    named = {m.split(":")[0] for b in blocks if b.lang == "yaml"
             for m in re.findall(r"([a-z_]+:[A-Z]\w+)", b.code)}
    assert named == set(_modules())


@pytest.mark.parametrize("block", _blocks("python"), ids=lambda b: b.id)
def test_a_python_block_of_the_guide_holds(block, guide, monkeypatch):
    monkeypatch.chdir(guide)
    exec(compile(block.code, f"{GUIDE}:{block.line}", "exec"), {"__name__": f"guide_block_{block.line}"})


@pytest.mark.parametrize("name", sorted(CONFIG_CHECKS))
def test_a_config_of_the_guide_runs_and_does_what_the_guide_says(name, guide):
    CONFIG_CHECKS[name](guide)


@pytest.mark.parametrize("block", _blocks("bash"), ids=lambda b: b.id)
def test_the_commands_of_the_guide_run(block, guide, monkeypatch, capsys):
    monkeypatch.chdir(guide)
    for line in block.code.replace("\\\n", " ").splitlines():  # a line ending in \ continues
        argv = shlex.split(line, comments=True)
        if not argv:
            continue
        assert argv[0] == "simfl", f"{GUIDE}:{block.line}: a command the test does not run: {line}"
        assert main(argv[1:]) == 0, line
        if "--out" in argv:
            out = argv[argv.index("--out") + 1]
            OUTPUT_CHECKS[out](guide, guide / out)
        if argv[1] == "plot":
            _check_plots(guide, guide / argv[2])
        if argv[1] == "docs":  # a method's table: each of its own keys, with its description
            from simfl.api import AlgorithmParams

            shown = capsys.readouterr().out
            params = registry.resolve("algorithm", argv[3], [guide]).params
            own = {k: f for k, f in params.model_fields.items() if k not in AlgorithmParams.model_fields}
            assert argv[2] == "algorithm" and own
            assert all(f"| `{key}` | `{f.default}` | {f.description} |" in shown for key, f in own.items()), shown


@pytest.mark.parametrize("block", _blocks("console"), ids=lambda b: b.id)
def test_a_console_session_of_the_guide_prints_what_it_shows(block, guide):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    commands: list[tuple[str, list[str]]] = []
    for line in block.code.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            commands[-1][1].append(line)
    code = None
    for command, expected in commands:
        if command == "echo $?":
            assert [str(code)] == expected
            continue
        argv = shlex.split(command)
        program = {"simfl": [sys.executable, "-m", "simfl.cli"], "python": [sys.executable]}[argv[0]]
        proc = subprocess.run([*program, *argv[1:]], cwd=guide, env=env, capture_output=True, text=True, timeout=300)
        code = proc.returncode
        assert (proc.stdout + proc.stderr).strip().splitlines() == expected, command


def test_the_weight_column_table_matches_the_builtins():
    """The guide's table of what each built-in method records, against dry runs of each."""
    text = GUIDE.read_text(encoding="utf-8")
    table = text.split("### The weight and staleness columns", 1)[1].split("\n\n")[2]
    methods = [re.match(r"\| `(\w+)` \|", row).group(1) for row in table.splitlines()[2:]]
    assert sorted(methods) == sorted(registry.builtins("algorithm"))
    world = _merge(DRY, {"data": {"num_clients": 20}})
    algorithm = {"fedasync": {"concurrency": 6}, "fedbuff": {"concurrency": 8, "buffer_size": 3,
                                                             "buffer_normalization": "weight"},
                 "fedavg": {"clients_per_round": 5}, "semisync": {"concurrency": 8, "period_s": 0.5},
                 "fedat": {"tiers": 2, "clients_per_round": 3}}
    for method in methods:
        res = simfl.run(simfl.config_from_dict(_merge(world, {"algorithm": {"type": method, **algorithm[method]}})),
                        progress=False)
        rows = _applied(res.client_updates)
        n = res.clients.set_index("client_id").num_samples.reindex(rows.client_id).to_numpy(dtype=float)
        tau = rows.staleness.to_numpy(dtype=float)
        assert len(rows) > 100, method
        if method == "fedasync":
            expected = 0.6 * _s(tau)
        elif method == "fedbuff":
            held = res.client_updates[res.client_updates.status.isin(["applied", "buffered"])]
            np.testing.assert_allclose(held.weight, _s(held.staleness), rtol=1e-12)
            expected = _s(tau)
        else:
            # an aggregation's updates: a round's, or (semisync) the period's that each arrived in
            group = np.ceil(rows.arrival_time_s / 0.5) if method == "semisync" else rows["round"]
            share = n * (_s(tau) if method == "semisync" else 1.0)
            expected = share / pd.Series(share, index=rows.index).groupby(group).transform("sum").to_numpy()
        if method in ("fedasync", "fedbuff", "semisync"):
            assert len(set(tau)) > 2, method
        if method == "fedavg":
            assert (tau == 0).all()
        np.testing.assert_allclose(rows.weight, expected, rtol=1e-12, err_msg=method)


def test_the_aggregation_helpers_compute_the_guides_formulas():
    """weighted_mean is weighted_average of the tasks' results (normalised); weighted_delta is
    Σ w_k (x_start,k − x_k) / divisor, each task against its own start model (not normalised)."""
    from types import SimpleNamespace

    from simfl.api import weighted_average, weighted_delta, weighted_mean

    rng = np.random.default_rng(0)
    starts, results = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    tasks = [SimpleNamespace(params=x, i=i) for i, x in enumerate(starts)]
    server = SimpleNamespace(params=rng.normal(size=5), results=lambda ts: [results[t.i] for t in ts])
    w = [1.0, 2.0, 5.0]
    np.testing.assert_allclose(weighted_mean(server, tasks, w), (results * np.c_[w]).sum(0) / 8.0)
    np.testing.assert_allclose(weighted_mean(server, tasks, [2 * x for x in w]), weighted_mean(server, tasks, w))
    np.testing.assert_allclose(weighted_delta(server, tasks, w, 4.0), ((starts - results) * np.c_[w]).sum(0) / 4.0)
    with pytest.raises(ValueError):
        weighted_average(list(results), [0.0, 0.0, 0.0])


def test_the_selection_stream_is_the_guides_table():
    """next() in [0, 1); index(n) = min(int(next() * n), n - 1), one draw; uniforms(n) = the next n draws."""
    from simfl.rng import BlockUniforms

    a, b = BlockUniforms(np.random.default_rng(7), block=16), BlockUniforms(np.random.default_rng(7), block=16)
    for n in (1, 3, 10, 40):
        drawn = a.uniforms(n)
        assert isinstance(drawn, np.ndarray) and np.array_equal(drawn, [b.next() for _ in range(n)])
        u = b.next()
        assert type(u) is float and 0.0 <= u < 1.0 and a.index(n) == min(int(u * n), n - 1)


def test_build_component_gives_what_a_run_uses():
    from simfl.api import ServerOptimizer, build_component
    from simfl.config.params import builtin_params

    staleness = builtin_params("staleness", "hinge", a=1.0)
    assert build_component(staleness) is staleness
    assert isinstance(build_component(builtin_params("server_optimizer", "adam", lr=0.1)), ServerOptimizer)


def test_the_guides_links_to_its_own_sections_resolve():
    """Every ``(#anchor)`` of the guide names one of its headings (GitHub's slugs)."""
    text = GUIDE.read_text(encoding="utf-8")
    outside = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#+ (.+)$", outside, flags=re.MULTILINE)
    slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links and links <= slugs, sorted(links - slugs)
