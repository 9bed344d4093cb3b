"""Distributions given by their mean and coefficient of variation (the ``{mean, cv}`` forms).

Three kinds of check: the law a form builds has the mean and variance it claims (moments of
its inverse CDF by quadrature, and the closed form of its solved parameters); many draws of
keyed uniforms have sample moments within tolerances derived from n; and the forms that
existed before draw exactly what their old formulas give.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from simfl.rng import Purpose, SeedTree
from simfl.scenario.distributions import as_distribution
from simfl.scenario.spread import TRUNCATED_NORMAL_MAX_CV, weibull_cv

N = 200_000

#: (dist, cv) of the {mean, cv} cases: moderate and wide spreads, and the normal past its half-normal cv.
CV_CASES = [
    ("lognormal", 0.5), ("lognormal", 1.5),
    ("gamma", 0.3), ("gamma", 2.0),
    ("weibull", 0.3), ("weibull", 1.0), ("weibull", 2.5),
    ("uniform", 0.2), ("uniform", 1 / math.sqrt(3)),
    ("pareto", 0.25),
    ("normal", 0.2), ("normal", 0.9),
]
MEAN = 2.5


def _law(dist: str, cv: float, mean: float = MEAN):
    return as_distribution({"dist": dist, "mean": mean, "cv": cv})


def _quad_moment(d, g) -> float:
    """∫_0^1 g(ppf(u)) du: a moment of the law the inverse CDF defines.

    With u = e^{-t} below 1/2 and u = 1 − e^{-t} above (du = e^{-t} dt) both tails are smooth in t;
    the upper one stops at u = 1 − 10^-16, the last uniform below 1.
    """
    lower = lambda t: g(float(d.ppf(math.exp(-t)))) * math.exp(-t)  # noqa: E731
    upper = lambda t: g(float(d.ppf(-math.expm1(-t)))) * math.exp(-t)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)  # a 4th moment's far tail is only approximate
        return sum(integrate.quad(f, math.log(2), top, limit=500, epsabs=0, epsrel=1e-10)[0]
                   for f, top in ((lower, 700.0), (upper, 36.7)))


@pytest.mark.parametrize("dist, cv", CV_CASES)
def test_expected_and_variance_are_the_mean_and_cv_given(dist, cv):
    d = _law(dist, cv)
    assert d.expected == MEAN
    assert d.variance == (cv * MEAN) ** 2


@pytest.mark.parametrize("dist, cv", CV_CASES)
def test_the_inverse_cdf_has_the_mean_and_variance_given(dist, cv):
    # the law the solved parameters define, integrated over u: independent of expected/variance
    d = _law(dist, cv)
    mean = _quad_moment(d, lambda x: x)
    second = _quad_moment(d, lambda x: x * x)
    assert mean == pytest.approx(MEAN, rel=1e-7)
    assert second - mean**2 == pytest.approx((cv * MEAN) ** 2, rel=1e-6)


@pytest.mark.parametrize("dist, cv", CV_CASES)
def test_keyed_draws_have_the_mean_and_variance_given(dist, cv):
    # the population draws ppf of counter-based uniforms keyed by client
    d = _law(dist, cv)
    x = np.asarray(d.ppf(SeedTree(11).uniforms(Purpose.COMPUTE, np.arange(N), 0)), dtype=float)
    sd = cv * MEAN
    assert (x >= 0).all()
    assert abs(x.mean() - MEAN) <= 4 * sd / math.sqrt(N)
    # the sample variance has variance (μ4 − σ⁴)/n, μ4 the 4th central moment of the law (by quadrature)
    mu4 = _quad_moment(d, lambda v: (v - MEAN) ** 4)
    assert abs(x.var() - sd**2) <= 4 * math.sqrt((mu4 - sd**4) / N) + 1e-12


@pytest.mark.parametrize("dist, cv", CV_CASES)
def test_length_biased_mean(dist, cv):
    # the law of the renewal period covering a random time has mean E[X²]/E[X] = mean (1 + cv²)
    d = _law(dist, cv)
    lb = np.asarray(d.length_biased_ppf(np.random.default_rng(2).random(N)), dtype=float)
    assert lb.mean() == pytest.approx(MEAN * (1 + cv * cv), abs=5 * lb.std() / math.sqrt(N))


@pytest.mark.parametrize("dist", ["lognormal", "gamma", "weibull", "uniform", "pareto", "normal"])
def test_cv_zero_is_a_point_mass_at_the_mean(dist):
    d = _law(dist, 0.0, mean=0.1)  # 0.1 is not a power of two: no rounding on the way back
    u = np.random.default_rng(3).random(1000)
    for draws in (d.ppf(u), d.length_biased_ppf(u), [d.scalar_ppf()(v) for v in u]):
        assert (np.asarray(draws) == 0.1).all()
    assert d.variance == 0.0


def test_halfnormal_by_mean():
    d = as_distribution({"dist": "halfnormal", "mean": 1.5})
    std = 1.5 * math.sqrt(math.pi / 2)
    assert d.expected == 1.5
    assert d.variance == pytest.approx(std**2 * (1 - 2 / math.pi), rel=1e-15)
    x = d.ppf(np.random.default_rng(4).random(N))
    assert abs(x.mean() - 1.5) <= 4 * math.sqrt(d.variance / N)


def test_normal_mean_std_keeps_the_location_meaning():
    # {mean, std}: mean is the location of the normal before truncation, so the draws' mean is higher
    d = as_distribution({"dist": "normal", "mean": 1.0, "std": 2.0})
    truth = stats.truncnorm(-0.5, math.inf, loc=1.0, scale=2.0)
    assert d.expected == pytest.approx(truth.mean(), rel=1e-12)
    assert d.expected > 1.0


# ------------------------------------------------------------------ property: random (mean, cv)
def _law_moments(d) -> tuple[float, float]:
    """Mean and variance of a {mean, cv} law from its solved parameters, by each law's closed form."""
    if d.dist == "lognormal":
        mu, s = math.log(d.mean) - 0.5 * d.log_sd**2, d.log_sd
        return math.exp(mu + s * s / 2), math.expm1(s * s) * math.exp(2 * mu + s * s)
    if d.dist == "gamma":
        return d.k * (d.mean / d.k), d.k * (d.mean / d.k) ** 2
    if d.dist == "weibull":
        k, lam = 1 / d.inverse_shape, d.scale
        return lam * math.gamma(1 + 1 / k), lam**2 * (math.gamma(1 + 2 / k) - math.gamma(1 + 1 / k) ** 2)
    if d.dist == "uniform":
        low, high = d.bounds
        return (low + high) / 2, (high - low) ** 2 / 12
    if d.dist == "pareto":
        scale, a = d.scale_shape
        return a * scale / (a - 1), scale**2 * a / ((a - 1) ** 2 * (a - 2))
    loc, scale = d.location_scale
    truth = stats.truncnorm(-loc / scale, math.inf, loc=loc, scale=scale)
    return truth.mean(), truth.var()


