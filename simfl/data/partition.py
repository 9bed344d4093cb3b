"""Partitioners: split a pool of labelled samples among clients.

Each partitioner is a pure function of ``(labels, num_clients, ..., rng)`` and returns a
:class:`Partition`: a permutation ``order`` of the pool's indices grouped by client plus
``offsets``, so client ``c`` owns ``order[offsets[c]:offsets[c + 1]]``. Every partition is a
disjoint cover of the pool and gives every client at least one sample; when that is impossible
the partitioner raises :class:`~simfl.errors.DataError` naming the config key to change.

Quantity skew (``data.quantity_skew = sigma``) enters as per-client ``weights``
(:func:`quantity_weights`, lognormal(0, sigma)), each partitioner using them as documented.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import ndtri

from simfl.errors import DataError
from simfl.rng import Purpose, SeedTree

__all__ = [
    "Partition",
    "apportion",
    "quantity_weights",
    "iid_sizes",
    "natural_partition",
    "partition_iid",
    "partition_dirichlet",
    "partition_shards",
]

#: Minimum client size under quantity skew and under the dirichlet partition.
MIN_SKEWED_SIZE = 2


class Partition(NamedTuple):
    """A pool split among clients: client ``c`` owns ``order[offsets[c]:offsets[c + 1]]``."""

    order: np.ndarray  # int64 permutation of range(pool size), grouped by client
    offsets: np.ndarray  # int64, shape (num_clients + 1,), offsets[0] == 0

    @property
    def sizes(self) -> np.ndarray:
        """int64 sample count of each client."""
        return np.diff(self.offsets)

    def client(self, c: int) -> np.ndarray:
        """Pool indices owned by client ``c``."""
        return self.order[self.offsets[c] : self.offsets[c + 1]]


def _offsets(sizes: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)


def apportion(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Integer sizes summing to ``total``: ``minimum`` each, the rest proportional to ``weights``.

    The rest ``total - minimum * len(weights)`` is split by the largest-remainder method
    (ties to the lower index), so sizes are within one of ``minimum + rest * w / sum(w)``.

    Args:
        total: the number to split; at least ``minimum * len(weights)``.
        weights: positive weights, one per client.
        minimum: the floor of every size.

    Returns:
        int64 sizes, one per weight.
    """
    weights = np.asarray(weights, dtype=np.float64)
    rest = int(total) - minimum * len(weights)
    if rest < 0:
        raise ValueError(f"cannot give {len(weights)} parts at least {minimum} of {total}")
    quota = rest * (weights / weights.sum())
    sizes = np.floor(quota).astype(np.int64)
    left = rest - int(sizes.sum())
    sizes[np.argsort(sizes - quota, kind="stable")[:left]] += 1  # largest fractional parts first
    return sizes + minimum


def quantity_weights(tree: SeedTree, num_clients: int, sigma: float) -> np.ndarray:
    """Per-client size weights ``exp(sigma * ndtri(u_c))``, i.e. lognormal(0, sigma) draws.

    ``u_c = tree.uniforms(Purpose.DATA_SIZES, c, 1)`` (index 1; index 0 is the synthetic
    sizes), so a client's weight depends only on ``(seed, c)`` and keeps its quantile across
    values of sigma.
    """
    u = tree.uniforms(Purpose.DATA_SIZES, np.arange(num_clients, dtype=np.int64), 1)
    return np.exp(sigma * ndtri(u))


