"""Non-negative distributions for heterogeneity: durations, rates and multipliers.

Every distribution is a small frozen, validated class written in YAML as ``{dist: NAME, ...}``
(a bare number is a constant). Each one draws by its inverse CDF, ``ppf(u)``, from uniforms
of the seed tree (:mod:`simfl.rng`), carries its analytic ``expected`` value and ``variance``
(``inf`` when infinite, ``nan`` when there is no closed form), and knows the inverse CDF of
its *length-biased* version, ``x f(x) / E[X]``, which an alternating renewal process needs to
start in stationarity.

A law may be written in several forms (:mod:`simfl.scenario.spread`): its own parameters, or,
for every law with a free spread, ``{mean, cv}``. A mapping gives exactly one form, and its
config (and repr) is the form it was written in. In the ``{mean, cv}`` form ``expected`` is
the mean and ``variance`` is (cv·mean)², and ``cv: 0`` is a point mass at the mean (every draw
is the mean, exactly).

Analytic moments are called ``expected``/``variance`` rather than ``mean`` because ``mean`` is
a parameter name of several distributions in the public config contract.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from functools import cached_property
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

from simfl.scenario.spread import (
    MEAN_CV,
    Form,
    form_of,
    truncated_normal_location_scale,
    weibull_inverse_shape,
)
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
#: A coefficient of variation: standard deviation / mean (0: a point mass).
_CV = Annotated[float, Field(ge=0, allow_inf_nan=False, description="coefficient of variation: std / mean")]


class Distribution(StrictModel):
    """Base class. Extension point: subclass with a ``dist: Literal[...]`` tag, parameters as
    validated fields, and ``ppf``, ``length_biased_ppf``, ``expected``, ``variance``; then add
    the class to :data:`DISTRIBUTIONS`. A law written in several forms lists them in ``FORMS``
    (its parameters are then optional fields; exactly one form must be given)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dist: str

    #: True when the distribution is a single point (draws can be skipped).
    is_constant: ClassVar[bool] = False
    #: The forms the parameters may be written in (empty: the fields as declared).
    FORMS: ClassVar[tuple[Form, ...]] = ()
    #: Absent parameters written as null in a dump of a law with FORMS (the others are left
    #: out): what configs wrote before the ``{mean, cv}`` forms, so a run's id, a digest of its
    #: config, stays the same for them.
    NULLS_WRITTEN: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _one_form(cls, data: Any) -> Any:
        if cls.FORMS and isinstance(data, dict) and set(data) <= set(cls.model_fields):
            form_of(cls.model_fields["dist"].default, cls.FORMS, data, cls.model_fields)  # unknown keys: named by pydantic
        return data

    @model_serializer(mode="wrap")
    def _as_written(self, handler) -> Any:
        data = handler(self)
        if not self.FORMS or not isinstance(data, dict):
            return data
        keep = self.NULLS_WRITTEN if getattr(self, "cv", None) is None else frozenset()
        return {k: v for k, v in data.items() if v is not None or k in keep}

    @property
    def form(self) -> Form | None:
        """The form the parameters are written in (None for a law with a single one)."""
        return form_of(self.dist, self.FORMS, dict(self), type(self).model_fields) if self.FORMS else None

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
        return _point(self.value, u)

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
    """Uniform on ``[low, high]``, or by ``{mean, cv}`` (half-width √3·cv·mean; cv ≤ 1/√3 keeps draws ≥ 0)."""

    dist: Literal["uniform"] = "uniform"
    low: _FiniteNonNeg | None = None
    high: _FiniteNonNeg | None = None
    mean: _FinitePos | None = None
    cv: _CV | None = None
    FORMS: ClassVar[tuple[Form, ...]] = (Form(("low", "high")), MEAN_CV)

    @model_validator(mode="after")
    def _ordered(self):
        if self.cv is not None:
            if math.sqrt(3.0) * self.cv > 1.0:
                raise ValueError(f"cv {self.cv:g} would draw below 0: a uniform's cv must be <= 1/√3 = {1 / math.sqrt(3):.6f}")
        elif self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self

    @cached_property
    def bounds(self) -> tuple[float, float]:
        """``(low, high)``: given, or mean ∓ √3·cv·mean."""
        if self.cv is None:
            return self.low, self.high
        half = math.sqrt(3.0) * self.cv * self.mean
        return max(self.mean - half, 0.0), self.mean + half

    def ppf(self, u):
        low, high = self.bounds
        return low + (high - low) * np.asarray(u)

    def scalar_ppf(self) -> Callable[[float], float]:
        low, high = self.bounds
        width = high - low
        return lambda u: low + width * u

    def length_biased_ppf(self, u):
        # density x/(E X (b - a)) on [a, b]: F(x) = (x^2 - a^2)/(b^2 - a^2)
        low, high = self.bounds
        a2, b2 = low**2, high**2
        return np.sqrt(a2 + np.asarray(u) * (b2 - a2))

    @property
    def expected(self) -> float:
        if self.cv is not None:
            return self.mean
        return 0.5 * (self.low + self.high)

    @property
    def variance(self) -> float:
        if self.cv is not None:
            return (self.cv * self.mean) ** 2
        return (self.high - self.low) ** 2 / 12.0

    @property
    def has_atom_at_zero(self) -> bool:
        return self.bounds[1] == 0.0


