"""Non-negative distributions for heterogeneity: durations, rates and multipliers.

Every distribution is a small frozen, validated class written in YAML as ``{dist: NAME, ...}``
(a bare number is a constant). Each one draws by its inverse CDF, ``ppf(u)``, from uniforms
of the seed tree (:mod:`simfl.rng`), carries its analytic ``expected`` value and ``variance``
(``inf`` when infinite, ``nan`` when there is no closed form), and knows the inverse CDF of
its *length-biased* version, ``x f(x) / E[X]``, which an alternating renewal process needs to
start in stationarity.

Analytic moments are called ``expected``/``variance`` rather than ``mean`` because ``mean`` is
a parameter name of several distributions in the public config contract.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Annotated, Any, Callable, ClassVar, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    model_serializer,
    model_validator,
)
from scipy import special

from simfl.strict import StrictModel
from simfl.tagged import tagged_union

__all__ = [
    "Distribution",
    "Constant",
    "Uniform",
    "Normal",
    "HalfNormal",
    "Exponential",
    "LogNormal",
    "Gamma",
    "Weibull",
    "Pareto",
    "Choice",
    "DISTRIBUTIONS",
    "DistributionSpec",
    "FiniteDistribution",
    "PeriodDistribution",
    "as_distribution",
    "MAX_FINITE",
]

_FiniteNonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
_FinitePos = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class Distribution(StrictModel):
    """Base class. Extension point: subclass with a ``dist: Literal[...]`` tag, parameters as
    validated fields, and ``ppf``, ``length_biased_ppf``, ``expected``, ``variance``; then add
    the class to :data:`DISTRIBUTIONS`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dist: str

    #: True when the distribution is a single point (draws can be skipped).
    is_constant: ClassVar[bool] = False

    def ppf(self, u):
        """Inverse CDF at ``u`` in (0, 1); vectorized."""
        raise NotImplementedError

    def length_biased_ppf(self, u):
        """Inverse CDF of the length-biased law ``x f(x) / E[X]`` (needs a finite mean)."""
        raise NotImplementedError

    @property
    def expected(self) -> float:
        """E[X]."""
        raise NotImplementedError

    @property
    def variance(self) -> float:
        """Var[X] (``inf`` when infinite)."""
        raise NotImplementedError

    @property
    def has_atom_at_zero(self) -> bool:
        """True when P(X = 0) > 0 (a zero rate or duration can then be drawn)."""
        return False

    @property
    def is_finite(self) -> bool:
        """True when every draw is finite."""
        return True

    def scalar_ppf(self) -> Callable[[float], float]:
        """A fast ``u -> ppf(u)`` for one Python float at a time (the per-task hot path)."""
        return lambda u: float(self.ppf(u))

    def sample(self, rng: np.random.Generator, size=None):
        """Draw from a :class:`numpy.random.Generator` (by inversion of ``rng.random``)."""
        u = rng.random(size)
        # Generator.random is in [0, 1); the open interval keeps every ppf finite.
        u = np.where(u == 0.0, 2.0**-54, u)
        return self.ppf(u)

    def to_config(self) -> Any:
        """The YAML form: a mapping with ``dist`` (a bare number for a constant)."""
        return self.model_dump(exclude_none=True)

    def __repr__(self) -> str:
        return repr(self.to_config())

    __str__ = __repr__


class Constant(Distribution):
    """A single value (write a bare number in YAML). ``.inf`` is allowed where a field accepts it."""

    dist: Literal["constant"] = "constant"
    value: float = Field(ge=0, description="the value (may be .inf for bandwidths)")
    is_constant: ClassVar[bool] = True

    @model_validator(mode="after")
    def _not_nan(self):
        if math.isnan(self.value):
            raise ValueError("value must be a number, got nan")
        return self

    def ppf(self, u):
        return np.full(np.shape(u), self.value) if np.ndim(u) else self.value

    def length_biased_ppf(self, u):
        return self.ppf(u)

    def scalar_ppf(self) -> Callable[[float], float]:
        value = float(self.value)
        return lambda u: value

    @property
    def expected(self) -> float:
        return self.value

    @property
    def variance(self) -> float:
        return 0.0 if math.isfinite(self.value) else math.nan

    @property
    def has_atom_at_zero(self) -> bool:
        return self.value == 0.0

    @property
    def is_finite(self) -> bool:
        return math.isfinite(self.value)

    @model_serializer
    def _as_number(self) -> float:
        return self.value


