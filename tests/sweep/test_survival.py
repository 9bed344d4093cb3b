"""Kaplan–Meier, its median and restricted mean against hand computation, closed forms and scipy."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from simfl.results import kaplan_meier

# The classic small example: events at 3, 5, 8, 12; censored at 5 and 10.
TIMES = [3, 5, 5, 8, 10, 12]
REACHED = [True, True, False, True, False, True]


def test_hand_computed_curve_greenwood_and_log_log_interval():
    km = kaplan_meier(TIMES, REACHED, level=0.95)
    t = km.table
    assert t.time_s.tolist() == [3, 5, 8, 10, 12]
    assert t.at_risk.tolist() == [6, 5, 3, 2, 1]  # the run censored at 5 is at risk at 5
    assert t.reached.tolist() == [1, 1, 1, 0, 1] and t.censored.tolist() == [0, 1, 0, 1, 0]
    # Ŝ = ∏ (1 − d/n): 5/6, 5/6·4/5, ·2/3, unchanged at a censoring, then 0
    np.testing.assert_allclose(t.survival, [5 / 6, 2 / 3, 4 / 9, 4 / 9, 0.0])
    z = stats.norm.ppf(0.975)
    greenwood = np.cumsum([1 / 30, 1 / 20, 1 / 6])
    for j, (s, g) in enumerate(zip([5 / 6, 2 / 3, 4 / 9], greenwood)):
        sig = math.sqrt(g) / abs(math.log(s))
        assert t.ci_low[j] == pytest.approx(s ** math.exp(z * sig))
        assert t.ci_high[j] == pytest.approx(s ** math.exp(-z * sig))
    assert np.isnan(t.ci_low[4]) and np.isnan(t.ci_high[4])  # undefined where Ŝ = 0
    assert km.n == 6 and km.n_reached == 4 and km.extent_s == math.inf  # it reaches 0: defined everywhere
    assert km.survival_at(2.9) == 1.0 and km.survival_at(9.0) == pytest.approx(4 / 9)


def test_hand_computed_restricted_mean_and_its_variance():
    km = kaplan_meier(TIMES, REACHED)
    mean, var = km.restricted_mean(11.0)
    # ∫_0^11 Ŝ = 3·1 + 2·5/6 + 3·2/3 + 3·4/9
    assert mean == pytest.approx(8.0)
    # A_j = ∫_{u_j}^11 Ŝ: 5, 10/3, 4/3 at u = 3, 5, 8; terms A² d/(n(n−d))
    assert var == pytest.approx(25 / 30 + (100 / 9) / 20 + (16 / 9) / 6)
    assert var == pytest.approx(91 / 54)
    _, se, lo, hi = km.restricted_mean_interval(11.0)
    # Student-t with n - 1 = 5 degrees of freedom, the variance scaled by n / (n - 1) = 6/5
    z = stats.t.ppf(0.975, 5)
    assert se == pytest.approx(math.sqrt(91 / 54 * 6 / 5))
    p, sp = 8 / 11, math.sqrt(91 / 54 * 6 / 5) / 11
    logit = math.log(p / (1 - p))
    expit = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert (lo, hi) == pytest.approx((11 * expit(logit - z * sp / (p * (1 - p))),
                                      11 * expit(logit + z * sp / (p * (1 - p)))))
    assert 0 < lo < 8 < hi < 11


def test_median_and_brookmeyer_crowley_interval():
    km = kaplan_meier(TIMES, REACHED)
    median, lo, hi = km.median()
    assert median == 8  # first time with Ŝ ≤ 1/2: Ŝ(8) = 4/9
    t = km.table
    # lower end: first time the lower pointwise bound is ≤ 1/2; upper end: the upper bound (NaN at Ŝ = 0 counts)
    assert lo == t.time_s[t.ci_low <= 0.5].iloc[0]
    assert hi == (t.time_s[t.ci_high.fillna(0) <= 0.5].iloc[0])
    assert lo <= median <= hi


def test_not_reached_median_extent_and_never_reaching_runs():
    km = kaplan_meier([4, 10, 10, 10], [True, False, False, False])
    median, lo, hi = km.median()
    assert math.isnan(median) and hi == math.inf  # Ŝ stays at 3/4
    assert km.extent_s == 10  # last observation censored: no estimate beyond it
    assert math.isnan(km.restricted_mean(12.0)[0]) and math.isnan(km.survival_at(12.0))
    assert km.restricted_mean(10.0)[0] == pytest.approx(4 + 6 * 0.75)
    # a run known never to reach it (inf) keeps the estimate defined everywhere and stays at risk
    never = kaplan_meier([4, 6, math.inf], [True, True, False])
    assert never.extent_s == math.inf and never.table.at_risk.tolist() == [3, 2]
    np.testing.assert_allclose(never.table.survival, [2 / 3, 1 / 3])
    assert never.restricted_mean(100.0)[0] == pytest.approx(4 + 2 * 2 / 3 + 94 / 3)


def test_all_censored_gives_the_horizon_with_no_spread():
    km = kaplan_meier([300, 300, 300], [False] * 3)
    assert km.restricted_mean_interval(300.0) == (300.0, 0.0, 300.0, 300.0)
    # no event among 3 at risk: S(300) >= 0.025^(1/3), the exact binomial bound (the log-log band is [1, 1] there)
    assert km.table.ci_low.tolist() == [pytest.approx(0.025 ** (1 / 3))] and km.table.ci_high.tolist() == [1.0]


@pytest.mark.parametrize("time,reached,match", [
    ([1, 2], [True], "differ in length"),
    ([1, np.nan], [True, True], "numbers ≥ 0"),
    ([-1, 2], [True, True], "numbers ≥ 0"),
    ([np.inf], [True], "event time must be finite"),
])
def test_bad_input(time, reached, match):
    with pytest.raises(ValueError, match=match):
        kaplan_meier(time, reached)


times = st.lists(st.integers(1, 30), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(times, st.integers(1, 40))
def test_without_censoring_km_is_the_empirical_survival_and_rmst_the_mean_of_min(values, tau):
    t = np.asarray(values, float)
    km = kaplan_meier(t, np.ones(t.size, bool))
    for u, s in zip(km.table.time_s, km.table.survival):
        assert s == pytest.approx(np.mean(t > u))
    mean, var = km.restricted_mean(float(tau))
    x = np.minimum(t, tau)
    assert mean == pytest.approx(x.mean())
    # with no censoring the Greenwood-type variance is the plug-in variance of min(T, τ) over n
    assert var == pytest.approx(np.mean((x - x.mean()) ** 2) / t.size, abs=1e-9)
    median = km.median()[0]
    assert median == np.sort(t)[math.ceil(t.size / 2) - 1]  # smallest t with F(t) ≥ 1/2


def _redistribute_to_the_right(t: np.ndarray, e: np.ndarray) -> dict[float, float]:
    """Efron's construction of the KM estimate: each censored run hands its mass, equally, to the
    runs observed after it; an independent reference for the product-limit formula."""
    order = np.lexsort((~e, t))  # by time, events before censorings at equal times
    mass = np.full(t.size, 1.0 / t.size)
    for k, i in enumerate(order):
        if not e[i]:
            later = order[k + 1:]
            if later.size:
                mass[later] += mass[i] / later.size
            mass[i] = 0.0
    return {float(u): 1.0 - mass[e & (t <= u)].sum() for u in np.unique(t)}


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 20), st.booleans()), min_size=1, max_size=20))
def test_product_limit_equals_redistribution_to_the_right(obs):
    t = np.array([o[0] for o in obs], float)
    e = np.array([o[1] for o in obs], bool)
    km = kaplan_meier(t, e)
    reference = _redistribute_to_the_right(t, e)
    for u, s in zip(km.table.time_s, km.table.survival):
        assert s == pytest.approx(reference[float(u)], abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_scipy_ecdf_log_log_interval(seed):
    rng = np.random.default_rng(seed)
    t = rng.integers(1, 15, size=20).astype(float)
    e = rng.random(20) < 0.7
    km = kaplan_meier(t, e, level=0.9)
    res = stats.ecdf(stats.CensoredData(uncensored=t[e], right=t[~e]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns where the interval is undefined (Ŝ = 0)
        ci = res.sf.confidence_interval(0.9, method="log-log")
    events = km.table[km.table.reached > 0]
    np.testing.assert_allclose(res.sf.evaluate(km.table.time_s), km.table.survival)
    defined = (events.survival > 0).to_numpy()
    np.testing.assert_allclose(ci.low.evaluate(events.time_s)[defined], events.ci_low[defined])
    np.testing.assert_allclose(ci.high.evaluate(events.time_s)[defined], events.ci_high[defined])



@pytest.mark.parametrize("times, tau", [([0.5, 1.0], 1.0), ([0.0, 0.5], 0.5)])
def test_an_interval_wider_than_floats_reach_saturates_at_0_and_tau(times, tau):
    """Two runs at level 0.999: Student-t's quantile (1 degree of freedom) is about 636, the logit half-width
    about 850, whose exp overflows a float; the interval is then [0, τ], not an OverflowError (found by fuzzing
    simfl report --level 0.999 --horizon 0.5)."""
    km = kaplan_meier(times, [True, True], level=0.999)
    mean, se, lo, hi = km.restricted_mean_interval(tau)
    assert stats.t.ppf(0.9995, 1) * (se / tau) / ((mean / tau) * (1 - mean / tau)) > 800  # exp(800) > float max
    assert (lo, hi) == (0.0, tau)
