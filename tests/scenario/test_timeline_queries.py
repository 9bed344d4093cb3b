"""Every timeline query against the client's recomputed intervals (the definition), and the
lazy state of :class:`AlternatingRenewal` against its from-scratch periods.

``is_online``, ``online_mask``, ``online_until`` and ``next_online`` must all say what the
intervals say, for every availability model, at times queried in any order.
"""

import math

import numpy as np
import pytest

from simfl.rng import Purpose, SeedTree
from simfl.scenario.availability import AlwaysAvailable, DiurnalAvailability, OnOffAvailability
from simfl.scenario.distributions import Exponential, Gamma
from simfl.scenario.renewal import AlternatingRenewal

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


def test_diurnal_offsets_are_taken_mod_24_hours():
    tl = DiurnalAvailability(profile=[0.5], day_s=100.0, offset_h=30.0).build(SeedTree(0), 3)
    np.testing.assert_allclose(tl.offset_h, [6.0] * 3)
    np.testing.assert_allclose(tl.offset_s, [25.0] * 3)  # 6 h of a 100 s day


# ------------------------------------------------------------ AlternatingRenewal's lazy state
# Each query method moves the lazy state itself, so each is checked on its own fresh process:
# at increasing times, at exact period boundaries (periods are half-open: at t == end the next
# period has begun) and then in any order (queries from the past restart a client).
# periods(scalar_ppf=True) draws durations exactly as the lazy walk does: exact comparisons.

N, T_END = 12, 300.0


def _renewal():
    return AlternatingRenewal(Exponential(mean=4.0), Gamma(mean=2.0, shape=2.0), SeedTree(3), Purpose.AVAILABILITY, N)


def _reference():
    periods = {c: _renewal().periods(c, 2 * T_END) for c in range(N)}

    def at(c, t):
        """(in_first, end, next_index) of the period of client c containing t."""
        for p, (a, b, s) in enumerate(periods[c]):
            if a <= t < b:
                return s, b, AlternatingRenewal.FIRST_PERIOD + p
        raise AssertionError("beyond the reference horizon")

    return periods, at


def _times(periods):
    rng = np.random.default_rng(0)
    bounds = [b for c in range(4) for _, b, _ in periods[c][:6]]
    forward = np.sort(np.concatenate([rng.uniform(0, T_END, 150), bounds]))
    anyorder = np.concatenate([rng.uniform(0, T_END, 80), bounds])
    rng.shuffle(anyorder)
    return [float(t) for t in np.concatenate([forward, anyorder])]


@pytest.mark.parametrize("method", ["state", "period_end", "period", "next_first"])
def test_each_query_alone_follows_the_periods(method):
    periods, at = _reference()
    r = _renewal()
    for t in _times(periods):
        for c in range(N):
            in_first, end, index = at(c, t)
            if method == "state":
                assert r.state(c, t) == in_first, (c, t)
            elif method == "period_end":
                assert r.period_end(c, t) == end, (c, t)
            elif method == "period":
                assert r.period(c, t) == (in_first, end, index), (c, t)
            else:
                assert r.next_first(c, t) == (t if in_first else end), (c, t)


def test_advance_moves_one_client_to_its_period():
    periods, at = _reference()
    r = _renewal()
    for t in _times(periods):
        c = int(t * 1000) % N
        r.advance(c, t)
        in_first, end, index = at(c, t)
        assert (bool(r.in_first[c]), float(r.end[c]), int(r.next_index[c])) == (in_first, end, index), (c, t)
        assert r.start[c] <= t < r.end[c]


def test_vectorized_states_follow_the_periods():
    periods, at = _reference()
    r = _renewal()
    for t in _times(periods):
        # the vectorized walk draws with the vectorized inverse CDFs: equal up to the last bits,
        # so exact period boundaries are left to the scalar tests
        if any(abs(t - b) < 1e-9 for c in range(N) for _, b, _ in periods[c]):
            continue
        states = r.states(t)
        assert states.tolist() == [at(c, t)[0] for c in range(N)], t
        np.testing.assert_allclose(r.end, [at(c, t)[1] for c in range(N)], rtol=1e-12)
        assert r.next_index.tolist() == [at(c, t)[2] for c in range(N)]


def test_next_period_is_pure():
    periods, _ = _reference()
    r = _renewal()
    c = 5
    in_first, end, j = r.initial_period(c)
    walked = [(0.0, end, in_first)]
    while end < 2 * T_END:
        start = end
        in_first, end, j = r.next_period(c, in_first, end, j)
        walked.append((start, end, in_first))
    assert walked[:-1] == periods[c][:-1]
    assert r.next_index[c] == AlternatingRenewal.FIRST_PERIOD  # the lazy state was not moved
