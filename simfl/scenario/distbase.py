"""The base of every distribution: the extension point, its forms, and shared draw helpers.

Every distribution is a small frozen, validated class written in YAML as ``{dist: NAME, ...}``
(a bare number is a constant). Each one draws by its inverse CDF, ``ppf(u)``, from uniforms
of the seed tree (:mod:`simfl.rng`), carries its analytic ``expected`` value and ``variance``
(``inf`` when infinite, ``nan`` when there is no closed form), and knows the inverse CDF of
its *length-biased* version, ``x f(x) / E[X]``, which an alternating renewal process needs to
start in stationarity.

A law may be written in several forms (:mod:`simfl.scenario.spread`): its own parameters, or,
for every law with a free spread, ``{mean, cv}``. A mapping gives exactly one form, and its
config (and repr) is the form it was written in.

Analytic moments are called ``expected``/``variance`` rather than ``mean`` because ``mean`` is
a parameter name of several distributions in the public config contract.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Callable, ClassVar

import numpy as np
from pydantic import ConfigDict, Field, model_serializer, model_validator

from simfl.scenario.spread import Form, form_of
from simfl.strict import StrictModel

__all__ = ["Distribution", "point_draws", "std_normal_pdf", "bisect_cdf", "FiniteNonNeg", "FinitePos", "CV"]

FiniteNonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
FinitePos = Annotated[float, Field(gt=0, allow_inf_nan=False)]
#: A coefficient of variation: standard deviation / mean (0: a point mass).
CV = Annotated[float, Field(ge=0, allow_inf_nan=False, description="coefficient of variation: std / mean")]


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


def point_draws(value: float, u):
    """``value`` at every ``u``: the draws of a point mass (an array for an array)."""
    return np.full(np.shape(u), value) if np.ndim(u) else value


def std_normal_pdf(x: float) -> float:
    """φ(x), the standard normal density."""
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def bisect_cdf(cdf, u: np.ndarray, hi: float, iters: int = 80) -> np.ndarray:
    """Vectorized inversion of a continuous increasing ``cdf`` on [0, hi]."""
    lo_arr = np.zeros_like(u)
    hi_arr = np.full_like(u, hi)
    for _ in range(iters):
        mid = 0.5 * (lo_arr + hi_arr)
        below = cdf(mid) < u
        lo_arr = np.where(below, mid, lo_arr)
        hi_arr = np.where(below, hi_arr, mid)
    return 0.5 * (lo_arr + hi_arr)
