"""Censoring-aware time to target over a sweep summary: who counts, KM summaries, paired bounds, report."""

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import LogNormalFitter
from scipy import stats

from simfl.cli import main
from simfl.results import paired_time_ratios, summarize_time_ratios, survival_table, target_events
from simfl.results.time_to_target import km_curves, with_censoring_times

NAN = np.nan
SIGMA = "het.sigma"
# (algorithm, seed) -> (status, time to 0.7, sim_end_s)
RUNS = {
    # FedAvg never reached 0.7 in 3 of 5 seeds: it must count against it, not vanish
    ("fedavg", 0): ("complete", 100.0, 300.0),
    ("fedavg", 1): ("complete", NAN, 300.0),
    ("fedavg", 2): ("complete", 200.0, 300.0),
    ("fedavg", 3): ("complete", NAN, 300.0),
    ("fedavg", 4): ("complete", NAN, 300.0),
    **{("fedasync", s): ("complete", 50.0 + 10 * s, 300.0) for s in range(5)},
    ("fedasync", 5): ("failed", NAN, NAN),  # no evidence either way
    ("fedbuff", 0): ("diverged", 40.0, 120.0),  # reached 0.7, then diverged: never a success
    ("fedbuff", 1): ("complete", 30.0, 300.0),
}


def _summary(sigma: float = 1.0) -> pd.DataFrame:
    rows = [{"run_id": f"{a}-{s}-{sigma}", "algorithm.type": a, SIGMA: sigma, "seed": s, "status": st,
             "time_to_0.7_s": t, "sim_end_s": end, "final_accuracy": 0.5, "wasted_compute_s": 0.0}
            for (a, s), (st, t, end) in RUNS.items()]
    return pd.DataFrame(rows)


def test_which_runs_count_and_how():
    ev = target_events(_summary(), 0.7).set_index(["algorithm.type", "seed"])
    assert ("fedasync", 5) not in ev.index  # failed: excluded
    assert ev.loc[("fedavg", 1), "time_s"] == 300.0 and not ev.loc[("fedavg", 1), "reached"]  # censored at its end
    assert ev.loc[("fedavg", 0), "time_s"] == 100.0 and ev.loc[("fedavg", 0), "reached"]
    diverged = ev.loc[("fedbuff", 0)]
    assert not diverged["reached"] and diverged["time_s"] == math.inf and diverged["end_s"] == 120.0


def test_survival_table_counts_never_reached_against_the_method():
    table = survival_table(_summary(), 0.7).set_index("algorithm.type")
    avg = table.loc["fedavg"]
    assert (avg.n_runs, avg.n_reached, avg.n_excluded) == (5, 2, 0)
    assert avg.horizon_s == 300.0  # fedavg's curve ends at its censorings at 300; the others reach 0 or never end
    assert math.isnan(avg.km_median_s)  # Ŝ = 3/5 > 1/2 at the end
    # no censoring before τ: RMST = mean of min(T, τ) = (100 + 200 + 3·300)/5
    assert avg.rmst_s == pytest.approx(240.0)
    assert avg.reached_by_horizon == pytest.approx(0.4)
    assert 0 <= avg.rmst_ci_low_s < 240 < avg.rmst_ci_high_s <= 300
    asy = table.loc["fedasync"]
    assert (asy.n_runs, asy.n_reached, asy.n_excluded) == (5, 5, 1)
    assert asy.km_median_s == 70.0 and asy.rmst_s == pytest.approx(70.0)
    # with no censoring, the (scaled) Greenwood-type standard error is the sample sd over √n
    assert asy.rmst_se_s == pytest.approx(np.std([50, 60, 70, 80, 90], ddof=1) / math.sqrt(5))
    buff = table.loc["fedbuff"]
    assert (buff.n_runs, buff.n_reached, buff.n_diverged) == (2, 1, 1)
    assert buff.rmst_s == pytest.approx((30 + 300) / 2)  # the diverged run counts as never: τ


