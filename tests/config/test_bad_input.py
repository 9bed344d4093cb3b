"""Every kind of malformed input: one line naming the key and what is allowed, exit code 2,
no traceback, and no run directory that looks complete."""

import subprocess
import sys
import textwrap

import pytest
import yaml

from simfl.cli import main
from simfl.results import run_status
from tests.conftest import _merge

GOOD = """
data: {num_clients: 10}
train: {enabled: false}
stop: {sim_time_s: 5}
"""


def _write(tmp_path, text, name="cfg.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def _with(extra: str) -> str:
    """GOOD with the sections of ``extra`` merged in (YAML forbids repeating a section)."""
    merged = _merge(yaml.safe_load(GOOD), yaml.safe_load(extra) or {})
    return yaml.safe_dump(merged)


def _message(err: str) -> list[str]:
    return [line.split(": error: ", 1)[1] for line in err.strip().splitlines()]


CASES = [
    # (config text appended to GOOD, --set overrides, substrings the one line must contain)
    ("algorithm: {concurency: 5}", [], ["algorithm.concurency", "did you mean 'concurrency'"]),
    ("algoritm: {type: fedavg}", [], ["algoritm", "did you mean 'algorithm'"]),
    ("heterogeneity: {compute: {seconds_per_sampel: 0.1}}", [], ["heterogeneity.compute.seconds_per_sampel", "seconds_per_sample"]),
    ("algorithm: {type: fedavgg}", [], ["algorithm.type", "'fedavgg'", "fedavg, fedasync, fedbuff"]),
    ("algorithm: {staleness: {type: hing}}", [], ["algorithm.staleness.type", "hinge"]),
    ("heterogeneity: {availability: {type: sometimes}}", [], ["heterogeneity.availability.type", "always, onoff, diurnal"]),
    ("heterogeneity: {compute: {jitter: {dist: lognorm, mean: 1, sigma: 1}}}", [], ["heterogeneity.compute.jitter.dist", "lognormal"]),
    ("model: {type: transformer}", [], ["model.type", "logreg, mlp, cnn"]),
    ("algorithm: {concurrency: ten}", [], ["algorithm.concurrency", "integer", "'ten'"]),
    ("algorithm: {alpha: [1, 2]}", [], ["algorithm.alpha", "number"]),
    ("heterogeneity: {compute: {seconds_per_sample: -0.1}}", [], ["heterogeneity.compute.seconds_per_sample", ">= 0", "-0.1"]),
    ("heterogeneity: {network: {latency_s: -1}}", [], ["heterogeneity.network.latency_s", "-1"]),
    ("heterogeneity: {network: {up_mbps: 0}}", [], ["heterogeneity.network.up_mbps", "> 0"]),
    ("heterogeneity: {network: {latency_s: .inf}}", [], ["heterogeneity.network.latency_s", "finite"]),
    ("heterogeneity: {compute: {jitter: {dist: uniform, low: 2, high: 1}}}", [], ["heterogeneity.compute.jitter", "high"]),
    ("heterogeneity: {compute: {jitter: {dist: lognormal, mean: 1, median: 1, sigma: 1}}}", [], ["heterogeneity.compute.jitter", "lognormal takes exactly one of {mean, sigma}, {median, sigma} or {mean, cv}", "got {mean, median, sigma}"]),
    # the {mean, cv} forms (issue 19): one form per mapping, and each law's reach
    ("heterogeneity: {compute: {seconds_per_sample: {dist: gamma, mean: 1, shape: 2, cv: 1}}}", [], ["heterogeneity.compute.seconds_per_sample", "{mean, shape} or {mean, cv}", "got {mean, shape, cv}"]),
    ("heterogeneity: {compute: {seconds_per_sample: {dist: lognormal, mean: 1, sigma: 1, cv: 1}}}", [], ["heterogeneity.compute.seconds_per_sample", "got {mean, sigma, cv}"]),
    ("heterogeneity: {compute: {seconds_per_sample: {dist: weibull, mean: 1}}}", [], ["heterogeneity.compute.seconds_per_sample", "weibull takes exactly one of {mean, shape} or {mean, cv}"]),
    ("heterogeneity: {compute: {seconds_per_sample: {dist: pareto, mean: 1, shape: 3}}}", [], ["heterogeneity.compute.seconds_per_sample", "{scale, shape} or {mean, cv}", "got {shape, mean}"]),
    ("heterogeneity: {compute: {seconds_per_sample: {dist: halfnormal, mean: 1, std: 1}}}", [], ["heterogeneity.compute.seconds_per_sample", "{std} or {mean}"]),
    ("heterogeneity: {compute: {seconds_per_sample: {dist: uniform, low: 0, cv: 0.5}}}", [], ["heterogeneity.compute.seconds_per_sample", "{low, high} or {mean, cv}"]),
    ("heterogeneity: {compute: {seconds_per_sample: {dist: uniform, mean: 1, cv: 0.6}}}", [], ["heterogeneity.compute.seconds_per_sample", "cv must be <= 1/√3"]),
    ("heterogeneity: {compute: {seconds_per_sample: {dist: normal, mean: 1, cv: 1}}}", [], ["heterogeneity.compute.seconds_per_sample", "cv must be < 1"]),
    ("heterogeneity: {compute: {seconds_per_sample: {dist: weibull, mean: 1, cv: 1e15}}}", [], ["heterogeneity.compute.seconds_per_sample", "cv must be <= 3.18e+14"]),
    ("heterogeneity: {compute: {seconds_per_sample: {dist: weibull, mean: 1, shape: 0.001}}}", [], ["heterogeneity.compute.seconds_per_sample", "shape must be >= 0.006"]),
    ("heterogeneity: {compute: {seconds_per_sample: {dist: gamma, mean: 1, cv: -0.5}}}", [], ["heterogeneity.compute.seconds_per_sample.cv", ">= 0"]),
    ("heterogeneity: {network: {down_mbps: {dist: gamma, mean: 10, cv: 1e6}}}", [], ["heterogeneity.network.down_mbps", "underflow"]),
    ("heterogeneity: {compute: {jitter: {dist: exponential}}}", [], ["heterogeneity.compute.jitter.mean", "missing"]),
    ("heterogeneity: {availability: {type: onoff, on_s: 5}}", [], ["heterogeneity.availability.off_s", "missing"]),
    ("heterogeneity: {availability: {type: onoff, on_s: {dist: pareto, scale: 1, shape: 0.9}, off_s: 1}}", [], ["heterogeneity.availability.on_s", "finite mean"]),
    ("heterogeneity: {availability: {type: diurnal, profile: [0.5, 1.5]}}", [], ["heterogeneity.availability.profile.1", "<= 1"]),
    ("algorithm: {concurrency: 0}", [], ["algorithm.concurrency", ">= 1"]),
    ("algorithm: {type: fedbuff, buffer_size: 0}", [], ["algorithm.buffer_size", ">= 1"]),
    ("algorithm: {concurrency: 11}", [], ["algorithm.concurrency", "<= data.num_clients (10)"]),
    ("algorithm: {type: fedavg, clients_per_round: 11}", [], ["algorithm.clients_per_round", "num_clients is 10"]),
    ("algorithm: {type: fedavg, clients_per_round: 8, over_selection: 0.5}", [], ["algorithm.over_selection", "selects 12"]),
    ("algorithm: {alpha: 1.5}", [], ["algorithm.alpha", "<= 1"]),
    ("algorithm: {type: fedavg, deadline_s: -3}", [], ["algorithm.deadline_s", "> 0"]),
    ("algorithm: {max_staleness: -1}", [], ["algorithm.max_staleness", ">= 0"]),
    ("stop: {sim_time_s: null}", [], ["stop", "at least one of"]),
    ("stop: {target_accuracy: 0.8}", [], ["stop.target_accuracy", "dry run"]),
    ("data: {num_clients: 0}", [], ["data.num_clients", ">= 1"]),
    ("data: {dataset: digits}", [], ["data.partition", "natural", "iid, dirichlet or shards"]),
    ("data: {dataset: mnist}", [], ["data.dataset", "synthetic, digits, idx"]),
    ("data: {dataset: idx, partition: iid}", [], ["data.path"]),
    ("train: {local_epochs: 1, local_steps: 3}", [], ["train.local_epochs", "not both"]),
    ("model: {type: cnn}", [], ["model.type", "cnn needs image inputs"]),
    ("seed: -4", [], ["seed", ">= 0"]),
    # the richer world (issue 6) and the algorithms (issue 7)
    ("heterogeneity: {compute: {slowdown: {normal_s: 10, busy_s: 5, factor: 0}}}", [], ["heterogeneity.compute.slowdown.factor", "> 0"]),
    ("heterogeneity: {compute: {slowdown: {normal_s: 10}}}", [], ["heterogeneity.compute.slowdown.busy_s", "missing"]),
    ("heterogeneity: {compute: {diurnal_speed: {profile: [1, 0]}}}", [], ["heterogeneity.compute.diurnal_speed.profile.1", "> 0"]),
    ("heterogeneity: {server: {ingress_mbps: 0}}", [], ["heterogeneity.server.ingress_mbps", "> 0"]),
    ("heterogeneity: {server: {aggregation_s_per_update: -1}}", [], ["heterogeneity.server.aggregation_s_per_update", ">= 0"]),
    ("heterogeneity: {coupling: {by: size, strength: 2}}", [], ["heterogeneity.coupling.strength", "<= 1"]),
    ("heterogeneity: {coupling: {by: speed, strength: 0.5}}", [], ["heterogeneity.coupling.by", "size, label"]),
    ("heterogeneity: {profiles: {path: nowhere.csv}}", [], ["nowhere.csv"]),
    ("heterogeneity: {availability: {type: trace, path: x.csv, format: csv}}", [], ["heterogeneity.availability.format", "table, fedscale"]),
    ("data: {drift: [{at_s: 5, type: label_swap}]}", [], ["data.drift.0", "classes"]),
    ("data: {drift: [{at_s: 5, type: label_permutation, permutation: [0, 0, 1]}]}", [], ["data.drift.0", "permutation"]),
    ("algorithm: {selection: {type: oldest}}", [], ["algorithm.selection.type", "least_recent"]),
    ("algorithm: {selection: {type: oort}}", [], ["algorithm.selection.type", "needs client losses"]),
    ("algorithm: {selection: {type: fastest, epsilon: 1.5}}", [], ["algorithm.selection.epsilon", "<= 1"]),
    ("algorithm: {client_cooldown_s: -2}", [], ["algorithm.client_cooldown_s", ">= 0"]),
    ("algorithm: {max_dispatch_per_s: 0}", [], ["algorithm.max_dispatch_per_s", "> 0"]),
    ("algorithm: {type: fedat, tiers: 11}", [], ["algorithm.tiers", "<= data.num_clients (10)"]),
    ("algorithm: {type: semisync, period_s: 0}", [], ["algorithm.period_s", "> 0"]),
    ("algorithm: {type: fedavg, server_optimizer: {type: adam, beta2: 1.0}}", [], ["algorithm.server_optimizer.beta2", "< 1"]),
    ("algorithm: {type: fedavg, server_optimizer: {type: avgm, beta1: 0.9}}", [], ["algorithm.server_optimizer.beta1", "unknown key"]),
    ("", ["algorithm.concurency=4"], ["--set algorithm.concurency", "did you mean 'concurrency'"]),
    ("", ["nosuch.key=4"], ["--set nosuch", "unknown key"]),
    ("", ["algorithm.alpha"], ["--set 'algorithm.alpha'", "KEY=VALUE"]),
    ("", ["heterogeneity.compute.seconds_per_sample.sigma=2"], ["heterogeneity.compute.seconds_per_sample", "not a mapping"]),
    ("", ["algorithm.type=[fedavg"], ["--set algorithm.type", "YAML syntax error"]),
    ("", ["data.num_clients=-2"], ["data.num_clients", ">= 1"]),
]


@pytest.mark.parametrize("extra, overrides, expected", CASES, ids=[c[0] or c[1][0] for c in CASES])
def test_bad_config_fails_cleanly(tmp_path, capsys, extra, overrides, expected):
    cfg = _write(tmp_path, _with(extra))
    out = tmp_path / "out"
    argv = ["run", str(cfg), "--out", str(out)]
    for o in overrides:
        argv += ["--set", o]
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for piece in expected:
        assert piece in lines[0], lines[0]
    assert "Traceback" not in err
    assert not out.exists()
    # validate reports the same problem
    assert main(["validate", str(cfg), *sum((["--set", o] for o in overrides), [])]) == 2
    assert _message(capsys.readouterr().err) == _message(err)


def test_yaml_syntax_error_names_line(tmp_path, capsys):
    cfg = _write(tmp_path, "data:\n  num_clients: [10\ntrain: {enabled: false}\n")
    assert main(["validate", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "YAML syntax error (line" in err and str(cfg) in err


def test_duplicate_keys_are_rejected(tmp_path, capsys):
    cfg = _write(tmp_path, GOOD + "data: {num_clients: 5}\n")
    assert main(["validate", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "duplicate key 'data'" in err and "line 5" in err


def test_top_level_must_be_a_mapping(tmp_path, capsys):
    cfg = _write(tmp_path, "- 1\n- 2\n")
    assert main(["validate", str(cfg)]) == 2
    assert "top level must be a mapping" in capsys.readouterr().err


def test_missing_config_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [f"simfl run: error: {tmp_path / 'nope.yaml'}: no such config file"]


def test_missing_idx_folder(tmp_path, capsys):
    cfg = _write(tmp_path, _with(f"data: {{dataset: idx, partition: iid, num_clients: 10, path: {tmp_path / 'nothing'}}}"))
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nothing" in err and "Traceback" not in err
    assert not out.exists()


def test_bad_flag_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "x.yaml", "--frobnicate"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--frobnicate" in err


def test_existing_run_dir_is_not_overwritten(tmp_path, capsys):
    cfg = _write(tmp_path, GOOD)
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    capsys.readouterr()
    before = (out / "manifest.json").read_text()
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "already holds a complete run" in err and "--overwrite" in err
    assert (out / "manifest.json").read_text() == before
    assert main(["run", str(cfg), "--out", str(out), "--overwrite"]) == 0
    assert run_status(out) == "complete"


def test_console_script_prints_no_traceback(tmp_path):
    cfg = _write(tmp_path, _with("algorithm: {type: fedavgg}"))
    proc = subprocess.run([sys.executable, "-m", "simfl.cli", "run", str(cfg)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ issue 13, item 5
@pytest.mark.parametrize("data, expected", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a binary file, not YAML text"),
    (b"\xff\xfe\x00\x00d\x00a\x00", "a binary file, not YAML text"),
    (b"data: {num_clients: 10}\ntrain: {enabled: caf\xe9}\n", "not UTF-8 text (byte 0xe9 at offset 44)"),
    (b"\xe9t\xe9: 1\n", "not UTF-8 text (byte 0xe9 at offset 0)"),
    (b"", "the file is empty"),
    (b"   \n\n", "the file is empty"),
    (b"# only a comment\n", "the file is empty"),
    (b"null\n", "the file is empty"),
])
def test_unreadable_or_empty_config_files(tmp_path, capsys, data, expected):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_bytes(data)
    for command in ("validate", "run"):
        assert main([command, str(cfg), "--set", "train.enabled=false"]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert f"{cfg}: {expected}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.yaml"]


def test_an_empty_sweep_base_is_an_error(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text("# to do\n")
    (tmp_path / "s.yaml").write_text("base: base.yaml\ngrid: {seed_label: [1]}\n".replace("seed_label", "label"))
    assert main(["sweep", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out")]) == 2
    assert "base.yaml: the file is empty" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


STRICT = [
    # (config text merged into GOOD, --set overrides, substrings of the one line)
    ("data: {num_clients: true}", [], ["data.num_clients", "must be an integer, not a boolean"]),
    ("seed: false", [], ["seed", "must be an integer, not a boolean"]),
    ("train: {enabled: 'yes'}", [], ["train.enabled", "must be true or false", "'yes'"]),
    ("train: {enabled: 1}", [], ["train.enabled", "must be true or false"]),
    ("data: {synthetic_iid: 'true'}", [], ["data.synthetic_iid", "must be true or false"]),
    ("eval: {per_client: 0}", [], ["eval.per_client", "must be true or false"]),
    ("train: {lr: true}", [], ["train.lr", "must be a number, not a boolean"]),
    ("stop: {client_updates: true}", [], ["stop.client_updates", "must be an integer, not a boolean"]),
    ("heterogeneity: {compute: {seconds_per_sample: {dist: lognormal, mean: true, sigma: 1}}}", [],
     ["heterogeneity.compute.seconds_per_sample.mean", "must be a number, not a boolean"]),
    ("algorithm: {staleness: {type: polynomial, a: true}}", [], ["algorithm.staleness.a", "not a boolean"]),
    ("data: {drift: [{at_s: 1, type: label_swap, classes: [1, true]}]}", [],
     ["data.drift.0.classes", "item 1 must be an integer, not a boolean"]),
    ("", ["algorithm.concurrency=true"], ["algorithm.concurrency", "must be an integer, not a boolean"]),
    ("", ["algorithm.max_staleness=false"], ["algorithm.max_staleness", "must be an integer, not a boolean"]),
]


@pytest.mark.parametrize("extra, overrides, expected", STRICT, ids=[c[0] or c[1][0] for c in STRICT])
def test_booleans_and_numbers_are_not_coerced(tmp_path, capsys, extra, overrides, expected):
    cfg = _write(tmp_path, _with(extra))
    assert main(["validate", str(cfg), *sum((["--set", o] for o in overrides), [])]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for piece in expected:
        assert piece in lines[0], lines[0]


@pytest.mark.parametrize("extra", [
    "train: {lr: 1}",  # an integer is a valid float
    "train: {lr: 1e-3}",  # YAML 1.1 reads this as a float here
    "stop: {client_updates: 1e3}",  # an integral float is a valid count
    "data: {synthetic_iid: yes}",  # YAML 1.1's boolean spelling
    "algorithm: {staleness: {type: hinge, a: 1, b: 2}}",
])
def test_lax_where_it_is_harmless(tmp_path, capsys, extra):
    assert main(["validate", str(_write(tmp_path, _with(extra)))]) == 0, capsys.readouterr().err


def test_a_sweep_with_boolean_seeds_is_an_error(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text("base: {train: {enabled: false}}\nseeds: true\n")
    assert main(["sweep", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out")]) == 2
    assert "seeds: must be an integer, not a boolean" in capsys.readouterr().err


@pytest.fixture(scope="module")
def numeric_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("numeric")
    (tmp / "s.yaml").write_text(
        "base: {data: {num_clients: 5}, train: {enabled: false}, algorithm: {concurrency: 2}, stop: {sim_time_s: 3}}\n"
        "grid: {heterogeneity.compute.jitter: [1.0, 2.5]}\nseeds: 2\n")
    assert main(["sweep", str(tmp / "s.yaml"), "--out", str(tmp / "out"), "--workers", "1"]) == 0
    return tmp / "out"


@pytest.mark.parametrize("reference, ok", [("2.5", True), ("1.0", True), ("1", True), ("3", False), ("fast", False)])
def test_report_reference_of_a_numeric_key(numeric_sweep, capsys, reference, ok):
    """A value given on the command line is text; it names the float it spells."""
    capsys.readouterr()
    args = ["report", str(numeric_sweep), "--by", "heterogeneity.compute.jitter", "--reference", reference]
    assert main(args) == (0 if ok else 2)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if not ok:
        assert err.strip().splitlines() == [
            f"simfl report: error: --reference {reference}: not a value of heterogeneity.compute.jitter; values: 1.0, 2.5"]


def test_report_level_outside_the_unit_interval_from_python(numeric_sweep):
    from simfl.errors import SimflError
    from simfl.results.report import report_text

    for level in (0.0, 1.0, 1.5, float("nan")):
        with pytest.raises(SimflError, match=f"--level {level}: must be a number in \\(0, 1\\)"):
            report_text(numeric_sweep, by="heterogeneity.compute.jitter", level=level)


@pytest.mark.parametrize("text, key", [
    ('data: {dataset: idx, path: "a\\0b"}', "data.path"),
    ('heterogeneity: {availability: {type: trace, path: "a\\0b"}}', "heterogeneity.availability.path"),
    ('heterogeneity: {profiles: {path: "a\\0b"}}', "heterogeneity.profiles.path"),
])
def test_a_path_with_a_nul_character_is_one_line(tmp_path, capsys, text, key):
    """Found by the fuzz test: the operating system cannot take such a path (ValueError)."""
    (tmp_path / "c.yaml").write_text(text + "\n")
    assert main(["validate", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{key}: a file path cannot contain a NUL character" in err, err
