"""Coverage of the intervals simfl prints and draws, measured by simulation at 3, 5 and 10 seeds.

Each case draws REPS synthetic sweeps the way simfl's quantities behave and runs them through the
same functions ``simfl report`` and ``simfl plot`` use; the share of intervals that hold the true
value must be within 2.5 points of the nominal 95 % at n >= 5 (the Monte Carlo standard error of a
share near 0.95 over 2,000 samples is 0.5 points). At n = 3 the measured coverage is recorded in
docs/statistics.md; the test only guards it from falling further. ``python -m
tests.results.test_coverage`` prints the table of docs/statistics.md.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

from simfl.results.intervals import t_intervals
from simfl.results.survival import COVERAGE_AT_3
from simfl.results.time_to_target import km_curves, paired_time_ratios, summarize_time_ratios, survival_table

REPS = 2000
LEVEL = 0.95
TOLERANCE = 0.025
#: At n = 3 the coverage must stay above this, unless it is one documented to fall short
#: (:data:`~simfl.results.survival.COVERAGE_AT_3`, said in the report and the captions).
FLOOR_N3 = 0.925
CONSERVATIVE = {"Kaplan–Meier pointwise band, S(t) = 0.75"}
SHORT_AT_3 = {"RMST within τ (Kaplan–Meier)": "rmst", "median time (Kaplan–Meier, Brookmeyer–Crowley)": "median"}

# Times to target: log T = world + method effect + noise, world ~ N(log 50, 0.5²), noise sd 0.3;
# the reference is 1.5 times slower (the true time ratio); runs end at TAU.
BETA, WORLD_SD, NOISE_SD, TAU = math.log(1.5), 0.5, 0.3, 90.0


def _times(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    world = rng.normal(math.log(50), WORLD_SD, (REPS, n))
    ref = np.exp(world + BETA + rng.normal(0, NOISE_SD, (REPS, n)))
    other = np.exp(world + rng.normal(0, NOISE_SD, (REPS, n)))
    return ref, other


def _summary(ref: np.ndarray, other: np.ndarray, tau: float) -> pd.DataFrame:
    """A sweep summary of REPS worlds ('rep'), n seeds each, two methods, every run ending at tau."""
    reps, n = ref.shape
    frames = []
    for method, times in (("fedavg", ref), ("fedasync", other)):
        frames.append(pd.DataFrame({
            "rep": np.repeat(np.arange(reps), n), "seed": np.tile(np.arange(n), reps), "algorithm.type": method,
            "status": "complete", "time_to_0.7_s": np.where(times <= tau, times, np.nan).ravel(), "sim_end_s": tau,
        }))
    return pd.concat(frames, ignore_index=True)


def ratio_coverage(n: int, tau: float, seed: int = 0) -> tuple[float, float]:
    """(coverage of the paired time ratio, share of samples with an estimate)."""
    ref, other = _times(n, np.random.default_rng([seed, n]))
    per_seed = paired_time_ratios(_summary(ref, other, tau), 0.7, pair_on=["rep"])
    table = summarize_time_ratios(per_seed, level=LEVEL)
    ok = table["estimate"].notna()
    held = (table.loc[ok, "ci_low"] <= 1.5) & (1.5 <= table.loc[ok, "ci_high"])
    return float(held.mean()), float(ok.mean())


def rmst_coverage(n: int, tau: float, seed: int = 0) -> float:
    """Coverage of the restricted mean time to target within tau (Kaplan–Meier)."""
    ref, _ = _times(n, np.random.default_rng([seed, n, 1]))
    summary = _summary(ref, ref, tau)
    table = survival_table(summary[summary["algorithm.type"] == "fedavg"], 0.7, horizon=tau, group_on=["rep"],
                           level=LEVEL)
    scale, sd = math.exp(math.log(50) + BETA), math.hypot(WORLD_SD, NOISE_SD)
    truth = integrate.quad(lambda t: stats.lognorm.sf(t, sd, scale=scale), 0, tau)[0]
    ok = table["rmst_ci_low_s"].notna()
    return float(((table.loc[ok, "rmst_ci_low_s"] <= truth) & (truth <= table.loc[ok, "rmst_ci_high_s"])).mean())


def median_coverage(n: int, tau: float, seed: int = 0) -> float:
    """Coverage of the Kaplan–Meier median time to target (Brookmeyer–Crowley interval)."""
    ref, _ = _times(n, np.random.default_rng([seed, n, 4]))
    summary = _summary(ref, ref, tau)
    table = survival_table(summary[summary["algorithm.type"] == "fedavg"], 0.7, horizon=tau, group_on=["rep"],
                           level=LEVEL)
    truth = math.exp(math.log(50) + BETA)  # the median of the log-normal time
    return float(((table["median_ci_low_s"] <= truth) & (truth <= table["median_ci_high_s"])).mean())


def band_coverage(n: int, tau: float, seed: int = 0) -> float:
    """Coverage of the Kaplan–Meier pointwise band at the time where a quarter of the runs got there."""
    sd, scale = math.hypot(WORLD_SD, NOISE_SD), math.exp(math.log(50) + BETA)
    t0 = stats.lognorm.ppf(0.25, sd, scale=scale)  # S(t0) = 0.75, well inside the horizon
    ref, _ = _times(n, np.random.default_rng([seed, n, 5]))
    summary = _summary(ref, ref, tau)
    curves = km_curves(summary[summary["algorithm.type"] == "fedavg"], 0.7, group_on=["rep"], level=LEVEL)
    at = curves[curves["time_s"] <= t0].groupby("rep").tail(1)  # the step in force at t0
    return float(((at["ci_low"] <= 0.75) & (0.75 <= at["ci_high"])).mean())


def accuracy_coverage(n: int, a: float, b: float, seed: int = 0) -> float:
    """Coverage of the mean accuracy on the logit scale, accuracies ~ Beta(a, b) (near a bound)."""
    values = np.random.default_rng([seed, n, 2]).beta(a, b, (REPS, n))
    truth = special.expit(special.digamma(a) - special.digamma(b))  # expit(E[logit X]) for a Beta
    _, low, high, _ = t_intervals(values.T, LEVEL, "logit")
    return float(((low <= truth) & (truth <= high)).mean())


def difference_coverage(n: int, seed: int = 0) -> float:
    """Coverage of the paired difference of final accuracies (Student-t over seeds)."""
    rng = np.random.default_rng([seed, n, 3])
    world = rng.normal(0, 0.6, (REPS, n))
    ref = special.expit(2.0 + world + rng.normal(0, 0.3, (REPS, n)))
    other = special.expit(2.3 + world + rng.normal(0, 0.3, (REPS, n)))
    diff = other - ref
    truth = _expected_difference()
    _, low, high, _ = t_intervals(diff.T, LEVEL)
    return float(((low <= truth) & (truth <= high)).mean())


def _expected_difference() -> float:
    """E[expit(2.3 + w + e2) − expit(2.0 + w + e1)], by a large Monte Carlo sample (error ~1e-4)."""
    w, e1, e2 = np.random.default_rng(99).normal(0, 1, (3, 400_000)) * np.array([[0.6], [0.3], [0.3]])
    return float(np.mean(special.expit(2.3 + w + e2) - special.expit(2.0 + w + e1)))


CASES = {
    "time ratio, no censoring": lambda n: ratio_coverage(n, 1e9)[0],
    "time ratio, censored at τ": lambda n: ratio_coverage(n, TAU)[0],
    "RMST within τ (Kaplan–Meier)": lambda n: rmst_coverage(n, TAU),
    "median time (Kaplan–Meier, Brookmeyer–Crowley)": lambda n: median_coverage(n, TAU),
    "Kaplan–Meier pointwise band, S(t) = 0.75": lambda n: band_coverage(n, TAU),
    "accuracy near 1 (logit)": lambda n: accuracy_coverage(n, 40.0, 2.0),
    "accuracy near 0 (logit)": lambda n: accuracy_coverage(n, 2.0, 30.0),
    "paired accuracy difference": lambda n: difference_coverage(n),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("n", [3, 5, 10])
def test_intervals_have_their_nominal_coverage(case, n):
    coverage = CASES[case](n)
    if case in CONSERVATIVE:  # a step function of few runs cannot cover 95 % exactly: never below
        assert coverage >= LEVEL - TOLERANCE, f"{case}, n={n}: {coverage:.3f}"
    elif n >= 5:
        assert abs(coverage - LEVEL) <= TOLERANCE, f"{case}, n={n}: {coverage:.3f}"
    elif case in SHORT_AT_3:  # what the report and the captions say it is
        assert coverage == pytest.approx(COVERAGE_AT_3[SHORT_AT_3[case]], abs=0.015), f"{case}, n=3: {coverage:.3f}"
    else:
        assert coverage >= FLOOR_N3, f"{case}, n=3: {coverage:.3f}"


@pytest.mark.slow
def test_censoring_is_present_and_the_ratio_is_mostly_estimable():
    ref, other = _times(10, np.random.default_rng(5))
    censored = ((ref > TAU) | (other > TAU)).mean()
    assert 0.15 < censored < 0.6  # the censored case is censored, but not hopelessly
    assert ratio_coverage(10, TAU)[1] > 0.9


if __name__ == "__main__":
    print("| quantity | n = 3 | n = 5 | n = 10 |\n|---|---|---|---|")
    for name, case in CASES.items():
        print(f"| {name} | " + " | ".join(f"{case(n):.1%}" for n in (3, 5, 10)) + " |")
    print("estimable (censored ratio): " + ", ".join(f"n={n}: {ratio_coverage(n, TAU)[1]:.0%}" for n in (3, 5, 10)))
