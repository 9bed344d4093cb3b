"""The realised population: recorded per run, carried by the summary, shown per cell by
`simfl report`, and the axis of a swept distribution parameter saying what was held fixed."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from simfl.cli import main
from simfl.plots.labels import axis_label, held_fixed_labels, label_context, sweep_axis_labels, value_label
from simfl.results.population import population_table
from simfl.results.rundir import read_parquet_file
from simfl.scenario.realised import PROFILE_COLUMNS, population_columns, population_stats

CV_KEY = "heterogeneity.compute.seconds_per_sample.cv"
SWEEP = f"""
base:
  data: {{num_clients: 40}}
  train: {{enabled: false, local_steps: 5}}
  heterogeneity:
    compute: {{seconds_per_sample: {{dist: lognormal, mean: 0.01, cv: 1}}}}
    network: {{down_mbps: {{dist: gamma, mean: 20, cv: 0.5}}, latency_s: 0.05}}
  algorithm: {{fedavg: {{clients_per_round: 4}}, fedasync: {{concurrency: 4}}}}
  stop: {{sim_time_s: 10}}
grid:
  algorithm.type: [fedavg, fedasync]
  {CV_KEY}: [0, 0.5, 2]
seeds: 3
targets: []
"""


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("realised")
    (tmp / "s.yaml").write_text(SWEEP)
    assert main(["sweep", str(tmp / "s.yaml"), "--out", str(tmp / "out"), "--workers", "1"]) == 0
    return tmp / "out"


def _by_hand(values: np.ndarray) -> dict:
    x = np.asarray(values, dtype=float)
    if x.min() == x.max():
        return {"mean": x[0], "median": x[0], "cv": 0.0 if 0 < x[0] < math.inf else None}
    return {"mean": x.mean(), "median": np.median(x), "cv": x.std() / x.mean()}


def test_each_run_records_what_its_clients_drew(sweep_dir):
    summary = pd.read_parquet(sweep_dir / "summary.parquet")
    assert len(summary) == 18
    for run_id in summary.run_id:
        run = sweep_dir / "runs" / run_id
        manifest = json.loads((run / "manifest.json").read_text())
        clients = read_parquet_file(run / "clients.parquet")
        for column in ("seconds_per_sample", "down_mbps", "latency_s"):
            expected = _by_hand(clients[column].to_numpy())
            assert manifest["population"][column] == pytest.approx(expected, rel=1e-12), column
        assert manifest["population"]["up_mbps"] == {"mean": "inf", "median": "inf", "cv": None}  # the default .inf
        row = summary.set_index("run_id").loc[run_id]
        for column in PROFILE_COLUMNS:
            for stat in ("mean", "median", "cv"):
                recorded = manifest["population"][column][stat]
                value = row[f"{column}_{stat}"]
                assert (math.isnan(value) if recorded is None else value == float(recorded)), (column, stat)


def test_a_cv_of_zero_is_every_client_at_the_mean(sweep_dir):
    summary = pd.read_parquet(sweep_dir / "summary.parquet")
    flat = summary[summary[CV_KEY] == 0]
    assert (flat.seconds_per_sample_mean == 0.01).all() and (flat.seconds_per_sample_cv == 0).all()
    assert not any("." in c for c in population_columns({}))  # a dotted column would read as a swept key


def test_report_shows_the_population_per_cell(sweep_dir, capsys):
    assert main(["report", str(sweep_dir)]) == 0
    out = capsys.readouterr().out
    assert "realised population per cell" in out and "mean / median / CV over clients" in out
    assert "download bandwidth:\n    cell  seeds" in out  # it does not change with the speed spread: one row
    block = out[out.index("seconds per sample:"):out.index("download bandwidth:")]
    rows = [line.split() for line in block.splitlines()[2:] if line.strip()]
    assert [float(r[0]) for r in rows] == [0.0, 0.5, 2.0]  # one row per cell, not per method
    assert all(r[1] == "3" for r in rows)  # three seeds each
    summary = pd.read_parquet(sweep_dir / "summary.parquet")
    for r in rows:
        cell = summary[summary[CV_KEY] == float(r[0])].drop_duplicates("seed")
        assert float(r[2]) == pytest.approx(cell.seconds_per_sample_mean.mean(), rel=1e-3)  # printed to 4 digits
    assert "latency:" not in out  # the same constant for every client: nothing to show
    assert "upload bandwidth:" not in out  # infinite


def test_population_table_mean_min_max_over_seeds():
    rows = []
    for cv, base in ((0.5, 1.0), (2.0, 10.0)):
        for seed in range(3):
            for method in ("fedavg", "fedasync"):  # the same population for every method under a seed
                rows.append({"algorithm.type": method, CV_KEY: cv, "seed": seed,
                             **{f"seconds_per_sample_{s}": base + seed for s in ("mean", "median", "cv")}})
    table = population_table(pd.DataFrame(rows), "algorithm.type")
    assert list(table[CV_KEY]) == [0.5, 2.0] and list(table.seeds) == [3, 3]
    assert list(table.seconds_per_sample_mean_mean) == [2.0, 11.0]
    assert list(table.seconds_per_sample_mean_min) == [1.0, 10.0]
    assert list(table.seconds_per_sample_mean_max) == [3.0, 12.0]
    # compared along the cv itself: its values are the cells (the population changes with it)
    by_cv = population_table(pd.DataFrame(rows), CV_KEY)
    assert list(by_cv[CV_KEY]) == [0.5, 2.0] and "algorithm.type" not in by_cv


@pytest.mark.parametrize("values, expected", [
    ([0.01] * 7, {"mean": 0.01, "median": 0.01, "cv": 0.0}),
    ([math.inf] * 3, {"mean": "inf", "median": "inf", "cv": None}),
    ([0.0] * 3, {"mean": 0.0, "median": 0.0, "cv": None}),
    ([1.0, 2.0, 3.0, 6.0], {"mean": 3.0, "median": 2.5, "cv": math.sqrt(3.5) / 3.0}),
])
def test_population_stats_are_json_safe(values, expected):
    stats = population_stats(pd.DataFrame({c: values for c in PROFILE_COLUMNS}))
    assert stats["seconds_per_sample"] == pytest.approx(expected)
    json.dumps(stats, allow_nan=False)  # no NaN or Infinity tokens
    flat = population_columns({"population": stats})
    assert flat["down_mbps_mean"] == (math.inf if expected["mean"] == "inf" else expected["mean"])


# ------------------------------------------------------------------ what the axis says is fixed
BASE = {"heterogeneity": {
    "compute": {"seconds_per_sample": {"dist": "lognormal", "median": 0.01, "sigma": 1.0}},
    "network": {"down_mbps": {"dist": "gamma", "mean": 20, "cv": 0.5}, "up_mbps": 5},
}}
SIGMA_KEY = "heterogeneity.compute.seconds_per_sample.sigma"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_sweep_axis_labels_come_from_the_recorded_base(sweep_dir):
    labels = sweep_axis_labels(sweep_dir)
    assert {k: _one_line(v) for k, v in labels.items()} == {
        CV_KEY: "CV of seconds per sample (lognormal, mean fixed at 0.01 s)"}


def test_a_median_sigma_sweep_says_the_mean_grows():
    labels = held_fixed_labels(BASE, [SIGMA_KEY, "algorithm.type", "heterogeneity.network.down_mbps.cv"])
    assert _one_line(labels[SIGMA_KEY]) == (
        "σ of log seconds per sample (lognormal, median fixed at 0.01 s: the mean grows as e^{σ²/2})")
    assert _one_line(labels["heterogeneity.network.down_mbps.cv"]) == (
        "CV of download bandwidth (gamma, mean fixed at 20 Mbit/s)")


@pytest.mark.parametrize("varied", [
    [SIGMA_KEY, "heterogeneity.compute.seconds_per_sample.median"],  # nothing of the form is held
    [SIGMA_KEY, "heterogeneity.compute.seconds_per_sample"],  # the law itself is swept
    ["heterogeneity.network.up_mbps.cv"],  # a constant has no parameters
    ["heterogeneity.compute.jitter.sigma"],  # not in the base
])
def test_no_fixed_claim_when_nothing_is_held(varied):
    assert SIGMA_KEY not in held_fixed_labels(BASE, varied) and len(held_fixed_labels(BASE, varied)) == 0


def test_a_user_label_overrides_and_panels_keep_a_short_name():
    derived = held_fixed_labels(BASE, ["heterogeneity.network.down_mbps.cv"])
    key = "heterogeneity.network.down_mbps.cv"
    with label_context({}, defaults=derived):
        assert "mean fixed at 20 Mbit/s" in axis_label(key)
        assert value_label(key, 0.5) == "CV of download bandwidth = 0.5"
    with label_context({key: "link spread"}, defaults=derived):
        assert axis_label(key) == "link spread"
    assert "fixed" not in axis_label(key)  # the context is gone


def test_plot_axis_says_what_was_held_fixed(tmp_path):
    # a small trained sweep over sigma of a median-form lognormal: its headline and time-to-target axes
    text = (SWEEP.replace("enabled: false, ", "").replace("num_clients: 40", "num_clients: 10")
            .replace("{dist: lognormal, mean: 0.01, cv: 1}", "{dist: lognormal, median: 0.01, sigma: 1}")
            .replace(CV_KEY + ": [0, 0.5, 2]", SIGMA_KEY + ": [0.5, 2]")
            .replace("seeds: 3", "seeds: 1").replace("targets: []", "targets: [0.3]"))
    (tmp_path / "s.yaml").write_text(text)
    assert main(["sweep", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out"), "--workers", "2"]) == 0
    assert main(["plot", str(tmp_path / "out"), "--out", str(tmp_path / "plots"), "--format", "svg"]) == 0
    for name in ("headline_0.3", "time_to_0.3"):
        svg = (tmp_path / "plots" / f"{name}.svg").read_text()
        assert "(lognormal, median fixed at 0.01 s: the mean grows as e^{σ²/2})" in svg, name
    args = ["plot", str(tmp_path / "out"), "--out", str(tmp_path / "mine"), "--format", "svg",
            "--label", f"{SIGMA_KEY}=speed spread"]
    assert main(args) == 0
    svg = (tmp_path / "mine" / "headline_0.3.svg").read_text()
    assert "speed spread" in svg and "median fixed" not in svg