_REACH = {"lognormal": 20.0, "gamma": 20.0, "weibull": 20.0, "pareto": 20.0, "uniform": 1 / math.sqrt(3),
          "normal": 0.99}


@settings(max_examples=60, deadline=None)
@given(
    dist=st.sampled_from(sorted(_REACH)),
    mean=st.floats(1e-4, 1e4),
    share=st.floats(0.01, 1.0),
    u=st.lists(st.floats(1e-9, 1 - 1e-9), min_size=2, max_size=30),
)
def test_every_mean_cv_form_holds_its_moments_and_is_monotone(dist, mean, share, u):
    cv = share * _REACH[dist]
    d = _law(dist, cv, mean)
    assert d.expected == mean and d.variance == (cv * mean) ** 2
    law_mean, law_var = _law_moments(d)
    assert law_mean == pytest.approx(mean, rel=1e-8)
    assert law_var == pytest.approx((cv * mean) ** 2, rel=1e-7)
    x = np.asarray(d.ppf(np.sort(np.asarray(u))), dtype=float)
    assert (x >= 0).all()
    assert (np.diff(x) >= -1e-12 * np.abs(x[1:])).all()


@settings(max_examples=40, deadline=None)
@given(cv=st.floats(1e-12, 1e6))
def test_weibull_shape_solves_the_cv_equation(cv):
    d = _law("weibull", cv)
    assert weibull_cv(1 / d.inverse_shape) == pytest.approx(cv, rel=1e-9)


