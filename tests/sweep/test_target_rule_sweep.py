"""The target rule in a sweep: chosen in the sweep file, recorded, recomputed by report/plot, named.

The yardstick is :func:`simfl.results.summary.time_to_accuracy` on each run's stored evaluations
under the rule in question; the curves of a small trained sweep are noisy, so the sustained and
first-crossing times differ for some run at a target read off the data (the tests check that, so
that they mean something).
"""

from __future__ import annotations

import json
import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from simfl.cli import main
from simfl.results import load_sweep_tables, summary_with_targets, target_column, time_to_accuracy
from simfl.results.report import report_text
from simfl.results.targetrule import FIRST, SUSTAINED, TargetRule, target_rule_sentence
from simfl.results.sweepdir import SWEEP_MANIFEST, sweep_fingerprint

TARGET = 0.3  # the sweep file's target

SWEEP = """
base:
  data: {{num_clients: 8}}
  train: {{local_steps: 5}}
  heterogeneity: {{compute: {{seconds_per_sample: {{dist: lognormal, median: 0.01, sigma: 1.0}}}}}}
  algorithm: {{fedavg: {{clients_per_round: 4}}, fedasync: {{concurrency: 4}}}}
  model: {{type: logreg}}
  stop: {{sim_time_s: 6}}
  eval: {{every_s: 0.5}}
grid:
  algorithm.type: [fedavg, fedasync]
  heterogeneity.compute.seconds_per_sample.sigma: [0.5, 1.5]
seeds: 2
targets: [{target}]
{rule}
"""


def _write(folder, rule: str = ""):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sweep.yaml").write_text(textwrap.dedent(SWEEP.format(target=TARGET, rule=rule)))
    return folder / "sweep.yaml"


def _evals(sweep, run_id) -> pd.DataFrame:
    return pd.read_parquet(sweep / "runs" / run_id / "evals.parquet")


def _times(sweep, summary, target, rule) -> np.ndarray:
    return np.array([time_to_accuracy(_evals(sweep, r), target, rule) for r in summary.run_id])


