"""Uniform selection is uniform: chi-square tests of who gets dispatched.

A selector biased toward low client ids leaves every timing law intact (all clients are
alike there), so only counting who was picked can catch it. Thresholds are p-values of
1e-4 at fixed seeds.
"""

import numpy as np
import pytest
from scipy import stats

from simfl.methods.selectors import Uniform as UniformSelector
from simfl.rng import BlockUniforms
from tests.conftest import dry_run

P_MIN = 1e-4


class FakeSim:
    """What a selector reads from a simulation: busy flags, eligibility, the selection stream."""

    def __init__(self, busy, online=None, seed=0):
        self.busy = np.asarray(busy, dtype=bool)
        self.online = None if online is None else np.asarray(online, dtype=bool)
        self.idle_means_eligible = online is None
        self.selection_stream = BlockUniforms(np.random.default_rng(seed))

    def is_eligible(self, client):
        return bool(self.online[client])

    def reserve(self, client):
        self.busy[client] = True

    def release(self, clients):
        self.busy[list(clients)] = False

    def eligible_mask(self):
        mask = ~self.busy
        if self.online is not None:
            mask &= self.online
        return mask


def _uniform_p_value(picks, allowed):
    """Pearson chi-square p-value of ``picks`` against uniform over ``allowed``."""
    counts = np.array([np.sum(picks == c) for c in allowed])
    assert counts.sum() == len(picks)  # nobody outside ``allowed`` was picked
    return stats.chisquare(counts).pvalue


def _draws(sim, n):
    sel = UniformSelector()
    return np.array([sel.select(sim) for _ in range(n)])


def test_uniform_among_idle_clients_of_an_always_online_population():
    # 5 idle clients out of 100: 0.95^32 ≈ 19 % of picks exhaust the rejection tries and take
    # the fallback draw from the list of eligible clients; both paths must be uniform
    busy = np.ones(100, dtype=bool)
    idle = [0, 13, 50, 77, 99]
    busy[idle] = False
    picks = _draws(FakeSim(busy, seed=1), 20_000)
    assert _uniform_p_value(picks, idle) > P_MIN


def test_uniform_in_the_fallback_path():
    # 2 idle clients out of 1000: (998/1000)^32 ≈ 94 % of picks use the fallback
    busy = np.ones(1000, dtype=bool)
    busy[[3, 900]] = False
    picks = _draws(FakeSim(busy, seed=2), 20_000)
    assert _uniform_p_value(picks, [3, 900]) > P_MIN


def test_uniform_among_online_idle_clients():
    rng = np.random.default_rng(3)
    online = rng.random(60) < 0.5
    busy = rng.random(60) < 0.3
    eligible = np.flatnonzero(online & ~busy)
    assert 10 < eligible.size < 30
    picks = _draws(FakeSim(busy, online, seed=4), 20_000)
    assert _uniform_p_value(picks, eligible) > P_MIN


def test_nobody_eligible():
    assert UniformSelector().select(FakeSim(np.ones(5, dtype=bool))) is None
    assert UniformSelector().select(FakeSim(np.zeros(5, dtype=bool), online=np.zeros(5, dtype=bool))) is None


def test_select_round_picks_distinct_eligible_clients_and_reserves_nothing():
    busy = np.zeros(30, dtype=bool)
    busy[:10] = True
    online = np.ones(30, dtype=bool)
    online[25:] = False
    sim = FakeSim(busy, online, seed=5)
    for _ in range(200):
        chosen = UniformSelector().select_round(sim, 8)
        assert len(set(chosen)) == 8
        assert all(10 <= c < 25 for c in chosen)
    np.testing.assert_array_equal(sim.busy, busy)  # the caller dispatches; nothing stays reserved
    assert sorted(UniformSelector().select_round(sim, 50)) == list(range(10, 25))  # fewer if fewer


@pytest.mark.parametrize("algorithm", [
    {"type": "fedasync", "concurrency": 5},
    {"type": "fedbuff", "concurrency": 5, "buffer_size": 2},
    {"type": "fedavg", "clients_per_round": 5},
])
def test_dispatch_counts_are_uniform_in_a_run(algorithm):
    # Always online, every task exactly 1 s: each second the C = 5 running tasks end together,
    # all n = 20 clients are idle, and C distinct clients are drawn: a uniform C-subset. Over
    # R rounds a client's count has mean R·p (p = C/n) and the counts' covariance is
    # R·p(1−p)·n/(n−1)·(I − 11ᵀ/n), so Σ(O − E)² / (R·p(1−p)·n/(n−1)) is chi-square with n − 1
    # degrees of freedom.
    n, c, rounds = 20, 5, 2000
    res = dry_run(seed=3, data={"num_clients": n}, algorithm=algorithm,
                  stop={"sim_time_s": rounds - 0.5})
    df = res.client_updates
    assert len(df) == rounds * c
    assert (df.groupby("dispatch_time_s").client_id.nunique() == c).all()
    counts = np.bincount(df.client_id, minlength=n)
    p = c / n
    x2 = ((counts - rounds * p) ** 2).sum() / (rounds * p * (1 - p) * n / (n - 1))
    assert stats.chi2.sf(x2, n - 1) > P_MIN, counts