class Normal(Distribution):
    """A normal truncated to [0, inf) (a draw is never negative). ``{mean, std}``: the normal
    before truncation (``mean`` is its location, ≥ 0; the mean of the draws is higher);
    ``{mean, cv}``: the mean and cv of the truncated law itself (cv < 1; the location is solved
    for, and is below 0 above the half-normal's cv ≈ 0.756)."""

    dist: Literal["normal"] = "normal"
    mean: _FiniteNonNeg
    std: _FinitePos | None = None
    cv: _CV | None = None
    FORMS: ClassVar[tuple[Form, ...]] = (
        Form(("mean", "std"), "std", "mean is the location before truncation: the mean of the draws grows with std"),
        MEAN_CV,
    )

    @model_validator(mode="after")
    def _reachable(self):
        if self.cv is not None:
            if self.mean == 0:
                raise ValueError("mean must be > 0 with cv")
            _ = self.location_scale  # a cv out of reach raises here
        return self

    @cached_property
    def location_scale(self) -> tuple[float, float]:
        """Location and scale of the normal before truncation."""
        if self.cv is None:
            return self.mean, self.std
        return truncated_normal_location_scale(self.mean, self.cv)

    def ppf(self, u):
        m, s = self.location_scale
        if s == 0.0:
            return _point(self.mean, u)
        alpha = -m / s
        if alpha <= 0:  # at most half of the normal is cut: invert from the lower end (always so for {mean, std})
            p0 = float(special.ndtr(alpha))
            return np.maximum(m + s * special.ndtri(p0 + np.asarray(u) * (1 - p0)), 0.0)
        q0 = float(special.ndtr(-alpha))  # most is cut (q0 may be 1e-198): invert the upper tail
        return np.maximum(m - s * special.ndtri(q0 * (1 - np.asarray(u))), 0.0)

    def _length_biased_cdf(self, x):
        # ∫_0^x t φ((t-m)/s)/s dt = m[Φ(z) - Φ(α)] - s[φ(z) - φ(α)], z = (x-m)/s
        m, s = self.location_scale
        alpha = -m / s
        z = (x - m) / s
        phi = lambda v: np.exp(-0.5 * v * v) / math.sqrt(2 * math.pi)  # noqa: E731
        if alpha <= 0:
            p0 = float(special.ndtr(alpha))
            mass, kept = special.ndtr(z) - p0, 1 - p0
        else:  # Φ(z) − Φ(α) = Q(α) − Q(z): no cancellation in the upper tail
            kept = float(special.ndtr(-alpha))
            mass = kept - special.ndtr(-z)
        return (m * mass - s * (phi(z) - phi(alpha))) / (self.expected * kept)

    def length_biased_ppf(self, u):
        m, s = self.location_scale
        if s == 0.0:
            return _point(self.mean, u)
        return _bisect(self._length_biased_cdf, np.asarray(u, dtype=float), m + 40 * s)

    def _inverse_mills(self) -> tuple[float, float]:
        alpha = -self.mean / self.std
        return alpha, _std_normal_pdf(alpha) / (1 - float(special.ndtr(alpha)))

    @property
    def expected(self) -> float:
        if self.cv is not None:
            return self.mean
        _, lam = self._inverse_mills()
        return self.mean + self.std * lam

    @property
    def variance(self) -> float:
        if self.cv is not None:
            return (self.cv * self.mean) ** 2
        alpha, lam = self._inverse_mills()
        return self.std**2 * (1 + alpha * lam - lam**2)


class HalfNormal(Distribution):
    """|N(0, std^2)|, by its ``std`` or its ``mean`` (= std·√(2/π)); its cv is fixed at √(π/2 − 1) ≈ 0.756."""

    dist: Literal["halfnormal"] = "halfnormal"
    std: _FinitePos | None = None
    mean: _FinitePos | None = None
    FORMS: ClassVar[tuple[Form, ...]] = (Form(("std",), note="the cv stays 0.756"), Form(("mean",), note="the cv stays 0.756"))

    @property
    def scale(self) -> float:
        """The std of the normal before folding."""
        return self.std if self.std is not None else self.mean * math.sqrt(math.pi / 2)

    def ppf(self, u):
        return self.scale * special.ndtri(0.5 * (1 + np.asarray(u)))

    def length_biased_ppf(self, u):
        # x φ(x/s) is a Rayleigh(s) density.
        return self.scale * np.sqrt(-2.0 * np.log1p(-np.asarray(u)))

    @property
    def expected(self) -> float:
        return self.mean if self.mean is not None else self.std * math.sqrt(2 / math.pi)

    @property
    def variance(self) -> float:
        return self.scale**2 * (1 - 2 / math.pi)