def _telling_target(sweep, summary) -> float:
    """A target some run crosses and falls back from before its end (first ≠ sustained there)."""
    for run_id in summary.run_id:
        acc = _evals(sweep, run_id).test_accuracy.to_numpy(float)
        for a in sorted(set(np.round(acc, 3)), reverse=True):
            t = float(a)
            if 0 < t <= 1 and acc[-1] < t <= acc.max() and time_to_accuracy(_evals(sweep, run_id), t, FIRST) > 0:
                return t
    raise AssertionError("no run of the sweep crosses a target and falls back: the tests would mean nothing")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A sweep run with the default rule: ``(out, sweep file)``."""
    folder = tmp_path_factory.mktemp("rule")
    path = _write(folder)
    assert main(["sweep", str(path), "--out", str(folder / "out"), "--workers", "1"]) == 0
    return folder / "out", path


# ----------------------------------------------------------------------------- the sweep
def test_a_sweep_summarizes_sustained_times_by_default_and_records_the_rule(sweep):
    out, _ = sweep
    summary = pd.read_parquet(out / "summary.parquet")
    np.testing.assert_array_equal(summary[target_column(TARGET)].to_numpy(float),
                                  _times(out, summary, TARGET, SUSTAINED))
    manifest = json.loads((out / SWEEP_MANIFEST).read_text())
    assert manifest["sweep"]["target_rule"] == {"type": "sustained", "window": None}


def test_another_rule_is_recomputed_from_the_evaluations_and_differs_where_the_curve_falls_back(sweep):
    out, _ = sweep
    summary = pd.read_parquet(out / "summary.parquet")
    t = _telling_target(out, summary)
    col = target_column(t)
    sustained = summary_with_targets(out, [t])  # the sweep's own rule
    first = summary_with_targets(out, [t], rule=FIRST)
    window = summary_with_targets(out, [t], rule=TargetRule(window=2))
    np.testing.assert_array_equal(sustained[col].to_numpy(float), _times(out, summary, t, SUSTAINED))
    np.testing.assert_array_equal(first[col].to_numpy(float), _times(out, summary, t, FIRST))
    np.testing.assert_array_equal(window[col].to_numpy(float), _times(out, summary, t, TargetRule(window=2)))
    differ = ~np.isclose(first[col].to_numpy(float), sustained[col].to_numpy(float), equal_nan=True)
    assert differ.any()
    # a crossing that falls back counts as reached under first only: first is never later
    assert (np.nan_to_num(first[col].to_numpy(float), nan=np.inf)
            <= np.nan_to_num(sustained[col].to_numpy(float), nan=np.inf)).all()


def test_a_first_rule_sweep_in_the_same_folder_is_this_sweep_under_another_rule(sweep, tmp_path, capsys):
    out, _ = sweep
    path = _write(tmp_path, "target_rule: first")
    before = (out / "summary.parquet").read_bytes()
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "this sweep's runs under other targets, target rule" in err, err
    assert (out / "summary.parquet").read_bytes() == before
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(out, copy)
    assert main(["sweep", str(path), "--out", str(copy), "--workers", "1", "--replace-sweep"]) == 0
    assert "0 run now, 8 already complete" in capsys.readouterr().out  # nothing is rerun
    summary = pd.read_parquet(copy / "summary.parquet")
    np.testing.assert_array_equal(summary[target_column(TARGET)].to_numpy(float), _times(copy, summary, TARGET, FIRST))
    manifest = json.loads((copy / SWEEP_MANIFEST).read_text())
    assert manifest["sweep"]["target_rule"] == {"type": "first", "window": None}
    # first adds nothing to the fingerprint: a folder written before target rules is this sweep under first
    sigma = "heterogeneity.compute.seconds_per_sample.sigma"
    points = [(r, {"algorithm.type": a, sigma: float(s)})
              for r, a, s in zip(summary.run_id, summary["algorithm.type"], summary[sigma])]
    assert manifest["fingerprint"] == sweep_fingerprint(points, [TARGET])


@pytest.mark.parametrize("rule, words", [
    ("target_rule: last", "target_rule.type: 'last' is not allowed; allowed: sustained, first"),
    ("target_rule: {type: first, window: 3}", "window is for type sustained"),
    ("target_rule: {type: sustained, window: 0}", "target_rule.window"),
    ("target_rule: {type: sustained, windows: 2}", "windows"),
])
def test_a_bad_target_rule_in_a_sweep_file_is_one_line(tmp_path, capsys, rule, words):
    path = _write(tmp_path, rule)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err
    assert not (tmp_path / "out").exists()


def test_short_and_long_forms_are_one_rule(tmp_path):
    from simfl.sweep.spec import load_sweep

    assert load_sweep(_write(tmp_path / "a", "target_rule: first"))[0].target_rule == FIRST
    assert load_sweep(_write(tmp_path / "b", "target_rule: {type: sustained, window: 4}"))[0].target_rule == \
        TargetRule(window=4)
    assert load_sweep(_write(tmp_path / "c"))[0].target_rule == SUSTAINED


# ----------------------------------------------------------------------------- report and plot
@pytest.fixture
def older(sweep, tmp_path):
    """A copy of the sweep as simfl wrote it before target rules: first-crossing times, no rule recorded."""
    import shutil

    out, _ = sweep
    copy = tmp_path / "older"
    shutil.copytree(out, copy)
    summary = pd.read_parquet(copy / "summary.parquet")
    summary[target_column(TARGET)] = _times(copy, summary, TARGET, FIRST)
    summary.to_parquet(copy / "summary.parquet", index=False)
    manifest = json.loads((copy / SWEEP_MANIFEST).read_text())
    del manifest["sweep"]["target_rule"]
    (copy / SWEEP_MANIFEST).write_text(json.dumps(manifest))
    return copy


def test_the_report_names_the_rule_and_recomputes_only_when_asked(sweep, older):
    out, _ = sweep
    own = report_text(out).splitlines()
    assert own[1] == target_rule_sentence(SUSTAINED)
    old = report_text(older).splitlines()
    assert old[1] == target_rule_sentence(FIRST) + " (the sweep records no rule: written before simfl had target rules)"
    again = report_text(older, rule=SUSTAINED).splitlines()
    assert again[1] == "target rule sustained: times recomputed from the runs' evaluations"
    assert again[2:] == own[1:]  # the same statistics as the sweep run with that rule
    both = report_text(older, targets=[TARGET], rule=SUSTAINED).splitlines()
    assert both[1] == f"targets {TARGET:g} and target rule sustained: times recomputed from the runs' evaluations"
    assert both[2:] == own[1:]


def test_report_flags(sweep, older, capsys):
    out, _ = sweep
    assert main(["report", str(older), "--target-rule", "sustained"]) == 0
    assert capsys.readouterr().out.splitlines()[2:] == report_text(out).splitlines()[1:]
    assert main(["report", str(out), "--target-window", "2"]) == 0  # a window implies sustained
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "target rule sustained over 2 evaluations: times recomputed from the runs' evaluations"
    assert lines[2] == target_rule_sentence(TargetRule(window=2))


@pytest.mark.parametrize("command", ["report", "plot"])
@pytest.mark.parametrize("flags, words", [
    (["--target-rule", "often"], "--target-rule: invalid choice: 'often'"),
    (["--target-rule", "first", "--target-window", "2"], "--target-window: only with --target-rule sustained"),
    (["--target-window", "0"], "--target-window: expected a positive integer"),
    (["--target-window", "two"], "--target-window: expected a positive integer"),
])
def test_bad_rule_flags_are_one_line(sweep, capsys, command, flags, words):
    out, _ = sweep
    try:
        code = main([command, str(out), *flags])
    except SystemExit as exit_:  # argparse's usage error, as the console script exits
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err


def test_figures_name_the_rule_in_their_captions(sweep):
    from simfl.plots import sweep_figures
    from simfl.results import swept_columns

    out, _ = sweep
    tables = load_sweep_tables(out, ["evals", "client_updates", "clients"])
    summary = summary_with_targets(out, [TARGET], tables["summary"], rule=FIRST)
    figs = sweep_figures(summary, tables["evals"], tables["client_updates"], tables["clients"],
                         swept_columns(summary), [TARGET], rule=FIRST)
    named = {n for n in figs if n.startswith(("headline_", "time_to_", "km_"))}
    assert {"headline_0.3", "time_to_0.3", "km_0.3"} <= named
    for name in named:
        captions = " ".join(leg.get_title().get_text() for leg in figs[name].legends).replace("\n", " ")
        assert "first evaluation at which test accuracy is ≥ t (first crossing)" in captions, name
    unnamed = sweep_figures(summary, tables["evals"], tables["client_updates"], tables["clients"],
                            swept_columns(summary), [TARGET])
    assert not any("crossing" in leg.get_title().get_text() for leg in unnamed["km_0.3"].legends)
    for fig in (*figs.values(), *unnamed.values()):
        plt.close(fig)


def test_a_run_directory_reads_sustained_times_unless_asked(sweep, capsys):
    out, _ = sweep
    summary = pd.read_parquet(out / "summary.parquet")
    t = _telling_target(out, summary)
    for run_id in summary.run_id:
        for flags, rule in (([], SUSTAINED), (["--target-rule", "first"], FIRST)):
            assert main(["report", str(out / "runs" / run_id), "--targets", f"{t}", *flags]) == 0
            lines = capsys.readouterr().out.splitlines()
            value = time_to_accuracy(_evals(out, run_id), t, rule)
            row = dict(ln.split(maxsplit=1) for ln in lines[1:-1])
            assert row[target_column(t)] == ("—" if math.isnan(value) else f"{value:.3g}")
            assert lines[-1].strip() == target_rule_sentence(rule)


# ----------------------------------------------------------------------------- relative targets
def test_world_best_is_the_best_complete_run_of_the_same_seed_and_world():
    from simfl.results.relative import world_best

    summary = pd.DataFrame({
        "run_id": list("abcdefg"),
        "algorithm.type": ["fedavg", "fedasync", "fedbuff", "fedavg", "fedasync", "fedavg", "fedasync"],
        "het.sigma": [0.5, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0],
        "seed": [0, 0, 0, 1, 1, 0, 0],
        "status": ["complete", "complete", "diverged", "complete", "complete", "failed", "diverged"],
        "best_accuracy": [0.6, 0.7, 0.9, 0.5, 0.4, 0.8, 0.8],
    })
    got = world_best(summary, "algorithm.type").tolist()
    # seed 0 at 0.5: 0.7 (the diverged 0.9 sets nothing); seed 1: 0.5; sigma 1.0: no complete run
    assert got[:5] == [0.7, 0.7, 0.7, 0.5, 0.5] and all(math.isnan(v) for v in got[5:])


def test_relative_targets_are_fractions_of_each_worlds_best(sweep, capsys):
    from simfl.results import survival_table, target_values, with_censoring_times
    from simfl.results.relative import RelativeTarget

    out, _ = sweep
    summary = pd.read_parquet(out / "summary.parquet")
    rel = RelativeTarget(0.9)
    got = summary_with_targets(out, [TARGET, rel, RelativeTarget(1.0)], rule=FIRST)
    assert target_column(rel) == "time_to_rel0.9_s" and "time_to_rel0.9_s" in got
    assert target_values(got) == [TARGET, 0.9, 1.0] and isinstance(target_values(got)[1], RelativeTarget)
    sigma = "heterogeneity.compute.seconds_per_sample.sigma"
    best = summary.groupby([sigma, "seed"]).best_accuracy.transform("max")  # every run here is complete
    assert (summary.status == "complete").all()
    want = [time_to_accuracy(_evals(out, r), 0.9 * b, FIRST) for r, b in zip(summary.run_id, best)]
    np.testing.assert_array_equal(got["time_to_rel0.9_s"].to_numpy(float), want)
    # the best run of each world reaches 100 % of the best (at its best evaluation, at the latest)
    reached = got.assign(ok=got["time_to_rel1_s"].notna()).groupby([sigma, "seed"]).ok.any()
    assert reached.all()
    # and the statistics take a relative target as they take an absolute one
    table = survival_table(with_censoring_times(got), target_values(got)[1])
    assert table.n_runs.sum() == len(summary) and table.n_reached.sum() == np.isfinite(want).sum()
    assert main(["report", str(out), "--relative-targets", "0.9"]) == 0
    text = capsys.readouterr().out
    assert "relative targets rel0.9 (fractions of the best accuracy" in text and "time_to_rel0.9_s: time to" in text
    assert main(["report", str(out / "runs" / summary.run_id[0]), "--relative-targets", "0.9"]) == 2
    assert "--relative-targets: for a sweep directory" in capsys.readouterr().err


def test_plot_takes_relative_targets_and_a_rule(sweep, tmp_path, capsys):
    out, _ = sweep
    args = ["plot", str(out), "--relative-targets", "0.9", "--target-rule", "first", "--dpi", "30",
            "--out", str(tmp_path / "p")]
    assert main(args) == 0
    written = {p.stem for p in (tmp_path / "p").glob("*.png")}
    assert {"headline_rel0.9", "time_to_rel0.9", "km_rel0.9", f"km_{TARGET:g}"} <= written, written
    assert not (out / "plots").exists()  # the sweep directory is left as it was