class Uniform(Distribution):
    """Uniform on ``[low, high]``."""

    dist: Literal["uniform"] = "uniform"
    low: _FiniteNonNeg
    high: _FiniteNonNeg

    @model_validator(mode="after")
    def _ordered(self):
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self

    def ppf(self, u):
        return self.low + (self.high - self.low) * np.asarray(u)

    def scalar_ppf(self) -> Callable[[float], float]:
        low, width = self.low, self.high - self.low
        return lambda u: low + width * u

    def length_biased_ppf(self, u):
        # density x/(E X (b - a)) on [a, b]: F(x) = (x^2 - a^2)/(b^2 - a^2)
        a2, b2 = self.low**2, self.high**2
        return np.sqrt(a2 + np.asarray(u) * (b2 - a2))

    @property
    def expected(self) -> float:
        return 0.5 * (self.low + self.high)

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12.0

    @property
    def has_atom_at_zero(self) -> bool:
        return self.high == 0.0


class Normal(Distribution):
    """Normal(mean, std) truncated to [0, inf) (so a draw is never negative)."""

    dist: Literal["normal"] = "normal"
    mean: _FiniteNonNeg
    std: _FinitePos

    def _alpha(self) -> tuple[float, float]:
        alpha = -self.mean / self.std
        return alpha, float(special.ndtr(alpha))  # alpha and P(N <= 0) before truncation

    def ppf(self, u):
        _, p0 = self._alpha()
        return np.maximum(self.mean + self.std * special.ndtri(p0 + np.asarray(u) * (1 - p0)), 0.0)

    def _length_biased_cdf(self, x):
        # ∫_0^x t φ((t-m)/s)/s dt = m[Φ(z) - Φ(α)] - s[φ(z) - φ(α)], z = (x-m)/s
        m, s = self.mean, self.std
        alpha, p0 = self._alpha()
        z = (x - m) / s
        phi = lambda v: np.exp(-0.5 * v * v) / math.sqrt(2 * math.pi)  # noqa: E731
        num = m * (special.ndtr(z) - p0) - s * (phi(z) - phi(alpha))
        return num / (self.expected * (1 - p0))

    def length_biased_ppf(self, u):
        return _bisect(self._length_biased_cdf, np.asarray(u, dtype=float), self.mean + 40 * self.std)

    @property
    def expected(self) -> float:
        alpha, p0 = self._alpha()
        lam = _std_normal_pdf(alpha) / (1 - p0)
        return self.mean + self.std * lam

    @property
    def variance(self) -> float:
        alpha, p0 = self._alpha()
        lam = _std_normal_pdf(alpha) / (1 - p0)
        return self.std**2 * (1 + alpha * lam - lam**2)


class HalfNormal(Distribution):
    """|N(0, std^2)|."""

    dist: Literal["halfnormal"] = "halfnormal"
    std: _FinitePos

    def ppf(self, u):
        return self.std * special.ndtri(0.5 * (1 + np.asarray(u)))

    def length_biased_ppf(self, u):
        # x φ(x/s) is a Rayleigh(s) density.
        return self.std * np.sqrt(-2.0 * np.log1p(-np.asarray(u)))

    @property
    def expected(self) -> float:
        return self.std * math.sqrt(2 / math.pi)

    @property
    def variance(self) -> float:
        return self.std**2 * (1 - 2 / math.pi)


class Exponential(Distribution):
    """Exponential with the given mean."""

    dist: Literal["exponential"] = "exponential"
    mean: _FinitePos

    def ppf(self, u):
        return -self.mean * np.log1p(-np.asarray(u))

    def scalar_ppf(self) -> Callable[[float], float]:
        mean = self.mean
        return lambda u: -mean * math.log1p(-u)

    def length_biased_ppf(self, u):
        return self.mean * special.gammaincinv(2.0, np.asarray(u))  # Gamma(2, mean)

    @property
    def expected(self) -> float:
        return self.mean

    @property
    def variance(self) -> float:
        return self.mean**2


class LogNormal(Distribution):
    """exp(N(mu, sigma^2)), parameterized by its ``mean`` or its ``median`` (give exactly one)."""

    dist: Literal["lognormal"] = "lognormal"
    mean: _FinitePos | None = None
    median: _FinitePos | None = None
    sigma: _FiniteNonNeg

    @model_validator(mode="after")
    def _one_location(self):
        if (self.mean is None) == (self.median is None):
            raise ValueError("give exactly one of 'mean' or 'median'")
        return self

    @property
    def mu(self) -> float:
        """Mean of the underlying normal."""
        if self.median is not None:
            return math.log(self.median)
        return math.log(self.mean) - 0.5 * self.sigma**2

    def ppf(self, u):
        return np.exp(self.mu + self.sigma * special.ndtri(np.asarray(u)))

    def scalar_ppf(self) -> Callable[[float], float]:
        mu, sigma, ndtri = self.mu, self.sigma, special.ndtri
        return lambda u: math.exp(mu + sigma * float(ndtri(u)))

    def length_biased_ppf(self, u):
        return np.exp(self.mu + self.sigma**2 + self.sigma * special.ndtri(np.asarray(u)))

    @property
    def expected(self) -> float:
        return math.exp(self.mu + 0.5 * self.sigma**2)

    @property
    def variance(self) -> float:
        s2 = self.sigma**2
        return math.expm1(s2) * math.exp(2 * self.mu + s2)


