"""Weighted sampling without replacement (Efraimidis & Spirakis 2006) against its definition."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from simfl.algorithms.sampling import weighted_sample_without_replacement


@given(data=st.data(), n=st.integers(1, 12), k=st.integers(1, 15))
def test_picks_are_the_k_largest_keys_in_decreasing_order(data, n, k):
    # keys log(u_i)/w_i: the sample is the min(k, n) largest keys, largest first
    w = np.array(data.draw(st.lists(st.floats(0.01, 100), min_size=n, max_size=n)))
    u = np.array(data.draw(st.lists(st.floats(1e-9, 1 - 1e-9), min_size=n, max_size=n)))
    picks = weighted_sample_without_replacement(w, k, u)
    keys = np.log(u) / w
    assert len(picks) == min(k, n) == len(set(picks.tolist()))
    assert np.all(np.diff(keys[picks]) <= 0)
    rest = np.setdiff1d(np.arange(n), picks)
    if rest.size:
        assert keys[picks].min() >= keys[rest].max()


def test_definition_on_many_larger_samples():
    # numpy's partial sort is exact on small arrays whatever its pivot argument: larger ones
    # are needed to see a wrong pivot
    rng = np.random.default_rng(0)
    for _ in range(3000):
        n = int(rng.integers(2, 300))
        k = int(rng.integers(1, n))
        w, u = rng.uniform(0.1, 10, n), rng.random(n)
        keys = np.log(u) / w
        picks = weighted_sample_without_replacement(w, k, u)
        np.testing.assert_array_equal(picks, np.argsort(-keys, kind="stable")[:k])


def test_by_hand():
    w = np.array([1.0, 2.0, 4.0, 1.0])
    u = np.array([0.5, 0.25, 0.9, 0.99])
    # keys: log(.5) = −0.693, log(.25)/2 = −0.693, log(.9)/4 = −0.026, log(.99) = −0.010
    assert weighted_sample_without_replacement(w, 2, u).tolist() == [3, 2]
    assert weighted_sample_without_replacement(w, 1, u).tolist() == [3]
    assert weighted_sample_without_replacement(w, 9, u)[:2].tolist() == [3, 2]
