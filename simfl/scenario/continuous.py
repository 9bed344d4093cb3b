"""The continuous laws: uniform, normal (truncated at 0), half-normal, exponential, lognormal,
gamma, Weibull and Pareto, each in its forms (:mod:`simfl.scenario.spread`).

In a ``{mean, cv}`` form ``expected`` is the mean and ``variance`` is (cv·mean)², and ``cv: 0``
is a point mass at the mean (every draw is the mean, exactly). The laws' own forms draw what
they drew before the ``{mean, cv}`` forms existed, bit for bit.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Callable, ClassVar, Literal

import numpy as np
from pydantic import model_validator
from scipy import special

from simfl.scenario.distbase import CV, Distribution, FiniteNonNeg, FinitePos, bisect_cdf, point_draws, std_normal_pdf
from simfl.scenario.spread import MEAN_CV, Form, truncated_normal_location_scale, weibull_inverse_shape

__all__ = ["Uniform", "Normal", "HalfNormal", "Exponential", "LogNormal", "Gamma", "Weibull", "Pareto"]


class Uniform(Distribution):
    """Uniform on ``[low, high]``, or by ``{mean, cv}`` (half-width √3·cv·mean; cv ≤ 1/√3 keeps draws ≥ 0)."""

    dist: Literal["uniform"] = "uniform"
    low: FiniteNonNeg | None = None
    high: FiniteNonNeg | None = None
    mean: FinitePos | None = None
    cv: CV | None = None
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
    mean: FiniteNonNeg
    std: FinitePos | None = None
    cv: CV | None = None
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
            return point_draws(self.mean, u)
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
            return point_draws(self.mean, u)
        return bisect_cdf(self._length_biased_cdf, np.asarray(u, dtype=float), m + 40 * s)

    def _inverse_mills(self) -> tuple[float, float]:
        alpha = -self.mean / self.std
        return alpha, std_normal_pdf(alpha) / (1 - float(special.ndtr(alpha)))

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
    std: FinitePos | None = None
    mean: FinitePos | None = None
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
    mean: FinitePos

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
    mean: FinitePos | None = None
    median: FinitePos | None = None
    sigma: FiniteNonNeg | None = None
    cv: CV | None = None
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
    mean: FinitePos
    shape: FinitePos | None = None
    cv: CV | None = None
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
            return point_draws(self.mean, u)
        return (self.mean / self.k) * special.gammaincinv(self.k, np.asarray(u))

    def length_biased_ppf(self, u):
        if math.isinf(self.k):
            return point_draws(self.mean, u)
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
    mean: FinitePos
    shape: FinitePos | None = None
    cv: CV | None = None
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
    scale: FinitePos | None = None
    shape: FinitePos | None = None
    mean: FinitePos | None = None
    cv: CV | None = None
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
