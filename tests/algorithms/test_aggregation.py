"""The aggregation functions on their own: hand values, definitions as properties, purity."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simfl.algorithms.aggregation import (
    Accumulator,
    accumulate,
    accumulate_init,
    accumulated_mean,
    fedat_tier_weights,
    mix,
    weighted_average,
)
from simfl.algorithms.optim import apply_update

FINITE = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


def vectors(n=3):
    return arrays(np.float64, n, elements=FINITE)


# ------------------------------------------------------------------------ mix

def test_mix_by_hand():
    x, xc = np.array([1.0, -2.0, 4.0]), np.array([3.0, 2.0, 0.0])
    np.testing.assert_allclose(mix(x, xc, 0.25), [1.5, -1.0, 3.0], rtol=0, atol=1e-15)  # 0.75 x + 0.25 xc
    np.testing.assert_array_equal(mix(x, xc, 0.0), x)
    np.testing.assert_array_equal(mix(x, xc, 1.0), xc)


@given(x=vectors(), xc=vectors(), w=st.floats(0, 1))
def test_mix_is_the_convex_combination(x, xc, w):
    x0, xc0 = x.copy(), xc.copy()
    out = mix(x, xc, w)
    np.testing.assert_allclose(out, (1 - w) * x + w * xc, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(x, x0)  # inputs untouched
    np.testing.assert_array_equal(xc, xc0)
    assert out is not x


def test_mix_keeps_float32():
    x = np.ones(3, dtype=np.float32)
    assert mix(x, np.zeros(3, dtype=np.float32), 0.5).dtype == np.float32


# ------------------------------------------------------------- weighted_average

def test_weighted_average_by_hand():
    v = [np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([1.0, 1.0])]
    # (10 v0 + 30 v1 + 60 v2) / 100
    np.testing.assert_allclose(weighted_average(v, [10, 30, 60]), [0.7, 0.9], rtol=1e-15)
    np.testing.assert_allclose(weighted_average(v, [1, 1, 1]), [2 / 3, 2 / 3], rtol=1e-15)
    np.testing.assert_allclose(weighted_average(v[:2], [3, 1]), [0.75, 0.25], rtol=1e-15)
    # a zero weight ignores its vector
    np.testing.assert_allclose(weighted_average(v, [0, 1, 0]), v[1], rtol=0)


@given(data=st.data(), k=st.integers(1, 6))
def test_weighted_average_is_sum_w_v_over_sum_w(data, k):
    vs = [data.draw(vectors()) for _ in range(k)]
    w = data.draw(st.lists(st.floats(0.01, 100), min_size=k, max_size=k))
    copies = [v.copy() for v in vs]
    out = weighted_average(vs, w)
    expected = sum(wk * v for wk, v in zip(w, vs)) / sum(w)
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9)
    # scaling every weight changes nothing
    np.testing.assert_allclose(weighted_average(vs, [7.5 * x for x in w]), out, rtol=1e-12, atol=1e-12)
    for v, c in zip(vs, copies):
        np.testing.assert_array_equal(v, c)  # inputs untouched
    assert all(out is not v for v in vs)


def test_weighted_average_of_one_vector_is_that_vector():
    v = np.array([1.5, -2.25])
    np.testing.assert_array_equal(weighted_average([v], [17]), v)


@pytest.mark.parametrize("weights", [[], [0.0, 0.0], [1.0, -1.0], [-2.0]])
def test_weighted_average_needs_a_positive_total(weights):
    v = [np.ones(2) for _ in weights] or [np.ones(2)]
    with pytest.raises(ValueError, match="^weighted_average needs at least one positive weight$"):
        weighted_average(v, weights)


def test_weighted_average_keeps_float32():
    v = [np.ones(2, dtype=np.float32), np.zeros(2, dtype=np.float32)]
    out = weighted_average(v, np.array([1, 3], dtype=np.int64))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [0.25, 0.25])


# ----------------------------------------------------------------- accumulator

def test_accumulator_by_hand():
    acc = accumulate_init(np.zeros(2))
    assert acc.weight_sum == 0.0 and acc.count == 0
    np.testing.assert_array_equal(acc.total, [0.0, 0.0])
    acc = accumulate(acc, np.array([1.0, 2.0]), 0.5)
    acc = accumulate(acc, np.array([-4.0, 2.0]), 0.25)
    np.testing.assert_allclose(acc.total, [0.5 - 1.0, 1.0 + 0.5], rtol=0)  # Σ w v
    assert acc.weight_sum == 0.75 and acc.count == 2
    # FedBuff's mean(buffer) of already-weighted entries divides by the count, not by Σ w
    np.testing.assert_allclose(accumulated_mean(acc), [-0.25, 0.75], rtol=0)


@given(data=st.data(), k=st.integers(1, 6))
def test_accumulate_sums_weighted_vectors(data, k):
    vs = [data.draw(vectors()) for _ in range(k)]
    w = data.draw(st.lists(st.floats(0, 10), min_size=k, max_size=k))
    like = np.full(3, 123.0)
    acc = accumulate_init(like)
    for v, wk in zip(vs, w):
        before = acc
        acc = accumulate(acc, v, wk)
        assert before.count == acc.count - 1  # a new state, the old one untouched
    np.testing.assert_array_equal(like, 123.0)
    np.testing.assert_allclose(acc.total, sum(wk * v for wk, v in zip(w, vs)), rtol=1e-9, atol=1e-9)
    assert acc.weight_sum == pytest.approx(sum(w))
    assert acc.count == k
    np.testing.assert_allclose(accumulated_mean(acc), acc.total / k, rtol=1e-15)


def test_accumulate_init_is_zeros_shaped_like():
    like = np.arange(6, dtype=np.float32).reshape(2, 3)
    acc = accumulate_init(like)
    assert isinstance(acc, Accumulator)
    assert acc.total.shape == (2, 3) and acc.total.dtype == np.float32
    assert not acc.total.any()


def test_accumulated_mean_of_nothing_raises():
    with pytest.raises(ValueError, match="^the accumulator is empty$"):
        accumulated_mean(accumulate_init(np.zeros(2)))


# --------------------------------------------------------------- FedAT weights

def test_fedat_tier_weights_by_hand():
    # T_{M+1−m} / T: the counts mirrored
    np.testing.assert_allclose(fedat_tier_weights([5, 3, 2]), [0.2, 0.3, 0.5], rtol=1e-15)
    np.testing.assert_allclose(fedat_tier_weights([1, 0]), [0.0, 1.0], rtol=0)
    np.testing.assert_allclose(fedat_tier_weights([3, 1]), [0.25, 0.75], rtol=1e-15)
    np.testing.assert_allclose(fedat_tier_weights([0, 0, 0, 0]), [0.25] * 4, rtol=0)
    np.testing.assert_allclose(fedat_tier_weights([4]), [1.0], rtol=0)


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=8))
def test_fedat_tier_weights_mirror_and_sum_to_one(counts):
    w = fedat_tier_weights(counts)
    assert w.sum() == pytest.approx(1.0)
    assert (w >= 0).all()
    if sum(counts):
        np.testing.assert_allclose(w, np.array(counts[::-1]) / sum(counts), rtol=1e-15)
    else:
        np.testing.assert_allclose(w, 1 / len(counts), rtol=0)


# ------------------------------------------------------------------ apply_update

def test_apply_update_adds_in_the_params_dtype():
    p = np.array([1.0, 2.0], dtype=np.float32)
    u = np.array([0.5, -3.0], dtype=np.float64)
    out = apply_update(p, u)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([1.5, -1.0], dtype=np.float32))
    np.testing.assert_array_equal(p, np.array([1.0, 2.0], dtype=np.float32))  # a new array
    assert out is not p


@given(p=vectors(), u=vectors())
def test_apply_update_is_params_plus_update(p, u):
    p0 = p.copy()
    np.testing.assert_array_equal(apply_update(p, u), p0 + u)
    np.testing.assert_array_equal(p, p0)