class Exponential(Distribution):
    """Exponential with the given mean (its cv is fixed at 1)."""

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
    """exp(N(mu, sigma^2)), by ``{mean, sigma}``, ``{median, sigma}`` or ``{mean, cv}`` (sigma² = ln(1 + cv²))."""

    dist: Literal["lognormal"] = "lognormal"
    mean: _FinitePos | None = None
    median: _FinitePos | None = None
    sigma: _FiniteNonNeg | None = None
    cv: _CV | None = None
    FORMS: ClassVar[tuple[Form, ...]] = (
        Form(("mean", "sigma"), "sigma"),
        Form(("median", "sigma"), "sigma", "the mean grows as e^{σ²/2}"),
        MEAN_CV,
    )
    NULLS_WRITTEN: ClassVar[frozenset[str]] = frozenset({"mean", "median"})

    @cached_property
    def log_sd(self) -> float:
        """The σ of the underlying normal: given, or √ln(1 + cv²)."""
        if self.cv is None:
            return self.sigma
        c = self.cv
        return math.sqrt(math.log1p(c * c) if c < 1e150 else 2 * math.log(c) + math.log1p(c**-2))

    @property
    def mu(self) -> float:
        """Mean of the underlying normal."""
        if self.median is not None:
            return math.log(self.median)
        return math.log(self.mean) - 0.5 * self.log_sd**2

    def ppf(self, u):
        if self.cv is not None:  # the mean times a unit-mean lognormal: exactly the mean at cv 0
            s = self.log_sd
            return self.mean * np.exp(s * special.ndtri(np.asarray(u)) - 0.5 * s * s)
        return np.exp(self.mu + self.sigma * special.ndtri(np.asarray(u)))

    def scalar_ppf(self) -> Callable[[float], float]:
        ndtri = special.ndtri
        if self.cv is not None:
            mean, s, shift = self.mean, self.log_sd, 0.5 * self.log_sd**2
            return lambda u: mean * math.exp(s * float(ndtri(u)) - shift)
        mu, sigma = self.mu, self.sigma
        return lambda u: math.exp(mu + sigma * float(ndtri(u)))

    def length_biased_ppf(self, u):
        if self.cv is not None:
            s = self.log_sd
            return self.mean * np.exp(s * special.ndtri(np.asarray(u)) + 0.5 * s * s)
        return np.exp(self.mu + self.sigma**2 + self.sigma * special.ndtri(np.asarray(u)))

    @property
    def expected(self) -> float:
        if self.cv is not None:
            return self.mean
        return math.exp(self.mu + 0.5 * self.sigma**2)

    @property
    def variance(self) -> float:
        if self.cv is not None:
            return (self.cv * self.mean) ** 2
        s2 = self.sigma**2
        return math.expm1(s2) * math.exp(2 * self.mu + s2)


class Gamma(Distribution):
    """Gamma by ``{mean, shape}`` (shape k, scale = mean / k) or ``{mean, cv}`` (k = 1/cv²)."""

    dist: Literal["gamma"] = "gamma"
    mean: _FinitePos
    shape: _FinitePos | None = None
    cv: _CV | None = None
    FORMS: ClassVar[tuple[Form, ...]] = (Form(("mean", "shape"), "shape", "cv = 1/√shape"), MEAN_CV)

    @model_validator(mode="after")
    def _reachable(self):
        if self.k == 0.0:
            raise ValueError(f"cv {self.cv:g} is beyond a gamma's reach: its shape 1/cv² underflows to 0")
        return self

    @cached_property
    def k(self) -> float:
        """The shape: given, or 1/cv² (inf at cv 0: a point mass)."""
        if self.shape is not None:
            return self.shape
        inverse = math.inf if self.cv == 0 else 1.0 / self.cv
        return inverse * inverse

    def ppf(self, u):
        if math.isinf(self.k):
            return _point(self.mean, u)
        return (self.mean / self.k) * special.gammaincinv(self.k, np.asarray(u))

    def length_biased_ppf(self, u):
        if math.isinf(self.k):
            return _point(self.mean, u)
        return (self.mean / self.k) * special.gammaincinv(self.k + 1, np.asarray(u))

    @property
    def expected(self) -> float:
        return self.mean

    @property
    def variance(self) -> float:
        if self.cv is not None:
            return (self.cv * self.mean) ** 2
        return self.mean**2 / self.shape


