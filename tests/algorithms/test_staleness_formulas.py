"""Every staleness function at several parameter values against its closed form.

Both call paths are checked: a Python ``int`` (the per-arrival hot path of the engine) and an
array (vectorized). A function that ignores a parameter (e.g. the polynomial always using
a = 0.5, the FedBuff default) fails at every other value.
"""

import math

import numpy as np
import pytest

from simfl.algorithms.staleness import (
    ConstantStaleness,
    ExponentialStaleness,
    HingeStaleness,
    PolynomialStaleness,
)
import simfl.registry as registry

TAUS = [0, 1, 2, 3, 5, 8, 17, 100, 1000]


def _check(s, formula):
    for tau in TAUS:
        assert isinstance(tau, int)
        assert type(s(tau)) is float  # the engine's per-arrival path: a Python float, no array
        assert s(tau) == pytest.approx(formula(tau), rel=1e-13, abs=0), tau
    vector = s(np.array(TAUS))
    assert vector.shape == (len(TAUS),)
    np.testing.assert_allclose(vector, [formula(t) for t in TAUS], rtol=1e-13, atol=0)


@pytest.mark.parametrize("a", [0.0, 0.25, 0.5, 1.0, 2.0, 3.7])
def test_polynomial(a):
    _check(PolynomialStaleness(a=a), lambda t: (t + 1.0) ** -a)


def test_polynomial_default_is_inverse_square_root():
    assert PolynomialStaleness().a == 0.5
    _check(PolynomialStaleness(), lambda t: 1 / math.sqrt(1 + t))


# (2, 2.5) and (1, 1) put a(τ − b) + 1 = 0 at a τ ≤ b: the vectorized form evaluates both
# branches of np.where, so numpy warns about a division it then discards.
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.parametrize("a, b", [(10.0, 4.0), (0.5, 0.0), (2.0, 2.5), (0.0, 3.0), (3.0, 7.0), (1.0, 1.0)])
def test_hinge(a, b):
    _check(HingeStaleness(a=a, b=b), lambda t: 1.0 if t <= b else 1.0 / (a * (t - b) + 1.0))


def test_hinge_boundary_is_inclusive():
    s = HingeStaleness(a=2.0, b=3.0)
    assert s(3) == 1.0 and s(np.array([3]))[0] == 1.0  # τ = b: full weight
    assert s(4) == pytest.approx(1 / 3) and s(np.array([4]))[0] == pytest.approx(1 / 3)


def test_hinge_defaults():
    s = HingeStaleness()
    assert (s.a, s.b) == (10.0, 4.0)


@pytest.mark.parametrize("a", [0.0, 0.1, 0.5, 1.0, 2.5])
def test_exponential(a):
    _check(ExponentialStaleness(a=a), lambda t: math.exp(-a * t))


def test_exponential_default():
    assert ExponentialStaleness().a == 0.5


def test_constant():
    _check(ConstantStaleness(), lambda t: 1.0)
    assert ConstantStaleness()(np.zeros((2, 3), dtype=int)).shape == (2, 3)


def test_registry_names_every_function():
    assert {name: registry.resolve("staleness", name).params for name in registry.names("staleness")} == {
        "constant": ConstantStaleness,
        "polynomial": PolynomialStaleness,
        "hinge": HingeStaleness,
        "exponential": ExponentialStaleness,
    }