def test_an_explicit_horizon():
    avg = survival_table(_summary(), 0.7, horizon=150.0).set_index("algorithm.type").loc["fedavg"]
    assert avg.horizon_s == 150.0 and avg.rmst_s == pytest.approx((100 + 4 * 150) / 5)


def test_worlds_are_kept_apart():
    df = pd.concat([_summary(0.5), _summary(1.5)])
    df.loc[(df[SIGMA] == 1.5) & (df["algorithm.type"] == "fedavg"), "time_to_0.7_s"] = NAN
    table = survival_table(df, 0.7)
    got = table.set_index([SIGMA, "algorithm.type"])["n_reached"]
    assert got[(0.5, "fedavg")] == 2 and got[(1.5, "fedavg")] == 0 and got[(1.5, "fedasync")] == 5


def test_km_curves_start_at_one_and_match_the_estimator():
    curves = km_curves(_summary(), 0.7)
    avg = curves[curves["algorithm.type"] == "fedavg"]
    assert avg.time_s.tolist() == [0.0, 100.0, 200.0, 300.0]
    np.testing.assert_allclose(avg.survival, [1.0, 0.8, 0.6, 0.6])
    np.testing.assert_allclose(avg.fraction_reached, [0.0, 0.2, 0.4, 0.4])
    assert (avg.reached_low <= avg.fraction_reached + 1e-12).all()
    assert (avg.reached_high >= avg.fraction_reached - 1e-12).all()
    assert ((avg.reached_low >= 0) & (avg.reached_high <= 1)).all()


def test_paired_ratios_keep_censored_seeds_as_bounds():
    per_seed = paired_time_ratios(_summary(), 0.7)
    asy = per_seed[per_seed["algorithm.type"] == "fedasync"].set_index("seed")
    assert asy.index.tolist() == [0, 1, 2, 3, 4]  # seed 5 failed: no pair
    np.testing.assert_allclose(asy.ratio, [100 / 50, 300 / 60, 200 / 70, 300 / 80, 300 / 90])
    assert asy.bound.tolist() == ["exact", "lower", "exact", "lower", "lower"]
    buff = per_seed[per_seed["algorithm.type"] == "fedbuff"].set_index("seed")
    # seed 0: fedbuff diverged at 120 s, never reaching it: the true ratio is below 100/120; seed 1: above 300/30
    np.testing.assert_allclose(buff.ratio, [100 / 120, 300 / 30])
    assert buff.bound.tolist() == ["upper", "lower"]
    assert buff.other_time_s.tolist() == [120.0, 30.0]  # observed: its end, its time to target

    table = summarize_time_ratios(per_seed, level=0.9).set_index("algorithm.type")
    row = table.loc["fedasync"]
    # the maximum-likelihood fit of a log-normal to 2 exact ratios and 3 lower bounds, as lifelines fits it
    exact = asy.bound == "exact"
    fitter = LogNormalFitter().fit_interval_censoring(asy.ratio.to_numpy(), np.where(exact, asy.ratio, np.inf))
    assert row.estimate == pytest.approx(math.exp(fitter.mu_), rel=1e-4)
    assert row.ci_low < row.estimate < row.ci_high
    # the bounds pull it above the geometric mean of the two exact ratios (both seeds where FedAvg got there)
    assert row.estimate > math.exp(np.log(asy.ratio[exact]).mean())
    assert (row.n_pairs, row.n_informative, row.n_exact, row.n_lower, row.n_upper, row.n_none) == (5, 5, 2, 3, 0, 0)
    assert row.statistic == "fedavg/fedasync"
    # fedbuff: no seed where both reached it: bounds alone identify nothing
    assert math.isnan(table.loc["fedbuff"].estimate) and table.loc["fedbuff"].n_informative == 2


