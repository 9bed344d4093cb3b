"""Common random numbers are per client: the jitter of client c's k-th task is its own draw.

The CRN tests elsewhere check that a client's k-th jitter is the same whichever algorithm
runs; a world where every client got the *same* jitter sequence passes them. Here the
sequences of different clients must be independent: uncorrelated pairwise, with the spread of
a per-task average over clients that independence gives (σ²/n), and no value shared.
"""

import math

import numpy as np
import pytest

from simfl.rng import SeedTree
from simfl.scenario.availability import AlwaysAvailable
from simfl.scenario.distributions import Uniform
from simfl.scenario.population import Population
from tests.conftest import dry_run

#: jitter ~ uniform(0.5, 1.5): mean 1, variance 1/12
LOW, HIGH = 0.5, 1.5
VAR = (HIGH - LOW) ** 2 / 12


def _check_independent_rows(j: np.ndarray) -> None:
    """Rows of ``j`` (clients × tasks) are independent sequences of iid uniform(LOW, HIGH)."""
    n, k = j.shape
    # 1. no value appears twice: no client replays another's stream, shifted or not
    assert np.unique(j).size == j.size
    # 2. pairwise correlation across clients, over the task index, is 0 ± 4.5/√k for every pair;
    #    lag-1 correlation within a client too (the k-th and (k+1)-th draws are independent)
    r = np.corrcoef(j)
    pairs = r[np.triu_indices(n, 1)]
    assert np.abs(pairs).max() < 4.5 / math.sqrt(k), np.abs(pairs).max()
    # the mean over the n(n−1)/2 pairs: sd 1/√(k · pairs) (pairwise uncorrelated estimates)
    assert abs(pairs.mean()) < 4 / math.sqrt(k * pairs.size)
    lag1 = np.array([np.corrcoef(row[:-1], row[1:])[0, 1] for row in j])
    assert np.abs(lag1).max() < 4.5 / math.sqrt(k)
    # 3. the per-task average over clients has variance σ²/n (σ² if every client shared the draw);
    #    the sample variance of k such means has relative sd ≈ √(2/(k−1)) (the means are near normal)
    means = j.mean(axis=0)
    assert means.var(ddof=1) / (VAR / n) == pytest.approx(1.0, abs=4 * math.sqrt(2 / (k - 1)))
    # 4. each client's draws have the law's mean and variance
    assert abs(j.mean() - 1.0) < 4 * math.sqrt(VAR / j.size)


def test_population_jitter_streams_are_independent_across_clients():
    n, k = 200, 300
    tree = SeedTree(11)
    pop = Population(
        num_samples=np.full(n, 10), seconds_per_sample=np.ones(n), latency_s=np.zeros(n),
        down_mbps=np.full(n, np.inf), up_mbps=np.full(n, np.inf), jitter=Uniform(low=LOW, high=HIGH),
        timeline=AlwaysAvailable().build(tree, n), tree=tree,
    )
    jitter = pop.jitter_function()
    j = np.array([[jitter(c, t) for t in range(k)] for c in range(n)])
    _check_independent_rows(j)
    assert jitter(3, 7) == pop.jitter_of(3, 7)


def test_engine_dispatches_each_client_its_own_jitter():
    # concurrency = population: a client is re-dispatched the moment its task ends, so each of
    # the 12 clients runs a few hundred tasks; compute_s / (samples · seconds_per_sample) is its
    # k-th jitter, read back from the task table.
    res = dry_run(
        seed=4,
        data={"num_clients": 12, "partition": "iid"},
        heterogeneity={"compute": {"jitter": {"dist": "uniform", "low": LOW, "high": HIGH}}},
        algorithm={"type": "fedasync", "concurrency": 12},
        stop={"sim_time_s": 500.0},
    )
    df = res.client_updates
    clients = res.clients.set_index("client_id")
    base = 20 * np.minimum(10, clients.num_samples) * clients.seconds_per_sample  # samples · s/sample
    df = df.assign(jitter=df.compute_s / base.loc[df.client_id].to_numpy())
    k = int(df.groupby("client_id").size().min())
    assert k > 300
    j = np.array([g.sort_values("task_index").jitter.to_numpy()[:k] for _, g in df.groupby("client_id")])
    assert np.array_equal(np.sort(df.client_id.unique()), np.arange(12))
    _check_independent_rows(j)
