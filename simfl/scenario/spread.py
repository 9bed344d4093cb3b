"""A distribution given by its mean and coefficient of variation: forms and solvers.

A distribution in a config is written in one of a few *forms*, each a set of keys: its own
parameters (``{median, sigma}``, ``{mean, shape}``, ``{scale, shape}``, ...) or, for every
law with a free spread, ``{mean, cv}`` (``cv`` = standard deviation / mean). A form also says
what a sweep of its spread key holds fixed: the other keys of the form. ``{mean, cv}`` holds
the mean, so a sweep over ``cv`` varies the spread of the population alone, while
``{median, sigma}`` of a lognormal holds the median (its mean grows as e^{σ²/2}).

Where (mean, cv) → the law's own parameters has no closed form, this module solves it:
the Weibull shape (:func:`weibull_inverse_shape`) and the location and scale of a normal
truncated at 0 (:func:`truncated_normal_location_scale`). Both equations are monotone in one
unknown and solved by Brent's method on a bracket that holds every reachable cv; a cv
outside it is a one-line :class:`ValueError` saying the allowed range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from scipy import optimize, special

__all__ = [
    "Form",
    "MEAN_CV",
    "form_of",
    "forms_text",
    "weibull_inverse_shape",
    "weibull_cv",
    "WEIBULL_MAX_CV",
    "truncated_normal_location_scale",
    "truncated_normal_cv",
    "TRUNCATED_NORMAL_MAX_CV",
]


@dataclass(frozen=True)
class Form:
    """One way to write a distribution's parameters.

    Attributes:
        keys: the keys of the form, in the order they are written.
        spread: the key that sets the spread (None: the form has no free spread).
        note: what else a reader of a sweep over ``spread`` must know (e.g. that the mean moves).
    """

    keys: tuple[str, ...]
    spread: str | None = None
    note: str = ""

    @property
    def text(self) -> str:
        """``{mean, cv}``."""
        return "{" + ", ".join(self.keys) + "}"

    def held_fixed(self, key: str) -> tuple[str, ...]:
        """The keys a sweep of ``key`` alone holds fixed: the other keys of the form."""
        return tuple(k for k in self.keys if k != key)


#: The mean-and-CV form (every law with a free spread has it).
MEAN_CV = Form(("mean", "cv"), "cv")


def forms_text(forms: Sequence[Form]) -> str:
    """``{mean, shape} or {mean, cv}``."""
    texts = [f.text for f in forms]
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " or " + texts[-1]


def form_of(dist: str, forms: Sequence[Form], data: Mapping[str, object], known: Iterable[str]) -> Form:
    """The form a mapping is written in (keys with a null value count as absent).

    Args:
        dist: the distribution's name (for the message).
        forms: the forms it allows.
        data: the mapping (its ``dist`` key is ignored).
        known: the distribution's parameter names (other keys are left to the unknown-key check).

    Raises:
        ValueError: the keys match no form (one line naming the keys given and the forms allowed).
    """
    known = [k for k in known if k != "dist"]
    given = [k for k in known if data.get(k) is not None]
    for form in forms:
        if set(given) == set(form.keys):
            return form
    got = "{" + ", ".join(given) + "}"
    raise ValueError(f"{dist} takes exactly one of {forms_text(forms)}; got {got}")


# ------------------------------------------------------------------ Weibull
#: Largest 1/k the solver reaches (shape k ≥ 0.02): the cv is then about 3 × 10^14.
_WEIBULL_MAX_INVERSE_SHAPE = 50.0
#: Below this 1/k the series of ln Γ replaces the difference of two log-gammas (cancellation).
_SERIES_BELOW = 0.01
#: Coefficients c_n of ln(1 + cv²) = Σ_{n≥2} c_n x^n, x = 1/k, from ln Γ(1+x) = −γx + Σ (−1)^n ζ(n) x^n / n.
_SERIES = tuple((-1) ** n * float(special.zeta(n, 1)) * (2**n - 2) / n for n in range(2, 16))


def _weibull_log_cv(x: float) -> float:
    """ln cv of a Weibull with shape 1/x (x > 0): cv² = Γ(1+2x)/Γ(1+x)² − 1, increasing in x."""
    if x < _SERIES_BELOW:
        s = sum(c * x ** (n - 2) for n, c in enumerate(_SERIES, start=2))  # ln(1 + cv²) / x²
        d = x * x * s
        ratio = math.expm1(d) / d if d > 0 else 1.0  # cv² = x² s (e^d − 1)/d
        return math.log(x) + 0.5 * (math.log(s) + math.log(ratio))
    return 0.5 * math.log(math.expm1(special.gammaln(1 + 2 * x) - 2 * special.gammaln(1 + x)))


def weibull_cv(shape: float) -> float:
    """The coefficient of variation of a Weibull with shape ``k``: √(Γ(1+2/k)/Γ(1+1/k)² − 1)."""
    return math.exp(_weibull_log_cv(1.0 / shape))


#: Largest cv a Weibull reaches here (shape 0.02).
WEIBULL_MAX_CV = math.exp(_weibull_log_cv(_WEIBULL_MAX_INVERSE_SHAPE))
#: Below this cv, 1/k = cv·√6/π to double precision (the next term is O(cv) relative).
_WEIBULL_LINEAR_BELOW = 1e-17


def weibull_inverse_shape(cv: float) -> float:
    """1/k of the Weibull with coefficient of variation ``cv`` (0 for cv 0: a point mass).

    Raises:
        ValueError: ``cv`` above :data:`WEIBULL_MAX_CV`.
    """
    if cv == 0:
        return 0.0
    if cv > WEIBULL_MAX_CV:
        raise ValueError(f"cv {cv:g} is beyond a Weibull's reach here: cv must be <= {WEIBULL_MAX_CV:.3g} (shape >= 0.02)")
    if cv < _WEIBULL_LINEAR_BELOW:
        return cv * math.sqrt(6.0) / math.pi
    target = math.log(cv)
    lo, hi = math.log(_WEIBULL_LINEAR_BELOW / 2), math.log(_WEIBULL_MAX_INVERSE_SHAPE)
    y = optimize.brentq(lambda y: _weibull_log_cv(math.exp(y)) - target, lo, hi, xtol=1e-15, rtol=4 * 2.0**-52)
    return math.exp(y)


# ------------------------------------------------------------------ normal truncated at 0
#: Lowest location/scale ratio t the solver reaches: the cv is then 0.9989 (1 only as t → −∞).
_NORMAL_MIN_RATIO = -30.0


def _inverse_mills(alpha: float) -> float:
    """φ(α)/(1 − Φ(α)), stable in both tails."""
    return math.sqrt(2.0 / math.pi) / float(special.erfcx(alpha / math.sqrt(2.0)))


def _truncated_moments(t: float) -> tuple[float, float]:
    """Mean and variance of N(t, 1) truncated to [0, ∞)."""
    lam = _inverse_mills(-t)
    return t + lam, 1.0 - t * lam - lam * lam


def truncated_normal_cv(t: float) -> float:
    """The cv of N(t·s, s²) truncated to [0, ∞) (any s > 0): decreasing in t, from 1 to 0."""
    mean, var = _truncated_moments(t)
    return math.sqrt(max(var, 0.0)) / mean


#: Largest cv the solver reaches (location −30 scales).
TRUNCATED_NORMAL_MAX_CV = truncated_normal_cv(_NORMAL_MIN_RATIO)


def truncated_normal_location_scale(mean: float, cv: float) -> tuple[float, float]:
    """Location and scale of the normal whose truncation to [0, ∞) has this mean and cv.

    The location is negative for cv above √(π/2 − 1) ≈ 0.756 (the half-normal's cv).

    Raises:
        ValueError: ``cv`` at or above :data:`TRUNCATED_NORMAL_MAX_CV` (a truncated normal has cv < 1).
    """
    if cv == 0:
        return mean, 0.0
    if cv >= TRUNCATED_NORMAL_MAX_CV:
        raise ValueError(f"cv {cv:g} is beyond a normal truncated at 0: cv must be < 1 "
                         f"(here < {TRUNCATED_NORMAL_MAX_CV:.4f})")
    target = math.log(cv)
    hi = 2.0 / cv + 1.0  # cv(t) < 1/t for t > 0, so the root is below
    t = optimize.brentq(lambda t: math.log(truncated_normal_cv(t)) - target, _NORMAL_MIN_RATIO, hi,
                        xtol=1e-300, rtol=4 * 2.0**-52)
    scale = mean / _truncated_moments(t)[0]
    return t * scale, scale
