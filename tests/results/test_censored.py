"""The censored normal (log-normal AFT) fit behind the paired time ratio and its trend."""

import math

import numpy as np
import pytest
from lifelines import LogNormalFitter
from scipy import stats

from simfl.results.censored import EXACT, LEFT, RIGHT, fit_censored_normal


@pytest.mark.parametrize("case", range(12))
def test_the_fit_is_lifelines_log_normal_fit_with_interval_censoring(case):
    rng = np.random.default_rng(case)
    n = int(rng.integers(4, 12))
    y = rng.normal(0.3, 0.6, n)
    kind = rng.choice([EXACT, EXACT, RIGHT, LEFT], n)
    kind[:2] = EXACT
    lower = np.where(kind == LEFT, 0.0, np.exp(y))
    upper = np.where(kind == RIGHT, np.inf, np.exp(y))
    reference = LogNormalFitter().fit_interval_censoring(lower, upper)
    fit = fit_censored_normal(y, kind)
    assert fit.coef[0] == pytest.approx(reference.mu_, abs=1e-4)
    if not (kind == EXACT).all():  # both report the maximum-likelihood sigma
        assert fit.sigma == pytest.approx(reference.sigma_, rel=1e-3)
    # its covariance is lifelines' (inverse observed information) times the small-sample factor k / (k - 1)
    assert fit.cov[0, 0] == pytest.approx(reference.variance_matrix_.loc["mu_", "mu_"] * n / (n - 1), rel=2e-3)


def test_without_censoring_it_is_least_squares_with_its_t_interval():
    x = np.array([0.0, 0.0, 1.0, 1.0, 2.0, 4.0])
    y = np.array([0.1, -0.2, 0.5, 0.3, 0.9, 1.2])
    fit = fit_censored_normal(y, np.zeros(6, int), np.column_stack([np.ones(6), x]))
    ols = stats.linregress(x, y)
    b, lo, hi = fit.interval(1, 0.95)
    half = stats.t.ppf(0.975, 4) * ols.stderr
    assert (b, lo, hi) == pytest.approx((ols.slope, ols.slope - half, ols.slope + half))
    mean = fit_censored_normal(y, np.zeros(6, int))
    m, lo, hi = mean.interval(0, 0.9)
    half = stats.t.ppf(0.95, 5) * y.std(ddof=1) / math.sqrt(6)
    assert (m, lo, hi) == pytest.approx((y.mean(), y.mean() - half, y.mean() + half))


def test_bounds_move_the_estimate_the_way_they_point():
    y = np.array([0.0, 0.2, 0.4])
    exact = fit_censored_normal(y, [EXACT] * 3).coef[0]
    above = fit_censored_normal([*y, 0.5, 0.5], [EXACT] * 3 + [RIGHT] * 2).coef[0]
    below = fit_censored_normal([*y, -0.1, -0.1], [EXACT] * 3 + [LEFT] * 2).coef[0]
    assert below < exact < above


def test_bounds_alone_identify_nothing():
    assert fit_censored_normal([0.2, 0.5, 0.9], [RIGHT, RIGHT, LEFT]) is None
    assert fit_censored_normal([0.2, 0.5, 0.9], [EXACT, RIGHT, RIGHT]) is None  # one exact value
    two_x = np.column_stack([np.ones(3), [1.0, 1.0, 2.0]])
    assert fit_censored_normal([0.2, 0.3, 0.9], [EXACT, EXACT, RIGHT], two_x) is None  # slope: one x among the exact


def test_a_known_time_ratio_is_recovered_within_its_interval():
    """Synthetic worlds with a true ratio of 1.5 and censoring at a horizon: the interval holds it."""
    rng = np.random.default_rng(7)
    n, beta, tau = 400, math.log(1.5), 90.0
    world = rng.normal(math.log(50), 0.5, n)
    t_ref, t_other = np.exp(world + beta + rng.normal(0, 0.3, n)), np.exp(world + rng.normal(0, 0.3, n))
    ref_hit, other_hit = t_ref <= tau, t_other <= tau
    keep = ref_hit | other_hit
    y = np.where(ref_hit & other_hit, np.log(t_ref / t_other),
                 np.where(other_hit, np.log(tau / t_other), np.log(t_ref / tau)))
    kind = np.where(ref_hit & other_hit, EXACT, np.where(other_hit, RIGHT, LEFT))
    assert (kind[keep] != EXACT).mean() > 0.2  # the censoring matters here
    fit = fit_censored_normal(y[keep], kind[keep])
    _, lo, hi = fit.interval(0, 0.99)
    assert lo < beta < hi
    naive = np.log(t_ref / t_other)[ref_hit & other_hit].mean()  # the seeds where both got there
    assert naive < lo  # dropping the bounds biases the ratio towards 1; the fit does not