def test_without_censoring_the_ratio_is_the_paired_t_interval():
    df = _summary()
    df = df[df["algorithm.type"] != "fedbuff"]
    df.loc[df["algorithm.type"] == "fedavg", "time_to_0.7_s"] = [100.0, 150.0, 200.0, 90.0, 120.0]
    per_seed = paired_time_ratios(df, 0.7)
    row = summarize_time_ratios(per_seed, level=0.9).iloc[0]
    logs = np.log(per_seed.ratio.to_numpy())
    half = stats.t.ppf(0.95, 4) * logs.std(ddof=1) / math.sqrt(5)
    assert row.estimate == pytest.approx(math.exp(logs.mean()))
    assert (row.ci_low, row.ci_high) == pytest.approx((math.exp(logs.mean() - half), math.exp(logs.mean() + half)))


def test_seeds_where_neither_reached_the_target_enter_no_estimate():
    df = _summary()
    df = df[df["algorithm.type"] != "fedbuff"]
    df.loc[df["algorithm.type"] == "fedasync", "time_to_0.7_s"] = [NAN, NAN, 60.0, NAN, 70.0, NAN]
    per_seed = paired_time_ratios(df, 0.7).set_index("seed")
    assert per_seed.bound.tolist() == ["upper", "none", "exact", "none", "lower"]
    assert per_seed.ratio.isna().tolist() == [False, True, False, True, False]  # never a ratio of 1
    row = summarize_time_ratios(per_seed.reset_index()).iloc[0]
    assert (row.n_pairs, row.n_informative, row.n_none) == (5, 3, 2)
    assert math.isnan(row.estimate)  # one exact pair: no estimate, whatever the two neither-pairs are
    # nobody reaches it: "0 of 5 informative", no estimate (it used to print 1 [1, 1])
    df["time_to_0.7_s"] = NAN
    row = summarize_time_ratios(paired_time_ratios(df, 0.7)).iloc[0]
    assert (row.n_pairs, row.n_informative) == (5, 0) and math.isnan(row.estimate) and math.isnan(row.ci_low)


def test_censoring_times_fall_back_to_the_last_evaluation():
    s = _summary().drop(columns="sim_end_s")
    with pytest.raises(ValueError, match="no column 'sim_end_s'"):
        target_events(s, 0.7)
    evals = pd.DataFrame({"run_id": ["fedavg-1-1.0", "fedavg-1-1.0"], "sim_time_s": [0.0, 298.0]})
    filled = with_censoring_times(s, evals)
    assert filled.set_index("run_id").loc["fedavg-1-1.0", "sim_end_s"] == 298.0
    with pytest.raises(ValueError, match="run fedavg-3-1.0: did not reach 0.7 and has no sim_end_s"):
        target_events(filled, 0.7)


def test_report_shows_reached_counts_km_and_rmst(tmp_path, capsys):
    _summary().to_parquet(tmp_path / "summary.parquet")
    assert main(["report", str(tmp_path), "--level", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "Method: Kaplan–Meier" in out and "Brookmeyer–Crowley" in out and "restricted mean" in out
    lines = {}
    for ln in out.splitlines():  # the first table: per method
        if ln.strip().startswith(("fedavg ", "fedasync ", "fedbuff ")):
            lines.setdefault(ln.split()[0], ln)
    assert "2/5" in lines["fedavg"] and ">300" in lines["fedavg"] and " 240 " in lines["fedavg"]
    assert "5/5" in lines["fedasync"] and "1/2" in lines["fedbuff"]
    assert "fedavg/fedasync" in out and "log-normal accelerated-failure-time fit" in out
    assert "5 of 5" in out and "no estimate (fewer than 2 seeds where both reached it)" in out
    assert "warning: fewer than 3 informative seeds" in out  # fedbuff: 2 pairs
    assert "fedasync-5-1.0: failed" in out


def test_report_rejects_a_bad_horizon_and_reference(tmp_path, capsys):
    _summary().to_parquet(tmp_path / "summary.parquet")
    assert main(["report", str(tmp_path), "--horizon", "-3"]) == 2
    assert "--horizon" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "--reference", "fedprox"]) == 2
    assert "not a value of algorithm.type" in capsys.readouterr().err
