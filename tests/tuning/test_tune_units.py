"""The pieces of tuning: the tune section's validation, settings, rungs and scores (exact)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfl.cli import main
from simfl.sweep.spec import SweepSpec
from simfl.sweep.tunespec import AccuracyAt, TimeToTarget, TuneSpec
from simfl.tuning import ranking_key, score_setting, score_trial, settings_for
from simfl.results.targetrule import SUSTAINED
from simfl.tuning.criteria import TrialScore

ROOT = Path(__file__).resolve().parents[2]


def _tune(**keys) -> TuneSpec:
    keys.setdefault("criterion", {"type": "time_to_target", "target": 0.5})
    keys.setdefault("space", {"fedavg": {"train.lr": [0.1, 0.2]}})
    return TuneSpec.model_validate(keys)


# ----------------------------------------------------------------------------- settings
def test_a_grid_is_every_combination_in_order():
    tune = _tune(space={"fedavg": {"train.lr": [0.1, 0.3], "algorithm.fedavg.clients_per_round": [5, 10, 20]}})
    got = [s.values for s in settings_for(tune, "fedavg")]
    assert got == [{"train.lr": lr, "algorithm.fedavg.clients_per_round": k} for lr in (0.1, 0.3) for k in (5, 10, 20)]
    assert [s.values for s in settings_for(tune, "fedbuff")] == [{}]  # not in the space: one setting, as given


@settings(max_examples=50, deadline=None)
@given(low=st.floats(1e-4, 1.0), ratio=st.floats(1.5, 1e4), trials=st.integers(1, 30), seed=st.integers(0, 99),
       log=st.booleans())
def test_random_settings_are_reproducible_and_within_their_ranges(low, ratio, trials, seed, log):
    high = low * ratio
    tune = _tune(search="random", trials=trials, sample_seed=seed,
                 space={"fedasync": {"train.lr": {"low": low, "high": high, "log": log},
                                     "algorithm.fedasync.concurrency": {"low": 1, "high": 9, "integer": True},
                                     "algorithm.fedasync.alpha": [0.2, 0.5]}})
    first, again = settings_for(tune, "fedasync"), settings_for(tune, "fedasync")
    assert [s.values for s in first] == [s.values for s in again]  # the same candidates in every cell and rerun
    assert 1 <= len(first) <= trials
    for s in first:
        assert low <= s.values["train.lr"] <= high
        assert isinstance(s.values["algorithm.fedasync.concurrency"], int) and 1 <= s.values["algorithm.fedasync.concurrency"] <= 9
        assert s.values["algorithm.fedasync.alpha"] in (0.2, 0.5)
    texts = [s.text for s in first]
    assert len(set(texts)) == len(texts)  # repeated draws are dropped


def test_log_uniform_draws_are_uniform_in_log_space():
    n = 4000
    tune = _tune(search="random", trials=n, space={"fedbuff": {"train.lr": {"low": 1e-3, "high": 1.0, "log": True}}})
    u = (np.log10([s.values["train.lr"] for s in settings_for(tune, "fedbuff")]) + 3) / 3  # U(0, 1) if log-uniform
    assert len(u) == n
    # mean 1/2 and variance 1/12 of U(0, 1), within 4 standard errors
    assert abs(u.mean() - 0.5) < 4 * math.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 4 * math.sqrt(1 / 180 / n)  # Var of (U - 1/2)^2 is 1/180


# ----------------------------------------------------------------------------- rungs
@pytest.mark.parametrize("min_s, eta, horizon, expected", [
    (75, 2, 300, [75, 150, 300]), (10, 3, 300, [10, 30, 90, 270, 300]), (100, 3, 300, [100, 300]),
])
def test_rungs_are_min_times_eta_powers_then_the_horizon(min_s, eta, horizon, expected):
    tune = _tune(halving={"min_s": min_s, "eta": eta})
    assert tune.rungs(horizon) == expected
    assert _tune().rungs(horizon) == [horizon]


# ----------------------------------------------------------------------------- scores
def _evals(times, accs):
    return pd.DataFrame({"sim_time_s": times, "validation_accuracy": accs})


def test_trial_scores_by_hand():
    evals = _evals([0, 10, 20, 30, 40], [0.1, 0.4, 0.65, 0.55, 0.8])
    ttt = TimeToTarget(target=0.6, rule="first")  # the first crossing, on purpose (sustained: below)
    assert score_trial(evals, {"status": "complete"}, ttt, 40) == TrialScore(20.0, 0.8)
    assert score_trial(evals, {"status": "paused"}, ttt, 15) == TrialScore(15.0, 0.4)  # not yet: capped at the rung
    at_budget = score_trial(evals, {"status": "complete"}, AccuracyAt(budget_s=25), 40)
    assert math.isnan(at_budget.time_s) and at_budget.accuracy == 0.65 and not at_budget.failed
    assert score_trial(evals, {"status": "complete"}, AccuracyAt(budget_s=25), 12).accuracy == 0.4  # the rung first
    # diverged by the rung: never reaches the target, accuracy 0; diverged later: scored as it was
    diverged = {"status": "diverged", "diverged_at_s": 30.0}
    assert score_trial(evals, diverged, ttt, 40) == TrialScore(40.0, 0.0)
    assert score_trial(evals, diverged, ttt, 25) == TrialScore(20.0, 0.65)
    assert score_trial(None, {"status": "failed"}, ttt, 40).failed


def test_sustained_trial_scores_by_hand():
    evals = _evals([0, 10, 20, 30, 40, 50], [0.1, 0.4, 0.65, 0.55, 0.8, 0.7])
    ttt = TimeToTarget(target=0.6)  # sustained by default: 0.65 at 20 falls back at 30; from 40 on it stays
    assert ttt.target_rule == SUSTAINED
    assert score_trial(evals, {"status": "complete"}, ttt, 50) == TrialScore(40.0, 0.7)
    # at a rung only the evaluations up to it count: at 25 the crossing at 20 has not fallen back yet
    assert score_trial(evals, {"status": "paused"}, ttt, 25) == TrialScore(20.0, 0.65)
    assert score_trial(evals, {"status": "paused"}, ttt, 35) == TrialScore(35.0, 0.55)  # not there: capped
    two = TimeToTarget(target=0.6, window=2)
    assert score_trial(evals, {"status": "complete"}, two, 50) == TrialScore(40.0, 0.7)
    assert score_trial(evals, {"status": "paused"}, two, 45) == TrialScore(45.0, 0.8)  # 40 alone: not two yet
    three = TimeToTarget(target=0.6, window=3)
    assert score_trial(evals, {"status": "complete"}, three, 50) == TrialScore(50.0, 0.7)  # never three in a row


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1), st.just(math.nan)), min_size=1, max_size=12),
       st.sampled_from([None, 1, 2, 3]), st.sampled_from(["sustained", "first"]), st.integers(0, 12))
def test_a_paused_trial_scores_as_one_that_ran_on(accs, window, rule, cut):
    """At rung r, a trial stopped at r and one that ran past r have the same score (only evaluations up to r count)."""
    window = None if rule == "first" else window
    ttt = TimeToTarget(target=0.5, rule=rule, window=window)
    whole = _evals([5.0 * i for i in range(len(accs))], accs)
    rung = 5.0 * min(cut, len(accs) - 1)
    paused = whole[whole.sim_time_s <= rung]
    assert score_trial(paused, {"status": "paused"}, ttt, rung) == score_trial(whole, {"status": "complete"}, ttt, rung)


def test_setting_scores_are_means_over_seeds_and_rank_best_first():
    ttt = TimeToTarget(target=0.6)
    a = score_setting([TrialScore(20.0, 0.8), TrialScore(40.0, 0.5)], ttt)  # RMST 30
    b = score_setting([TrialScore(30.0, 0.7), TrialScore(30.0, 0.7)], ttt)  # RMST 30, more accurate
    c = score_setting([TrialScore(10.0, 0.9), TrialScore(math.nan, math.nan, failed=True)], ttt)
    assert (a.criterion, a.accuracy) == (30.0, 0.65) and (b.criterion, b.accuracy) == (30.0, 0.7) and c.failed
    ranked = sorted([("a", a, 0), ("b", b, 1), ("c", c, 2)], key=lambda t: ranking_key(t[1], t[2], ttt))
    assert [name for name, *_ in ranked] == ["b", "a", "c"]  # tie on RMST to the higher accuracy; failed last
    acc = AccuracyAt(budget_s=10)
    hi = score_setting([TrialScore(math.nan, 0.9)], acc)
    lo = score_setting([TrialScore(math.nan, 0.4)], acc)
    assert ranking_key(hi, 1, acc) < ranking_key(lo, 0, acc)


# ----------------------------------------------------------------------------- validation
BAD = {
    "unknown contestant": ("space: {fedprox: {train.lr: [0.1]}}", "tune.space: fedprox is not a value of algorithm.type"),
    "tuned and swept": ("space: {fedavg: {heterogeneity.compute.seconds_per_sample.sigma: [1]}}", "is swept"),
    "protocol key": ("space: {fedavg: {eval.split: [test]}}", "set by the tuning protocol"),
    "range in a grid": ("space: {fedavg: {train.lr: {low: 0.1, high: 1}}}", "search grid takes lists"),
    "random without trials": ("search: random\n  space: {fedavg: {train.lr: [0.1, 1]}}", "needs trials"),
    "overlapping seeds": ("seeds: [1, 7]\n  space: {fedavg: {train.lr: [0.1, 1]}}", "also evaluation seeds"),
    "by not swept": ("by: train.lr\n  space: {fedavg: {train.lr: [0.1, 1]}}", "tune.by: train.lr is not a swept key"),
    "bad log range": ("search: random\n  trials: 3\n  space: {fedavg: {train.lr: {low: 0, high: 1, log: true}}}",
                      "log range needs low > 0"),
    "window with first": ("criterion: {type: time_to_target, target: 0.6, rule: first, window: 2}\n  "
                          "space: {fedavg: {train.lr: [0.1, 1]}}", "window is for rule sustained"),
    "unknown rule": ("criterion: {type: time_to_target, target: 0.6, rule: often}\n  space: {fedavg: {train.lr: [0.1]}}",
                     "tune.criterion.rule: 'often' is not allowed; allowed: sustained, first"),
    "window 0": ("criterion: {type: time_to_target, target: 0.6, window: 0}\n  space: {fedavg: {train.lr: [0.1]}}",
                 "window"),
    "budget past horizon": ("horizon_s: 10\n  criterion: {type: accuracy_at, budget_s: 20}\n  space: {fedavg: {train.lr: [0.1, 1]}}",
                            "beyond horizon_s"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_tune_section_is_one_line_naming_the_key(name, tmp_path, capsys):
    tune, message = BAD[name]
    criterion = "" if "criterion" in tune else "criterion: {type: time_to_target, target: 0.6}\n  "
    (tmp_path / "s.yaml").write_text(
        f"base: {ROOT / 'configs/flagship.yaml'}\n"
        "set: {data.validation_fraction: 0.1}\n"
        "grid: {algorithm.type: [fedavg, fedasync], heterogeneity.compute.seconds_per_sample.sigma: [0.5, 1]}\n"
        "seeds: 2\n"
        "tune:\n  " + criterion + tune + "\n")
    assert main(["sweep", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists()  # nothing written


@pytest.mark.parametrize("extra, message", [
    ("", "needs validation rows: set data.validation_fraction > 0"),
    ("set: {data.validation_fraction: 0.1, stop.sim_time_s: null, stop.client_updates: 100}",
     "tune.horizon_s: the base config has no stop.sim_time_s"),
    ("set: {data.validation_fraction: 0.1}\n--dry", "needs training"),
])
def test_a_sweep_that_cannot_be_tuned_is_refused_before_anything_runs(extra, message, tmp_path, capsys):
    dry = extra.endswith("--dry")
    (tmp_path / "s.yaml").write_text(textwrap.dedent(f"""\
        base: {ROOT / 'configs/flagship.yaml'}
        grid: {{algorithm.type: [fedavg, fedasync]}}
        {extra.removesuffix(chr(10) + '--dry')}
        tune:
          criterion: {{type: time_to_target, target: 0.6}}
          space: {{fedavg: {{train.lr: [0.1, 1]}}}}
        """))
    args = ["sweep", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out")] + (["--dry-run"] if dry else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


@settings(max_examples=60, deadline=None)
@given(seeds=st.one_of(st.integers(1, 8), st.lists(st.integers(0, 50), min_size=1, max_size=6, unique=True)),
       count=st.integers(1, 5))
def test_tuning_seeds_never_overlap_evaluation_seeds(seeds, count):
    spec = SweepSpec.model_validate({"grid": {"algorithm.type": ["fedavg", "fedbuff"]}, "seeds": seeds,
                                     "tune": {"seeds": count, "criterion": {"type": "accuracy_at", "budget_s": 5},
                                              "space": {"fedavg": {"train.lr": [0.1, 0.2]}}}})
    tuning = spec.tune.tuning_seeds(spec.seed_list)
    assert len(tuning) == count and not set(tuning) & set(spec.seed_list)
    with pytest.raises(ValueError, match="also evaluation seeds"):
        SweepSpec.model_validate({**spec.model_dump(exclude={"tune", "name"}),
                                  "tune": {**spec.tune.model_dump(), "seeds": [spec.seed_list[0]]}})