class Gamma(Distribution):
    """Gamma with the given ``mean`` and ``shape`` k (scale = mean / k)."""

    dist: Literal["gamma"] = "gamma"
    mean: _FinitePos
    shape: _FinitePos

    def ppf(self, u):
        return (self.mean / self.shape) * special.gammaincinv(self.shape, np.asarray(u))

    def length_biased_ppf(self, u):
        return (self.mean / self.shape) * special.gammaincinv(self.shape + 1, np.asarray(u))

    @property
    def expected(self) -> float:
        return self.mean

    @property
    def variance(self) -> float:
        return self.mean**2 / self.shape


class Weibull(Distribution):
    """Weibull with the given ``mean`` and ``shape`` k (scale = mean / Γ(1 + 1/k))."""

    dist: Literal["weibull"] = "weibull"
    mean: _FinitePos
    shape: _FinitePos

    @property
    def scale(self) -> float:
        """The Weibull scale λ."""
        return self.mean / math.gamma(1 + 1 / self.shape)

    def ppf(self, u):
        return self.scale * (-np.log1p(-np.asarray(u))) ** (1 / self.shape)

    def scalar_ppf(self) -> Callable[[float], float]:
        scale, inv_shape = self.scale, 1 / self.shape
        return lambda u: scale * (-math.log1p(-u)) ** inv_shape

    def length_biased_ppf(self, u):
        # x f(x) ∝ x^k e^{-(x/λ)^k}: (X/λ)^k ~ Gamma(1 + 1/k, 1).
        g = special.gammaincinv(1 + 1 / self.shape, np.asarray(u))
        return self.scale * g ** (1 / self.shape)

    @property
    def expected(self) -> float:
        return self.mean

    @property
    def variance(self) -> float:
        k = self.shape
        return self.scale**2 * (math.gamma(1 + 2 / k) - math.gamma(1 + 1 / k) ** 2)


class Pareto(Distribution):
    """Pareto (type I) with minimum ``scale`` and tail index ``shape``."""

    dist: Literal["pareto"] = "pareto"
    scale: _FinitePos
    shape: _FinitePos

    def ppf(self, u):
        return self.scale * np.exp(-np.log1p(-np.asarray(u)) / self.shape)  # (1-u)^(-1/a)

    def scalar_ppf(self) -> Callable[[float], float]:
        scale, shape = self.scale, self.shape
        return lambda u: scale * math.exp(-math.log1p(-u) / shape)

    def length_biased_ppf(self, u):
        if self.shape <= 1:
            raise ValueError("a Pareto with shape <= 1 has an infinite mean")
        return Pareto(scale=self.scale, shape=self.shape - 1).ppf(u)

    @property
    def expected(self) -> float:
        a = self.shape
        return a * self.scale / (a - 1) if a > 1 else math.inf

    @property
    def variance(self) -> float:
        a = self.shape
        return self.scale**2 * a / ((a - 1) ** 2 * (a - 2)) if a > 2 else math.inf