def test_normal_reach_is_just_below_one():
    assert 0.998 < TRUNCATED_NORMAL_MAX_CV < 1.0


# ------------------------------------------------------------------ round trip and the old forms
@pytest.mark.parametrize("case", [
    {"dist": "lognormal", "mean": 0.01, "cv": 2.0},
    {"dist": "gamma", "mean": 1.0, "cv": 0.0},
    {"dist": "weibull", "mean": 3.0, "cv": 0.7},
    {"dist": "uniform", "mean": 1.0, "cv": 0.3},
    {"dist": "pareto", "mean": 1.0, "cv": 0.5},
    {"dist": "normal", "mean": 1.0, "cv": 0.95},
    {"dist": "halfnormal", "mean": 1.0},
])
def test_config_round_trips_to_the_form_written(case):
    d = as_distribution(case)
    assert d.to_config() == {k: float(v) if k != "dist" else v for k, v in case.items()}
    assert as_distribution(eval(repr(d))) == d


def _old_formulas(u):
    """Draws of the forms that existed before the {mean, cv} forms, by the formulas of that code."""
    z = special.ndtri(u)
    p0 = float(special.ndtr(-1.0 / 2.0))
    return {
        "lognormal median": ({"dist": "lognormal", "median": 0.01, "sigma": 1.3}, np.exp(math.log(0.01) + 1.3 * z)),
        "lognormal mean": ({"dist": "lognormal", "mean": 0.01, "sigma": 0.7},
                           np.exp(math.log(0.01) - 0.5 * 0.7**2 + 0.7 * z)),
        "gamma": ({"dist": "gamma", "mean": 0.02, "shape": 2.5}, (0.02 / 2.5) * special.gammaincinv(2.5, u)),
        "weibull": ({"dist": "weibull", "mean": 0.02, "shape": 0.8},
                    0.02 / math.gamma(1 + 1 / 0.8) * (-np.log1p(-u)) ** (1 / 0.8)),
        "pareto": ({"dist": "pareto", "scale": 0.01, "shape": 2.5}, 0.01 * np.exp(-np.log1p(-u) / 2.5)),
        "normal": ({"dist": "normal", "mean": 1.0, "std": 2.0}, np.maximum(1.0 + 2.0 * special.ndtri(p0 + u * (1 - p0)), 0.0)),
        "uniform": ({"dist": "uniform", "low": 0.5, "high": 2.0}, 0.5 + 1.5 * u),
        "halfnormal": ({"dist": "halfnormal", "std": 2.0}, 2.0 * special.ndtri(0.5 * (1 + u))),
    }


@pytest.mark.parametrize("name", list(_old_formulas(np.array([0.5]))))
def test_the_old_forms_draw_bit_for_bit_what_they_drew(name):
    from simfl.config.load import config_from_dict
    from simfl.scenario.population import build_population

    n = 5000
    tree = SeedTree(5)
    u = tree.uniforms(Purpose.COMPUTE, np.arange(n), 0)
    spec, old = _old_formulas(u)[name]
    config = config_from_dict({"data": {"num_clients": n}, "heterogeneity": {"compute": {"seconds_per_sample": spec}}})
    population = build_population(config.heterogeneity, np.full(n, 10), tree)
    np.testing.assert_array_equal(population.seconds_per_sample, old)  # bit for bit, not approximately