def iid_sizes(num_samples: int, num_clients: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Client sizes of the iid partition.

    Without ``weights``: equal sizes, the remainder spread one by one (the first
    ``num_samples % num_clients`` clients get one more). With ``weights``:
    :func:`apportion` with a minimum of 2 per client.

    Raises:
        DataError: the pool cannot give every client its minimum.
    """
    minimum = 1 if weights is None else MIN_SKEWED_SIZE
    if num_samples < minimum * num_clients:
        skew = " under data.quantity_skew" if weights is not None else ""
        raise DataError(
            f"data.num_clients={num_clients} is too many for a pool of {num_samples} samples: "
            f"partition iid needs {minimum} per client{skew}"
        )
    if weights is not None:
        return apportion(num_samples, weights, minimum)
    q, r = divmod(int(num_samples), num_clients)
    return np.full(num_clients, q, dtype=np.int64) + (np.arange(num_clients) < r)


def natural_partition(sizes: np.ndarray) -> Partition:
    """The pool is already grouped by client (``sizes[c]`` consecutive samples each)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    return Partition(np.arange(int(sizes.sum()), dtype=np.int64), _offsets(sizes))


def partition_iid(
    labels: np.ndarray, num_clients: int, rng: np.random.Generator, weights: np.ndarray | None = None
) -> Partition:
    """Uniformly random assignment with sizes :func:`iid_sizes` (labels are only counted)."""
    sizes = iid_sizes(len(labels), num_clients, weights)
    return Partition(rng.permutation(len(labels)).astype(np.int64), _offsets(sizes))


def partition_dirichlet(
    labels: np.ndarray,
    num_clients: int,
    alpha: float,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
) -> Partition:
    """Label skew (Hsu, Qi & Brown 2019): client ``c``'s label mix is ``q_c ~ Dir(alpha * p)``.

    ``p`` is the pool's class frequencies, so ``E[q_c] = p``; small ``alpha`` gives clients of
    nearly one class, large ``alpha`` gives every client about the pool's mix. Client sizes are
    fixed first, exactly as :func:`iid_sizes` (equal up to one without ``weights``,
    ``apportion(N, weights, MIN_SKEWED_SIZE)`` with them), so the draw never fails. Then the
    clients are filled one after another in a uniformly random *fill order* (not in index
    order): each draws its ``n_c`` labels one by one from ``q_c``, each sample uniformly without
    replacement among the pool's samples of that label not yet taken. Exhaustion rule: once a
    class has no sample left, every later draw (the rest of this client's and all later
    clients') uses ``q_c`` renormalized over the classes that still have samples (as FedLab's
    ``client_inner_dirichlet_partition``, which interleaves clients at random instead). Because
    the sizes sum to the pool, the clients filled last take what is left, and their mixes are
    bent towards the leftover classes; the random fill order makes that the fate of random
    clients, so among clients of equal size the joint law of the label mixes is exchangeable
    in the client index (a client's mix never depends on its index).

    Randomness, all from ``rng`` in this order: the fill order (``rng.permutation(num_clients)``,
    client ``fill[0]`` first), the ``q_c`` in client index order (as log-gamma variates, see
    :func:`_log_dirichlet`), the class counts (:func:`_class_counts`, over the clients in fill
    order), one permutation of the pool (which samples of each class a client gets, and their
    order within the client).

    Args:
        labels: the pool's labels, one per sample (any sortable values).
        num_clients: number of clients.
        alpha: Dirichlet concentration, positive.
        rng: the partition's generator.
        weights: quantity-skew weights, one per client, or None for equal sizes.

    Returns:
        A disjoint cover of the pool with the sizes above (at least ``MIN_SKEWED_SIZE`` each).

    Raises:
        DataError: the pool has fewer than ``MIN_SKEWED_SIZE * num_clients`` samples.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if n < MIN_SKEWED_SIZE * num_clients:
        raise DataError(
            f"data.num_clients={num_clients} is too many for a pool of {n} samples: "
            f"partition dirichlet needs {MIN_SKEWED_SIZE} per client"
        )
    sizes = iid_sizes(n, num_clients, weights)
    codes = np.unique(labels, return_inverse=True)[1].reshape(-1)
    supply = np.bincount(codes).astype(np.int64)
    fill = rng.permutation(num_clients)
    log_q = _log_dirichlet(alpha * supply / n, num_clients, rng)
    counts = np.empty((num_clients, len(supply)), dtype=np.int64)
    counts[fill] = _class_counts(log_q[fill], sizes[fill], supply, rng)
    return Partition(_deal(codes, counts, rng), _offsets(sizes))


def _deal(codes: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pool indices grouped by client, client ``c`` holding ``counts[c, k]`` samples of class ``k``.

    One permutation of the pool from ``rng`` decides which samples of each class a client gets
    and their order within the client.
    """
    num_clients, num_classes = counts.shape
    perm = rng.permutation(len(codes))
    # by_class lists each class's samples in random order, class after class; client c takes
    # counts[c, k] consecutive samples of class k, after clients 0..c-1 took theirs.
    by_class = perm[np.argsort(codes[perm], kind="stable")]
    owner = np.empty(len(codes), dtype=np.int64)
    owner[by_class] = np.repeat(np.tile(np.arange(num_clients), num_classes), counts.T.reshape(-1))
    order = perm[np.argsort(owner[perm], kind="stable")]  # within a client, in perm's order
    return order.astype(np.int64)


#: Clients whose class counts share one vectorized multinomial call in :func:`_class_counts`.
_COUNTS_BLOCK = 256


def _log_dirichlet(concentration: np.ndarray, num_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Rows ``log(g)`` with ``g / sum(g) ~ Dir(concentration)``, finite even for tiny concentrations.

    ``g_k ~ Gamma(a_k)`` drawn as ``Gamma(a_k + 1) * U ** (1 / a_k)``, in log space: at
    ``a_k`` of 1e-3 the plain draw often underflows to 0, and ``q`` renormalized over the classes
    left would be 0/0 for a client whose only nonzero class ran out.
    """
    shape = (num_rows, len(concentration))
    log_g = np.log(rng.standard_gamma(concentration + 1.0, size=shape))
    log_g -= rng.standard_exponential(shape) / concentration
    return np.maximum(log_g, np.finfo(np.float64).min)  # concentrations < 1e-300: ties, not NaN


def _renormalized(log_q: np.ndarray, live: np.ndarray) -> np.ndarray:
    """``exp(log_q)`` restricted to the ``live`` classes and normalized along the last axis."""
    z = np.where(live, log_q, -np.inf)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _class_counts(
    log_q: np.ndarray, sizes: np.ndarray, supply: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``counts[c, k]``: class-``k`` samples of client ``c`` under the exhaustion rule.

    Clients go in row order (:func:`partition_dirichlet` passes its clients in fill order);
    client ``c`` draws ``sizes[c]`` labels one by one from ``exp(log_q[c])`` renormalized over
    the classes with supply left. That is an i.i.d. stream over the classes live when the client
    starts, with the draws of classes already emptied skipped; so it is drawn exactly, and
    vectorized, as: one multinomial of all ``sizes[c]`` draws over the live classes; keep
    ``min(draws, supply)``; draw the overdraft again over the classes still live; repeat until
    nothing is overdrawn (at most once per class). A block of
    clients shares one multinomial call: the block's counts are kept up to and including the
    first client that empties a class (its overdraft redrawn as above); the later clients'
    counts, drawn over a stale live set, are discarded (which depends only on earlier clients)
    and drawn again in the next block. Each class empties once, so there are about
    ``num_classes`` more blocks than ``ceil(num_clients / _COUNTS_BLOCK)``.
    """
    num_clients, num_classes = log_q.shape
    counts = np.zeros((num_clients, num_classes), dtype=np.int64)
    supply = supply.copy()
    c = 0
    while c < num_clients:
        block = slice(c, min(c + _COUNTS_BLOCK, num_clients))
        draws = rng.multinomial(sizes[block], _renormalized(log_q[block], supply > 0))
        taken = np.cumsum(draws, axis=0)
        # A client empties (or overdraws) a class; `taken > 0` also catches a draw of an
        # already empty class, which rounding in the multinomial can leave at probability ~1e-16.
        empties = ((taken >= supply) & (taken > 0)).any(axis=1)
        kept = int(np.argmax(empties)) + 1 if empties.any() else len(draws)
        last = c + kept - 1
        counts[c : last + 1] = draws[:kept]
        supply -= taken[kept - 1]
        over = np.maximum(-supply, 0)
        counts[last] -= over
        supply += over
        missing = int(over.sum())
        while missing:
            redraw = rng.multinomial(missing, _renormalized(log_q[last], supply > 0))
            take = np.minimum(redraw, supply)
            counts[last] += take
            supply -= take
            missing = int((redraw - take).sum())
        c = last + 1
    return counts


def partition_shards(
    labels: np.ndarray,
    num_clients: int,
    shards_per_client: int,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
) -> Partition:
    """Pathological label skew (McMahan et al. 2017): sorted shards dealt at random.

    The pool is sorted by label (ties in random order), cut into
    ``S = num_clients * shards_per_client`` contiguous shards of equal size up to one sample
    (shard ``s`` is ``[s * N // S, (s + 1) * N // S)``, so no sample is dropped), and the shards
    are dealt in random order: ``shards_per_client`` each, or under quantity skew
    ``apportion(S, weights, 1)`` shards to client ``c`` (at least one each, the rest
    proportional to its weight).

    Raises:
        DataError: fewer samples than shards.
    """
    labels = np.asarray(labels)
    n = len(labels)
    num_shards = num_clients * shards_per_client
    if n < num_shards:
        raise DataError(
            f"data.num_clients={num_clients} x data.shards_per_client={shards_per_client} = "
            f"{num_shards} shards is more than the {n} samples of the pool"
        )
    per_client = (
        np.full(num_clients, shards_per_client, dtype=np.int64)
        if weights is None
        else apportion(num_shards, weights, 1)
    )
    shuffled = rng.permutation(n)
    by_label = shuffled[np.argsort(labels[shuffled], kind="stable")]
    bounds = np.arange(num_shards + 1, dtype=np.int64) * n // num_shards
    dealt = rng.permutation(num_shards)
    shard_sizes = np.diff(bounds)[dealt]
    out_start = np.repeat(_offsets(shard_sizes)[:-1], shard_sizes)
    order = by_label[np.arange(n) - out_start + np.repeat(bounds[dealt], shard_sizes)]
    offsets = _offsets(shard_sizes)[_offsets(per_client)]
    return Partition(order.astype(np.int64), offsets)
