"""Staleness functions against their definitions (Xie et al. 2019; Nguyen et al. 2022)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simfl.algorithms.staleness import (
    ConstantStaleness,
    ExponentialStaleness,
    HingeStaleness,
    PolynomialStaleness,
)
import simfl.registry as registry


def _staleness_classes():
    """The built-in staleness functions by name, from the registry."""
    return {name: registry.resolve("staleness", name).params for name in registry.names("staleness")}


def test_polynomial_values():
    s = PolynomialStaleness(a=0.5)
    assert s(3) == pytest.approx(0.5)  # (3+1)^-0.5
    assert s(8) == pytest.approx(1 / 3)  # (8+1)^-0.5
    assert s(0) == 1.0


def test_fedbuff_default_is_inverse_sqrt():
    s = PolynomialStaleness()
    taus = np.arange(50)
    np.testing.assert_allclose(s(taus), 1 / np.sqrt(1 + taus))


def test_hinge_values():
    s = HingeStaleness(a=10, b=4)
    assert s(4) == 1.0
    assert s(5) == pytest.approx(1 / 11)  # 1/(10*(5-4)+1)
    assert s(0) == 1.0
    assert s(6) == pytest.approx(1 / 21)


def test_exponential_and_constant_values():
    assert ExponentialStaleness(a=0.3)(4) == pytest.approx(math.exp(-1.2))
    assert ConstantStaleness()(1000) == 1.0


@pytest.mark.parametrize("name", sorted(registry.names("staleness")))
@given(params=st.fixed_dictionaries({"a": st.floats(0, 20), "b": st.floats(0, 50)}), tau=st.integers(0, 10_000))
def test_in_unit_interval_and_non_increasing(name, params, tau):
    cls = _staleness_classes()[name]
    kwargs = {k: v for k, v in params.items() if k in cls.model_fields}
    s = cls(**kwargs)
    assert 0 <= s(tau) <= 1  # e^(-a tau) underflows to 0 for huge a*tau
    assert s(tau + 1) <= s(tau)
    # scalar and vector forms agree
    assert s(np.array([tau]))[0] == pytest.approx(s(tau))
