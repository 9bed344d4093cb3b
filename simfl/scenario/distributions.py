"""Non-negative distributions for heterogeneity: durations, rates and multipliers.

The registry of the distributions a config names with ``dist:`` (:data:`DISTRIBUTIONS`), the
config field types built on it, and the two discrete laws, a constant and a choice of tiers.
The base class is in :mod:`simfl.scenario.distbase` and the continuous laws, each of which may
be given by its mean and coefficient of variation, in :mod:`simfl.scenario.continuous`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Annotated, Any, Callable, ClassVar, Literal

import numpy as np
from pydantic import AfterValidator, BeforeValidator, Field, model_serializer, model_validator

from simfl.scenario.continuous import Exponential, Gamma, HalfNormal, LogNormal, Normal, Pareto, Uniform, Weibull
from simfl.scenario.distbase import Distribution, FiniteNonNeg, FinitePos, point_draws
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
        return point_draws(self.value, u)

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


class Choice(Distribution):
    """One of ``values`` with probabilities ∝ ``weights`` (equal by default): device tiers."""

    dist: Literal["choice"] = "choice"
    values: list[FiniteNonNeg] = Field(min_length=1)
    weights: list[FinitePos] | None = None

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
