"""Whole dry runs against timing theory: staleness laws, throughput shares, round times.

Configs are written as in docs/config.md. In the base world (tests/conftest.py) a task computes
for 1 s times its jitter and the network is instantaneous, so ``jitter: {dist: exponential,
mean: 1}`` makes task durations i.i.d. Exp(1). Tolerances are a few standard errors of the
estimated quantity for the sample sizes used.
"""

import math

import numpy as np
import pytest

from tests.conftest import dry_run

EXP1 = {"dist": "exponential", "mean": 1.0}


def harmonic(n: int) -> float:
    return sum(1.0 / i for i in range(1, n + 1))


def arrived(result):
    df = result.client_updates
    return df[df.arrival_time_s.notna()]


@pytest.mark.parametrize("c", [4, 10])
def test_fedasync_staleness_is_geometric(c):
    # C always-busy clients with i.i.d. exponential durations: each arrival comes from a
    # uniformly random client (memorylessness), so P(tau = k) = (1/C)(1 - 1/C)^k, mean C - 1.
    n = 20_000
    res = dry_run(
        data={"num_clients": c},
        heterogeneity={"compute": {"jitter": EXP1}},
        algorithm={"type": "fedasync", "concurrency": c},
        stop={"sim_time_s": None, "client_updates": n},
    )
    tau = arrived(res).staleness.to_numpy(dtype=float)
    p = 1.0 / c
    var = (1 - p) / p**2
    assert tau.mean() == pytest.approx(c - 1, abs=6 * math.sqrt(var / len(tau)))
    for k in range(4):
        pk = p * (1 - p) ** k
        assert np.mean(tau == k) == pytest.approx(pk, abs=5 * math.sqrt(pk * (1 - pk) / len(tau)))


@pytest.mark.parametrize(
    "c, k, jitter",
    [
        (10, 3, {"dist": "lognormal", "mean": 1.0, "sigma": 1.0}),
        (8, 8, {"dist": "uniform", "low": 0.5, "high": 1.5}),
        (6, 1, {"dist": "gamma", "mean": 1.0, "shape": 3.0}),
    ],
)
def test_buffered_mean_staleness_is_c_minus_1_over_k_for_any_law(c, k, jitter):
    # Why (C-1)/K for any duration law: at each server step (the K-th arrival of a buffer)
    # exactly C-1 other tasks are in flight (the replacement is dispatched after the step),
    # and each of them will see that version bump. So the total staleness of arrived updates
    # is (C-1) x steps, minus the bumps seen by tasks still in flight at the stop; with
    # steps = arrivals / K, the mean is (C-1)/K up to that boundary term, checked exactly here.
    res = dry_run(
        data={"num_clients": c},
        heterogeneity={"compute": {"jitter": jitter}},
        algorithm={"type": "fedbuff", "concurrency": c, "buffer_size": k},
        stop={"sim_time_s": None, "client_updates": 5000},
    )
    df = res.client_updates
    steps = len(res.aggregations)
    final_version = int(res.aggregations.server_version.max())
    still_running = df[df.status == "in_flight"]
    unseen = (final_version - still_running.base_version).sum()
    tau = arrived(res).staleness.to_numpy()
    assert tau.sum() == (c - 1) * steps - unseen
    n = len(tau)
    # boundary terms: < K arrivals in a partial buffer, and at most C-1 tasks still running
    bound = (c - 1) / k * (k + (c - 1) * (1 + tau.max())) / n
    assert abs(tau.mean() - (c - 1) / k) <= bound


def test_heterogeneous_rates_share_updates_in_proportion():
    # Always-busy client i finishes Exp(lambda_i) tasks: it is a Poisson process of rate
    # lambda_i, so its share of updates is lambda_i / sum(lambda), count variance ~ count.
    c = 8
    res = dry_run(
        data={"num_clients": c},
        heterogeneity={
            "compute": {"seconds_per_sample": {"dist": "uniform", "low": 0.001, "high": 0.01}, "jitter": EXP1}
        },
        algorithm={"type": "fedasync", "concurrency": c},
        stop={"sim_time_s": None, "client_updates": 40_000},
    )
    clients = res.clients.set_index("client_id")
    # mean duration = 200 samples x seconds_per_sample
    rate = 1.0 / (200 * clients.seconds_per_sample)
    share = rate / rate.sum()
    counts = arrived(res).client_id.value_counts().reindex(clients.index, fill_value=0)
    n = counts.sum()
    for i in clients.index:
        assert counts[i] / n == pytest.approx(share[i], abs=5 * math.sqrt(counts[i]) / n)


def _round_durations(res):
    agg = res.aggregations
    return (agg.sim_time_s - agg.round_start_s).to_numpy()


@pytest.mark.parametrize("k", [1, 5, 10])
def test_fedavg_round_time_is_expected_max(k):
    # A round waits for the slowest of K i.i.d. Exp(mu) tasks: E = H_K / mu,
    # Var = sum_{i<=K} 1 / (i mu)^2 (Renyi's representation of exponential order statistics).
    mu = 1.0
    res = dry_run(
        data={"num_clients": 20},
        heterogeneity={"compute": {"jitter": EXP1}},
        algorithm={"type": "fedavg", "clients_per_round": k},
        stop={"sim_time_s": None, "server_updates": 3000},
    )
    d = _round_durations(res)
    var = sum(1 / (i * mu) ** 2 for i in range(1, k + 1))
    assert d.mean() == pytest.approx(harmonic(k) / mu, abs=5 * math.sqrt(var / len(d)))
    assert (res.aggregations.num_client_updates == k).all()


@pytest.mark.parametrize("k, o, m", [(5, 0.6, 8), (3, 1.0, 6), (10, 0.1, 11)])
def test_fedavg_over_selection_round_time(k, o, m):
    # Selecting M and keeping the first K arrivals ends the round at the K-th order statistic
    # of M Exp(mu): E = (H_M - H_{M-K}) / mu, Var = sum_{i=M-K+1}^{M} 1 / (i mu)^2.
    res = dry_run(
        data={"num_clients": 20},
        heterogeneity={"compute": {"jitter": EXP1}},
        algorithm={"type": "fedavg", "clients_per_round": k, "over_selection": o},
        stop={"sim_time_s": None, "server_updates": 3000},
    )
    d = _round_durations(res)
    var = sum(1 / i**2 for i in range(m - k + 1, m + 1))
    assert d.mean() == pytest.approx(harmonic(m) - harmonic(m - k), abs=5 * math.sqrt(var / len(d)))
    df = res.client_updates
    per_round = df.groupby("round").size()
    assert (per_round.iloc[:-1] == m).all()
    discarded = df[df.status == "discarded_deadline"].groupby("round").size()
    assert (discarded.iloc[:-1] == m - k).all()


def test_fedavg_deadline_keeps_tasks_shorter_than_it():
    # With a deadline D, a task is aggregated iff its Exp(1) duration <= D: P = 1 - e^-D.
    deadline = 0.7
    res = dry_run(
        data={"num_clients": 20},
        heterogeneity={"compute": {"jitter": EXP1}},
        algorithm={"type": "fedavg", "clients_per_round": 10, "deadline_s": deadline},
        stop={"sim_time_s": 2000.0},
    )
    df = res.client_updates
    done = df[df.status.isin(["applied", "discarded_deadline"])]
    p = 1 - math.exp(-deadline)
    frac = (done.status == "applied").mean()
    assert frac == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / len(done)))
    # rounds last exactly the deadline unless every task finished before it
    assert (_round_durations(res) <= deadline + 1e-12).all()