class Choice(Distribution):
    """One of ``values`` with probabilities ∝ ``weights`` (equal by default): device tiers."""

    dist: Literal["choice"] = "choice"
    values: list[_FiniteNonNeg] = Field(min_length=1)
    weights: list[_FinitePos] | None = None

    @model_validator(mode="after")
    def _same_length(self):
        if self.weights is not None and len(self.weights) != len(self.values):
            raise ValueError(
                f"weights has {len(self.weights)} entries but values has {len(self.values)}"
            )
        return self

    def _probs(self) -> np.ndarray:
        w = np.ones(len(self.values)) if self.weights is None else np.asarray(self.weights)
        return w / w.sum()

    @staticmethod
    def _pick(values: np.ndarray, probs: np.ndarray, u):
        cum = np.cumsum(probs)
        cum[-1] = 1.0
        idx = np.minimum(np.searchsorted(cum, np.asarray(u), side="right"), len(values) - 1)
        return values[idx]

    def ppf(self, u):
        return self._pick(np.asarray(self.values, dtype=float), self._probs(), u)

    def scalar_ppf(self) -> Callable[[float], float]:
        cum = np.cumsum(self._probs()).tolist()
        cum[-1] = 1.0
        values, last = [float(v) for v in self.values], len(self.values) - 1
        return lambda u: values[min(bisect_right(cum, u), last)]

    def length_biased_ppf(self, u):
        v = np.asarray(self.values, dtype=float)
        return self._pick(v, self._probs() * v / self.expected, u)

    @property
    def expected(self) -> float:
        return float(np.dot(self._probs(), self.values))

    @property
    def variance(self) -> float:
        p, v = self._probs(), np.asarray(self.values)
        return float(np.dot(p, v**2) - np.dot(p, v) ** 2)

    @property
    def has_atom_at_zero(self) -> bool:
        return 0.0 in self.values


DISTRIBUTIONS: dict[str, type[Distribution]] = {
    cls.model_fields["dist"].default: cls
    for cls in (Constant, Uniform, Normal, HalfNormal, Exponential, LogNormal, Gamma, Weibull, Pareto, Choice)
}


def _std_normal_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _bisect(cdf, u: np.ndarray, hi: float, iters: int = 80) -> np.ndarray:
    """Vectorized inversion of a continuous increasing ``cdf`` on [0, hi]."""
    lo_arr = np.zeros_like(u)
    hi_arr = np.full_like(u, hi)
    for _ in range(iters):
        mid = 0.5 * (lo_arr + hi_arr)
        below = cdf(mid) < u
        lo_arr = np.where(below, mid, lo_arr)
        hi_arr = np.where(below, hi_arr, mid)
    return 0.5 * (lo_arr + hi_arr)


def _number_to_constant(value: Any) -> Any:
    if isinstance(value, bool):
        return value  # let validation reject it
    if isinstance(value, (int, float)):
        return {"dist": "constant", "value": value}
    return value


#: A config field holding a distribution: ``{dist: NAME, ...}`` or a bare number.
DistributionSpec = Annotated[tagged_union(DISTRIBUTIONS, key="dist"), BeforeValidator(_number_to_constant)]


#: Quantiles at which a distribution's draws must be representable (finite floats).
_EXTREME_QUANTILES = np.array([1e-12, 0.5, 1.0 - 1e-12])
#: Largest draw or mean a finite quantity (a duration, a multiplier) may have: about 3 × 10^13
#: years of seconds; beyond it sums and products of simulated times overflow or lose all precision.
MAX_FINITE = 1e21


def _representable(d: Distribution) -> Distribution:
    """Draws and mean stay far from float overflow (e.g. lognormal sigma 1e308 overflows)."""
    with np.errstate(all="ignore"):
        draws = np.asarray(d.ppf(_EXTREME_QUANTILES), dtype=float)
    if not np.all(np.isfinite(draws)) or np.max(np.abs(draws)) > MAX_FINITE:
        raise ValueError(f"its parameters overflow: draws reach {np.max(np.abs(draws)):.3g} (limit {MAX_FINITE:g})")
    mean = d.expected
    if not (math.isnan(mean) or mean <= MAX_FINITE):
        if math.isinf(mean) and d.dist == "pareto":
            return d  # a heavy tail with an infinite mean is a law, not an overflow
        raise ValueError(f"its parameters overflow: the mean is {mean:.3g} (limit {MAX_FINITE:g})")
    return d


def _finite(d: Distribution) -> Distribution:
    if not d.is_finite:
        raise ValueError("must be finite (.inf is only allowed for bandwidths)")
    return _representable(d)


def _proper_duration(d: Distribution) -> Distribution:
    if not d.is_finite or d.has_atom_at_zero:
        raise ValueError("must be a finite duration that is never 0")
    if not math.isfinite(d.expected):
        raise ValueError("must have a finite mean (a Pareto needs shape > 1)")
    return _representable(d)


#: A distribution whose draws are finite (durations, multipliers, offsets).
FiniteDistribution = Annotated[DistributionSpec, AfterValidator(_finite)]
#: A renewal period's duration: finite, never 0, with a finite mean.
PeriodDistribution = Annotated[DistributionSpec, AfterValidator(_proper_duration)]


def as_distribution(value: Any) -> Distribution:
    """Build a distribution from its YAML form (a number or a ``{dist: ...}`` mapping)."""
    from pydantic import TypeAdapter

    return TypeAdapter(DistributionSpec).validate_python(value)