class Weibull(Distribution):
    """Weibull by ``{mean, shape}`` (shape k, scale = mean / Γ(1 + 1/k)) or ``{mean, cv}``
    (k solved from cv² = Γ(1+2/k)/Γ(1+1/k)² − 1; cv up to 3 × 10^14)."""

    dist: Literal["weibull"] = "weibull"
    mean: _FinitePos
    shape: _FinitePos | None = None
    cv: _CV | None = None
    FORMS: ClassVar[tuple[Form, ...]] = (Form(("mean", "shape"), "shape"), MEAN_CV)

    @model_validator(mode="after")
    def _reachable(self):
        try:
            _ = self.scale  # a cv out of reach raises ValueError here
        except OverflowError:
            raise ValueError(f"shape {self.shape:g} is too small: Γ(1 + 1/shape) overflows (shape must be >= 0.006)") from None
        return self

    @cached_property
    def inverse_shape(self) -> float:
        """1/k (0 at cv 0: a point mass)."""
        return 1 / self.shape if self.shape is not None else weibull_inverse_shape(self.cv)

    @property
    def scale(self) -> float:
        """The Weibull scale λ."""
        return self.mean / math.gamma(1 + self.inverse_shape)

    def ppf(self, u):
        return self.scale * (-np.log1p(-np.asarray(u))) ** self.inverse_shape

    def scalar_ppf(self) -> Callable[[float], float]:
        scale, inv_shape = self.scale, self.inverse_shape
        return lambda u: scale * (-math.log1p(-u)) ** inv_shape

    def length_biased_ppf(self, u):
        # x f(x) ∝ x^k e^{-(x/λ)^k}: (X/λ)^k ~ Gamma(1 + 1/k, 1).
        g = special.gammaincinv(1 + self.inverse_shape, np.asarray(u))
        return self.scale * g**self.inverse_shape

    @property
    def expected(self) -> float:
        return self.mean

    @property
    def variance(self) -> float:
        if self.cv is not None:
            return (self.cv * self.mean) ** 2
        k = self.shape
        return self.scale**2 * (math.gamma(1 + 2 / k) - math.gamma(1 + 1 / k) ** 2)


class Pareto(Distribution):
    """Pareto (type I) by ``{scale, shape}`` (minimum ``scale``, tail index a = ``shape``) or
    ``{mean, cv}`` (a = 1 + √(1 + 1/cv²) > 2, scale = mean (a − 1)/a)."""

    dist: Literal["pareto"] = "pareto"
    scale: _FinitePos | None = None
    shape: _FinitePos | None = None
    mean: _FinitePos | None = None
    cv: _CV | None = None
    FORMS: ClassVar[tuple[Form, ...]] = (
        Form(("scale", "shape"), "shape", "the mean a·scale/(a − 1) falls as the shape grows"),
        MEAN_CV,
    )

    @cached_property
    def scale_shape(self) -> tuple[float, float]:
        """The minimum and the tail index a (inf at cv 0: a point mass at the mean)."""
        if self.cv is None:
            return self.scale, self.shape
        a1 = math.inf if self.cv == 0 else math.hypot(1.0, 1.0 / self.cv)  # a − 1
        a = 1.0 + a1
        return (self.mean if math.isinf(a) else self.mean * a1 / a), a

    def ppf(self, u):
        return _pareto_ppf(*self.scale_shape, u)

    def scalar_ppf(self) -> Callable[[float], float]:
        scale, shape = self.scale_shape
        return lambda u: scale * math.exp(-math.log1p(-u) / shape)

    def length_biased_ppf(self, u):
        scale, shape = self.scale_shape
        if shape <= 1:
            raise ValueError("a Pareto with shape <= 1 has an infinite mean")
        return _pareto_ppf(scale, shape - 1, u)

    @property
    def expected(self) -> float:
        if self.cv is not None:
            return self.mean
        a = self.shape
        return a * self.scale / (a - 1) if a > 1 else math.inf

    @property
    def variance(self) -> float:
        if self.cv is not None:
            return (self.cv * self.mean) ** 2
        a = self.shape
        return self.scale**2 * a / ((a - 1) ** 2 * (a - 2)) if a > 2 else math.inf


def _pareto_ppf(scale: float, shape: float, u):
    return scale * np.exp(-np.log1p(-np.asarray(u)) / shape)  # (1-u)^(-1/a)


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


def _point(value: float, u):
    """``value`` at every ``u``: the draws of a point mass (an array for an array)."""
    return np.full(np.shape(u), value) if np.ndim(u) else value


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
