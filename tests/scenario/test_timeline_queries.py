"""Every timeline query against the client's recomputed intervals (the definition).

``is_online``, ``online_mask``, ``online_until`` and ``next_online`` must all say what the
intervals say, for every availability model, at times queried in any order.
"""

import math

import numpy as np
import pytest

from simfl.rng import SeedTree
from simfl.scenario.availability import AlwaysAvailable, DiurnalAvailability, OnOffAvailability

HORIZON = 400.0
SPECS = {
    "onoff": OnOffAvailability(on_s={"dist": "exponential", "mean": 5.0},
                               off_s={"dist": "gamma", "mean": 3.0, "shape": 2.0}),
    "onoff-constant": OnOffAvailability(on_s=4.0, off_s=2.5),
    "diurnal": DiurnalAvailability(profile=[0.3, 0.8, 0.0, 0.5, 1.0], day_s=50.0),
}


def _expected(intervals, t):
    """(online, end of the online interval containing t, start of the next online interval)."""
    for a, b in intervals:
        if a <= t < b:
            return True, b, t
        if a > t:
            return False, None, a
    return False, None, math.inf


@pytest.mark.parametrize("name", sorted(SPECS))
def test_queries_agree_with_intervals(name):
    n = 30
    reference = SPECS[name].build(SeedTree(5), n)
    intervals = {c: reference.intervals(c, 2 * HORIZON) for c in range(n)}
    tl = SPECS[name].build(SeedTree(5), n)
    rng = np.random.default_rng(1)
    times = np.concatenate([np.sort(rng.uniform(0, HORIZON, 120)), rng.uniform(0, HORIZON, 60)])  # then any order
    # the ends of some intervals too: online periods are half-open [start, end)
    times = np.concatenate([times, [b for c in range(3) for _, b in intervals[c][:3]]])
    checked_offline = 0
    for t in times:
        t = float(t)
        mask = tl.online_mask(t)
        for c in range(n):
            online, end, nxt = _expected(intervals[c], t)
            assert tl.is_online(c, t) == online == mask[c], (c, t)
            if online:
                if end < 2 * HORIZON:
                    assert tl.online_until(c, t) == pytest.approx(end, abs=1e-9)
                assert tl.next_online(np.array([c]), t)[0] == t
            elif nxt < 2 * HORIZON:
                assert tl.next_online(np.array([c]), t)[0] == pytest.approx(nxt, abs=1e-9), (c, t)
                checked_offline += 1
    assert checked_offline > 500
    # vectorized next_online over several clients at once
    t = 123.4
    got = tl.next_online(np.arange(n), t)
    want = [_expected(intervals[c], t)[2] for c in range(n)]
    np.testing.assert_allclose(got, want, atol=1e-9)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_stationary_online_probability(name):
    spec = SPECS[name]
    tl = spec.build(SeedTree(0), 7)
    if name == "diurnal":
        p = np.mean(spec.profile)
    else:
        p = spec.on_s.expected / (spec.on_s.expected + spec.off_s.expected)
    np.testing.assert_allclose(tl.stationary_online_probability(), np.full(7, p), rtol=1e-15)


def test_always_available_queries():
    tl = AlwaysAvailable().build(SeedTree(0), 4)
    assert tl.always_online
    assert tl.is_online(3, 17.0)
    mask = tl.online_mask(2.0)
    assert mask.dtype == bool and mask.tolist() == [True] * 4
    assert tl.online_until(1, 5.0) == math.inf
    assert tl.next_online(np.array([0, 2]), 9.5).tolist() == [9.5, 9.5]
    assert tl.stationary_online_probability().tolist() == [1.0] * 4
    assert tl.intervals(2, 30.0) == [(0.0, 30.0)]