# ------------------------------------------------------------------ a sweep of the spread at a fixed mean
CLIENTS = 100_000


def _population_sps(spec, seed: int = 0) -> np.ndarray:
    """seconds_per_sample of a population built as a run builds it."""
    from simfl.config.load import config_from_dict
    from simfl.scenario.population import build_population

    config = config_from_dict({"seed": seed, "data": {"num_clients": CLIENTS},
                               "heterogeneity": {"compute": {"seconds_per_sample": spec}}})
    return build_population(config.heterogeneity, np.full(CLIENTS, 10), SeedTree(seed)).seconds_per_sample


@pytest.mark.parametrize("dist", ["lognormal", "gamma", "weibull"])
def test_a_cv_sweep_keeps_the_population_mean(dist):
    mean = 0.01
    spreads = []
    for cv in (0.0, 0.5, 1.0, 2.0):
        x = _population_sps({"dist": dist, "mean": mean, "cv": cv})
        spreads.append(x.std())
        if cv == 0:  # a point mass: every client draws the mean itself
            assert (x == mean).all()
            continue
        assert abs(x.mean() - mean) <= 4 * cv * mean / math.sqrt(CLIENTS), (cv, x.mean())
    assert np.all(np.diff(spreads) > 0)  # only the spread moves (its size is checked draw by draw above)


def test_a_median_sigma_sweep_moves_the_mean_as_before():
    # {median, sigma} holds the median: the population mean is median·e^{σ²/2}
    median = 0.01
    for sigma in (0.0, 0.5, 1.0, 2.0):
        x = _population_sps({"dist": "lognormal", "median": median, "sigma": sigma})
        mean = median * math.exp(sigma**2 / 2)
        sd = mean * math.sqrt(math.expm1(sigma**2))
        assert abs(x.mean() - mean) <= 4 * sd / math.sqrt(CLIENTS) + 1e-15, (sigma, x.mean())
        assert np.median(x) == pytest.approx(median, rel=0.05 * sigma + 1e-12)


@pytest.mark.parametrize("case, dumped", [
    ({"dist": "lognormal", "median": 0.01, "sigma": 1.0}, {"dist": "lognormal", "mean": None, "median": 0.01, "sigma": 1.0}),
    ({"dist": "lognormal", "mean": 0.01, "sigma": 1.0}, {"dist": "lognormal", "mean": 0.01, "median": None, "sigma": 1.0}),
    ({"dist": "uniform", "low": 0.05, "high": 0.3}, {"dist": "uniform", "low": 0.05, "high": 0.3}),
    ({"dist": "normal", "mean": 1.0, "std": 2.0}, {"dist": "normal", "mean": 1.0, "std": 2.0}),
    ({"dist": "halfnormal", "std": 2.0}, {"dist": "halfnormal", "std": 2.0}),
    ({"dist": "gamma", "mean": 1.0, "shape": 2.0}, {"dist": "gamma", "mean": 1.0, "shape": 2.0}),
    ({"dist": "weibull", "mean": 1.0, "shape": 2.0}, {"dist": "weibull", "mean": 1.0, "shape": 2.0}),
    ({"dist": "pareto", "scale": 1.0, "shape": 3.0}, {"dist": "pareto", "scale": 1.0, "shape": 3.0}),
    ({"dist": "gamma", "mean": 1.0, "cv": 0.5}, {"dist": "gamma", "mean": 1.0, "cv": 0.5}),
])
def test_a_config_dump_of_the_old_forms_is_unchanged(case, dumped):
    # a run's id is a digest of its dumped config: the new optional keys must not appear in old forms
    assert as_distribution(case).model_dump() == dumped
