"""Partitioners: disjoint covers, iid sizes, label skew (dirichlet, shards), quantity skew."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import chi2

from simfl.data import (
    Partition,
    natural_partition,
    partition_dirichlet,
    partition_iid,
    partition_shards,
    quantity_weights,
)
from simfl.data import partition as partition_module
from simfl.data.digits import load_digits_arrays
from simfl.data.partition import apportion, iid_sizes
from simfl.errors import DataError
from simfl.rng import Purpose, SeedTree

TREE = SeedTree(3)


def rng(key: int = 0) -> np.random.Generator:
    return TREE.generator(Purpose.PARTITION, 10_000 + key)


def assert_disjoint_cover(part: Partition, n: int, num_clients: int) -> None:
    assert part.order.dtype == np.int64 and part.offsets.dtype == np.int64
    assert len(part.offsets) == num_clients + 1 and part.offsets[0] == 0 and part.offsets[-1] == n
    assert np.all(np.diff(part.offsets) >= 1)  # every client gets a sample
    np.testing.assert_array_equal(np.sort(part.order), np.arange(n))


def cv(sizes: np.ndarray) -> float:
    return float(np.std(sizes) / np.mean(sizes))


# ------------------------------------------------------------------------- property
@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    labels=st.lists(st.integers(0, 9), min_size=1, max_size=400),
    num_clients=st.integers(1, 40),
    kind=st.sampled_from(["iid", "dirichlet", "shards"]),
    skew=st.sampled_from([None, 0.5, 2.0]),
    alpha=st.sampled_from([0.1, 1.0, 50.0]),
    shards_per_client=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_partition_is_a_disjoint_cover_or_a_clear_error(
    labels, num_clients, kind, skew, alpha, shards_per_client, seed
) -> None:
    labels = np.array(labels)
    n = len(labels)
    tree = SeedTree(seed)
    weights = None if skew is None else quantity_weights(tree, num_clients, skew)
    g = tree.generator(Purpose.PARTITION)
    try:
        if kind == "iid":
            part = partition_iid(labels, num_clients, g, weights)
        elif kind == "dirichlet":
            part = partition_dirichlet(labels, num_clients, alpha, g, weights)
        else:
            part = partition_shards(labels, num_clients, shards_per_client, g, weights)
    except DataError as e:
        # Only legitimate when the pool is too small for the partition's minimum per client.
        minimum = {"iid": 1 if skew is None else 2, "dirichlet": 2, "shards": shards_per_client}[kind]
        message = str(e)
        assert "\n" not in message and "data.num_clients" in message
        assert n < minimum * num_clients
        return
    assert_disjoint_cover(part, n, num_clients)
    if kind == "dirichlet":
        assert part.sizes.min() >= 2
        np.testing.assert_array_equal(part.sizes, iid_sizes(n, num_clients, weights))


def test_natural_partition_keeps_the_pool_order() -> None:
    part = natural_partition(np.array([2, 1, 3]))
    np.testing.assert_array_equal(part.order, np.arange(6))
    np.testing.assert_array_equal(part.offsets, [0, 2, 3, 6])
    np.testing.assert_array_equal(part.client(2), [3, 4, 5])


# ------------------------------------------------------------------------------ iid
@pytest.mark.parametrize("n, k", [(1797, 10), (1797, 1797), (100, 7), (5, 5)])
def test_iid_sizes_are_equal_with_the_remainder_first(n: int, k: int) -> None:
    part = partition_iid(np.zeros(n, dtype=np.int64), k, rng())
    assert_disjoint_cover(part, n, k)
    q, r = divmod(n, k)
    np.testing.assert_array_equal(part.sizes, [q + 1] * r + [q] * (k - r))


def test_iid_is_a_uniform_shuffle() -> None:
    # Position of sample 0 in the order over many seeds: uniform on [0, n).
    n, trials = 20, 4000
    pos = np.array([np.flatnonzero(partition_iid(np.zeros(n), 4, rng(t)).order == 0)[0] for t in range(trials)])
    counts = np.bincount(pos, minlength=n)
    expected = trials / n
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected * (1 - 1 / n)))


def test_iid_needs_one_sample_per_client() -> None:
    with pytest.raises(DataError, match="data.num_clients=11"):
        partition_iid(np.zeros(10), 11, rng())


# ------------------------------------------------------------------------- dirichlet
#: Class counts of scikit-learn's digits (1797 samples).
DIGITS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def digits_like_labels() -> np.ndarray:
    labels = np.repeat(np.arange(10), DIGITS_COUNTS)
    return labels[TREE.generator(Purpose.PARTITION, 98).permutation(len(labels))]


def skewed_pool() -> tuple[np.ndarray, np.ndarray]:
    """55,000 labels, class k holding (k + 1) / 55 of them (shuffled), and p."""
    counts = 1000 * np.arange(1, 11)
    labels = np.repeat(np.arange(10), counts)
    return labels[TREE.generator(Purpose.PARTITION, 97).permutation(len(labels))], counts / counts.sum()


def early_fractions(alpha: float, key: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """Label fractions of the first half, in fill order, of 1000 clients (55 samples each) of
    :func:`skewed_pool`.

    The fill order is the partition rng's first draw (documented). Those clients finish long
    before any class runs out (asserted), so their class counts are i.i.d. Multinomial(n, q_c)
    with q_c ~ Dir(alpha * p). Returns (fractions, p, n).
    """
    labels, p = skewed_pool()
    k = 1000
    part = partition_dirichlet(labels, k, alpha, rng(key))
    assert_disjoint_cover(part, len(labels), k)
    n = len(labels) // k
    early = rng(key).permutation(k)[: k // 2]
    counts = np.stack([np.bincount(labels[part.client(c)], minlength=10) for c in early])
    assert np.all(counts.sum(axis=0) < np.bincount(labels))  # no class ran out
    return counts / n, p, n


@pytest.mark.parametrize("sigma", [None, 1.0])
def test_dirichlet_sizes_are_the_iid_sizes(sigma: float | None) -> None:
    labels = digits_like_labels()
    n, k = len(labels), 100
    w = None if sigma is None else quantity_weights(TREE, k, sigma)
    part = partition_dirichlet(labels, k, 0.1, rng(), w)
    assert_disjoint_cover(part, n, k)
    expected = partition_iid(labels, k, rng(), w).sizes if w is None else apportion(n, w, 2)
    np.testing.assert_array_equal(part.sizes, expected)


@pytest.mark.parametrize("alpha", [0.01, 0.1, 1.0])
@pytest.mark.parametrize("sigma", [None, 1.0, 2.0])
def test_dirichlet_never_fails_on_a_digits_like_pool(alpha: float, sigma: float | None) -> None:
    labels = digits_like_labels()
    k = 100
    for seed in range(5):
        tree = SeedTree(seed)
        w = None if sigma is None else quantity_weights(tree, k, sigma)
        part = partition_dirichlet(labels, k, alpha, tree.generator(Purpose.PARTITION), w)
        assert_disjoint_cover(part, len(labels), k)
        np.testing.assert_array_equal(part.sizes, iid_sizes(len(labels), k, w))


def test_dirichlet_mean_label_mix_is_p() -> None:
    # E[f_k] = E[q_k] = p_k;
    # Var f_k = E[q_k (1 - q_k)] / n + Var q_k = p_k (1 - p_k) (1 + alpha / n) / (1 + alpha).
    alpha = 0.1
    f, p, n = early_fractions(alpha)
    var = p * (1 - p) * (1 + alpha / n) / (1 + alpha)
    assert np.all(np.abs(f.mean(axis=0) - p) < 4 * np.sqrt(var / len(f)))


@pytest.mark.parametrize("alpha", [0.05, 1.0, 1000.0])
def test_dirichlet_label_purity_matches_dir_alpha_p(alpha: float) -> None:
    # E[sum_k q_k^2] = (1 + alpha |p|^2) / (1 + alpha) for q ~ Dir(alpha p) (Dir(alpha 1) would
    # give another value: p is far from uniform), and E[sum_k f_k^2 | q] = (1 - 1/n) sum_k q_k^2 + 1/n.
    f, p, n = early_fractions(alpha)
    purity = (f**2).sum(axis=1)
    expected = (1 - 1 / n) * (1 + alpha * p @ p) / (1 + alpha) + 1 / n
    assert abs(purity.mean() - expected) < 4 * purity.std(ddof=1) / np.sqrt(len(f))


def test_dirichlet_small_alpha_gives_nearly_single_class_clients() -> None:
    # max_k f_k >= sum_k f_k^2, whose mean is at least 1 / (1 + alpha) (previous test).
    alpha = 0.05
    f, _, _ = early_fractions(alpha)
    top = f.max(axis=1)
    assert top.mean() > 1 / (1 + alpha) - 4 * top.std(ddof=1) / np.sqrt(len(f))
    assert top.mean() > 0.9


def test_dirichlet_large_alpha_gives_every_client_the_pool_mix() -> None:
    # E|f_k - p_k| <= sqrt(Var f_k) (Jensen), Var f_k as in test_dirichlet_mean_label_mix_is_p: at
    # alpha = 1000 the client's own multinomial sampling error, p_k (1 - p_k) / n, dominates.
    alpha = 1000.0
    f, p, n = early_fractions(alpha)
    tv = 0.5 * np.abs(f - p).sum(axis=1)
    bound = 0.5 * np.sqrt(p * (1 - p) * (1 + alpha / n) / (1 + alpha)).sum()
    assert tv.mean() < bound + 4 * tv.std(ddof=1) / np.sqrt(len(f))
    assert bound < 1.05 * 0.5 * np.sqrt(p * (1 - p) / n).sum()


def index_permutation_pvalue(stat: np.ndarray, permutations: int, g: np.random.Generator) -> float:
    """Two-sided stratified permutation p-value of ``T = sum_s corr(client index, stat[s])``.

    ``stat[s, c]`` is a statistic of client ``c`` in stratum ``s`` (one partition). Under
    exchangeability in the client index, permuting each row independently leaves the law of
    ``stat`` unchanged, so ``(1 + #{|T_b| >= |T|}) / (1 + permutations)`` over uniformly random
    row permutations is a valid p-value (P(p <= x) <= x).
    """
    z = (stat - stat.mean(axis=1, keepdims=True)) / np.maximum(stat.std(axis=1, keepdims=True), 1e-12)
    w = np.arange(stat.shape[1]) - (stat.shape[1] - 1) / 2
    observed = float((z @ w).sum())
    null = np.zeros(permutations)
    for row in z:
        null += g.permuted(np.broadcast_to(row, (permutations, len(row))), axis=1) @ w
    return (1 + int(np.sum(np.abs(null) >= abs(observed) - 1e-9))) / (1 + permutations)


@pytest.mark.parametrize("statistic", ["tv_from_pool", "labels_present"])
def test_dirichlet_label_mix_does_not_depend_on_the_client_index(statistic: str) -> None:
    # Filling clients in index order gave the last ones the leftover classes: fewer labels,
    # farther from the pool mix (z about 7 and 10 here). With a random fill order the mixes of
    # equal-size clients are exchangeable in the index, so the permutation p-value below is
    # uniform-or-larger: with these fixed seeds it falls under 1e-3 with probability <= 1e-3 per
    # statistic. Digits' first 1750 samples make 50 clients of exactly 35 (the law is only
    # exchangeable among clients of equal size); 20 seeds x alpha in {0.5, 1.0} are the strata.
    _, y = load_digits_arrays()
    y = y[:1750]
    k, p = 50, np.bincount(y) / 1750
    rows = []
    for alpha in (0.5, 1.0):
        for seed in range(20):
            part = partition_dirichlet(y, k, alpha, SeedTree(seed).generator(Purpose.PARTITION))
            assert np.all(part.sizes == 35)
            owner = np.repeat(np.arange(k), part.sizes)
            f = np.bincount(owner * 10 + y[part.order], minlength=10 * k).reshape(k, 10) / 35
            rows.append(0.5 * np.abs(f - p).sum(axis=1) if statistic == "tv_from_pool" else (f > 0).sum(axis=1))
    pvalue = index_permutation_pvalue(np.array(rows, dtype=np.float64), 9999, rng(77))
    assert pvalue > 1e-3


def test_dirichlet_permutation_pvalue_detects_an_index_trend() -> None:
    # The test above has power: a statistic that drifts with the index by 0.1 sd per client
    # in 10 strata gets the smallest p-value possible, 1 / (1 + permutations).
    g = rng(78)
    stat = g.standard_normal((10, 50)) + 0.1 * np.arange(50)
    assert index_permutation_pvalue(stat, 999, g) == 1 / 1000
    # And under exchangeability the p-value is about uniform: P(p <= 0.1) ~ 0.1 (+-4 sd of 400).
    pvalues = np.array([index_permutation_pvalue(g.standard_normal((3, 50)), 99, g) for _ in range(400)])
    assert abs(np.mean(pvalues <= 0.1) - 0.1) < 4 * np.sqrt(0.1 * 0.9 / 400)


def exhaustion_law(q: np.ndarray, sizes: list[int], supply: list[int]) -> dict[tuple, float]:
    """Exact law of the class-count matrix: clients in order draw labels one by one from q_c
    renormalized over the classes with supply left."""
    law: dict[tuple, float] = {}

    def walk(c: int, left: int, supply: tuple, counts: tuple, prob: float) -> None:
        if c == len(sizes):
            law[counts] = law.get(counts, 0.0) + prob
            return
        if left == 0:
            walk(c + 1, sizes[c + 1] if c + 1 < len(sizes) else 0, supply, counts, prob)
            return
        live = np.array(supply) > 0
        w = q[c] * live / (q[c] * live).sum()
        for k in np.flatnonzero(live):
            row = list(counts[c])
            row[k] += 1
            walk(
                c, left - 1, supply[:k] + (supply[k] - 1,) + supply[k + 1 :],
                counts[:c] + (tuple(row),) + counts[c + 1 :], prob * w[k],
            )

    walk(0, sizes[0], tuple(supply), tuple((0,) * len(supply) for _ in sizes), 1.0)
    return law


EXHAUSTION_CASES = {
    # Classes run out between clients (a later client's block draw must be redone) and mid-client.
    "between": ([[0.6, 0.2, 0.2], [0.3, 0.5, 0.2], [0.1, 0.3, 0.6]], [2, 2, 3], [2, 2, 3]),
    # Client 0 mostly overdraws class 0: the overdraft must follow q_0 renormalized, (1/3, 2/3).
    "overdraft": ([[0.7, 0.1, 0.2], [0.5, 0.4, 0.1]], [4, 3], [1, 4, 4]),
}


@pytest.mark.parametrize("case", sorted(EXHAUSTION_CASES))
@pytest.mark.parametrize("block", [1, 256])
def test_dirichlet_class_counts_follow_the_exhaustion_rule_exactly(
    case: str, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The law of the whole count matrix must be that of one-by-one draws renormalized over the
    # classes left, however clients are grouped into multinomial blocks (chi-square, p-value 1e-6).
    monkeypatch.setattr(partition_module, "_COUNTS_BLOCK", block)
    q, sizes, supply = EXHAUSTION_CASES[case]
    q = np.array(q)
    law = exhaustion_law(q, sizes, supply)
    trials = 4000
    g = rng(block + len(sizes))
    seen: dict[tuple, int] = {}
    for _ in range(trials):
        counts = partition_module._class_counts(np.log(q), np.array(sizes), np.array(supply), g)
        key = tuple(map(tuple, counts.tolist()))
        seen[key] = seen.get(key, 0) + 1
    assert set(seen) <= set(law)
    probs = np.array(list(law.values()))
    observed = np.array([seen.get(key, 0) for key in law])
    stat = ((observed - trials * probs) ** 2 / (trials * probs)).sum()
    assert stat < chi2.isf(1e-6, len(law) - 1)


def test_dirichlet_handles_concentrations_that_underflow() -> None:
    # alpha * p_k = 5e-4: plain gamma draws are often 0, so most q_c would be one-hot in float64
    # and renormalizing one over the classes left once its class ran out would be 0/0.
    labels = np.repeat(np.arange(2), 100)
    part = partition_dirichlet(labels, 99, 0.001, rng())
    assert_disjoint_cover(part, 200, 99)
    assert part.sizes.min() >= 2


def test_dirichlet_too_many_clients_raises_one_line_error() -> None:
    labels = np.repeat(np.arange(2), 100)
    with pytest.raises(DataError, match="data.num_clients=101") as e:
        partition_dirichlet(labels, 101, 1.0, rng())
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------------------- shards
@pytest.mark.parametrize("shards_per_client", [1, 2, 3])
def test_shards_give_at_most_shards_per_client_labels(shards_per_client: int) -> None:
    k = 10
    per_class = k * shards_per_client * 4 // 10  # shards of 4 samples never straddle a class
    labels = np.repeat(np.arange(10), per_class)
    part = partition_shards(labels, k, shards_per_client, rng())
    assert_disjoint_cover(part, len(labels), k)
    np.testing.assert_array_equal(part.sizes, np.full(k, shards_per_client * 4))
    for c in range(k):
        assert len(np.unique(labels[part.client(c)])) <= shards_per_client


def test_shards_are_contiguous_label_sorted_blocks() -> None:
    labels = TREE.generator(Purpose.PARTITION, 99).integers(0, 10, 997)
    k, s = 13, 3
    part = partition_shards(labels, k, s, rng())
    assert_disjoint_cover(part, len(labels), k)
    sizes = np.diff(np.arange(k * s + 1) * len(labels) // (k * s))
    assert set(part.sizes.tolist()) <= {s * sizes.min() + i for i in range(s + 1)}
    # Each client's labels come in at most s runs of non-decreasing labels.
    for c in range(k):
        y = labels[part.client(c)]
        assert np.sum(np.diff(y) < 0) <= s - 1


def test_shards_need_one_sample_per_shard() -> None:
    with pytest.raises(DataError, match="data.shards_per_client"):
        partition_shards(np.zeros(19), 10, 2, rng())


# --------------------------------------------------------------------- quantity skew
def test_quantity_weights_are_lognormal_0_sigma() -> None:
    n, sigma = 100_000, 1.3
    logw = np.log(quantity_weights(TREE, n, sigma))
    assert abs(logw.mean()) < 5 * sigma / np.sqrt(n)
    assert abs(logw.var(ddof=1) - sigma**2) < 5 * sigma**2 * np.sqrt(2 / (n - 1))
    np.testing.assert_array_equal(quantity_weights(TREE, 10, sigma), np.exp(logw[:10]))


def test_apportion_is_exact_and_within_one_of_proportional() -> None:
    w = quantity_weights(TREE, 50, 1.0)
    sizes = apportion(1000, w, 2)
    assert sizes.sum() == 1000 and sizes.min() >= 2
    assert np.all(np.abs(sizes - (2 + (1000 - 100) * w / w.sum())) < 1)


def test_quantity_skew_iid_sizes_follow_the_weights() -> None:
    k, n, sigma = 200, 20_000, 1.0
    w = quantity_weights(TREE, k, sigma)
    part = partition_iid(np.zeros(n), k, rng(), w)
    assert_disjoint_cover(part, n, k)
    np.testing.assert_array_equal(part.sizes, iid_sizes(n, k, w))
    # sizes = 2 + (n - 2k) w / sum(w) up to rounding, so CV(sizes) = CV(w) (n - 2k) / n up to 1/mean.
    expected = cv(w) * (n - 2 * k) / n
    assert abs(cv(part.sizes) - expected) < 1 / np.mean(part.sizes)
    assert cv(part.sizes) > 0.5 and cv(iid_sizes(n, k)) < 1 / np.mean(part.sizes)


def test_quantity_skew_increases_size_spread_of_dirichlet_and_shards() -> None:
    labels = np.repeat(np.arange(10), 400)
    k = 20
    w = quantity_weights(TREE, k, 1.0)
    for make in (
        lambda weights: partition_dirichlet(labels, k, 1.0, rng(), weights),
        lambda weights: partition_shards(labels, k, 5, rng(), weights),
    ):
        plain, skewed = make(None), make(w)
        assert_disjoint_cover(skewed, len(labels), k)
        assert cv(skewed.sizes) > cv(plain.sizes) + 0.3
        # Heavier clients get more: size ranks follow weight ranks.
        assert np.corrcoef(np.argsort(np.argsort(w)), np.argsort(np.argsort(skewed.sizes)))[0, 1] > 0.7


def test_quantity_skew_shards_counts_are_apportioned() -> None:
    labels = np.repeat(np.arange(10), 40)  # 400 samples, 100 shards of 4
    k, s = 20, 5
    w = quantity_weights(TREE, k, 1.0)
    part = partition_shards(labels, k, s, rng(), w)
    np.testing.assert_array_equal(part.sizes, 4 * apportion(k * s, w, 1))
