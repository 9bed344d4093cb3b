"""FedProx Synthetic(alpha, beta) (Li et al., MLSys 2020), seeded from the seed tree.

This follows ``data/synthetic_*/generate_synthetic.py`` and ``data/synthetic_iid/generate_iid.py``
of the FedProx repository, draw for draw in distribution, with two changes that make a client's
data a pure function of ``(seed, client)`` (common random numbers: client ``k`` gets the same
samples whether the population has 10 or 10^6 clients):

* client ``k``'s total size is ``int(exp(4 + 2 * ndtri(u_k))) + 50`` with ``u_k`` the counter-based
  uniform ``tree.uniforms(Purpose.DATA_SIZES, k, 0)``: the inverse-CDF form of FedProx's
  ``np.random.lognormal(4, 2).astype(int) + 50``;
* every other draw of client ``k`` comes from ``tree.generator(Purpose.DATA, k)``, in this
  order: ``u_k``, ``W_k``, ``b_k``, ``B_k``, ``v_k``, then the features. The IID variant's
  shared ``W, b`` come from ``tree.generator(Purpose.DATA)`` (no client key).

Like the FedProx code, alpha and beta are passed as the normal's *scale*: ``u_k ~ N(0, alpha)``
means ``rng.normal(0, alpha)``, i.e. standard deviation alpha. The paper's notation
``N(0, α)`` reads as a variance (its ``x_k ~ N(v_k, Σ)`` takes the covariance ``Σ``); the code,
which produced the paper's data sets, uses the standard deviation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtri

from simfl.data.dataset import Pool, PooledDataset
from simfl.data.info import DatasetInfo
from simfl.rng import Purpose, SeedTree

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig

__all__ = [
    "Synthetic",
    "NUM_FEATURES",
    "NUM_CLASSES",
    "feature_variances",
    "synthetic_sizes",
    "generate_synthetic_client",
    "generate_synthetic",
]

#: Feature dimension of Synthetic(alpha, beta).
NUM_FEATURES = 60
#: Number of classes of Synthetic(alpha, beta).
NUM_CLASSES = 10
#: Parameters of the per-client size law ``int(lognormal(mean, sigma)) + minimum``.
SIZE_LOG_MEAN, SIZE_LOG_SIGMA, SIZE_MINIMUM = 4.0, 2.0, 50


def feature_variances() -> np.ndarray:
    """The diagonal of the feature covariance: ``Sigma_jj = (j + 1) ** -1.2`` for ``j = 0..59``."""
    return np.arange(1, NUM_FEATURES + 1, dtype=np.float64) ** -1.2


def synthetic_sizes(tree: SeedTree, num_clients: int) -> np.ndarray:
    """Total (train + test) sample counts of clients ``0 .. num_clients - 1``.

    Vectorized and cheap (no features are generated): a million clients take well under a
    second. Client ``k``'s size depends only on ``(seed, k)``.

    Args:
        tree: the run's seed tree.
        num_clients: population size.

    Returns:
        int64 array of shape ``(num_clients,)``; ``int(exp(4 + 2 * ndtri(u))) + 50`` per client.
    """
    u = tree.uniforms(Purpose.DATA_SIZES, np.arange(num_clients, dtype=np.int64), 0)
    return np.exp(SIZE_LOG_MEAN + SIZE_LOG_SIGMA * ndtri(u)).astype(np.int64) + SIZE_MINIMUM


def _iid_model(tree: SeedTree) -> tuple[np.ndarray, np.ndarray]:
    """The IID variant's shared ``W ~ N(0, 1)`` (60 x 10) and ``b ~ N(0, 1)`` (10)."""
    rng = tree.generator(Purpose.DATA)
    w = rng.normal(0.0, 1.0, (NUM_FEATURES, NUM_CLASSES))
    b = rng.normal(0.0, 1.0, NUM_CLASSES)
    return w, b


def _sample(
    rng: np.random.Generator, size: int, mean: np.ndarray | float, w: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``size`` samples ``x ~ N(mean, Sigma)`` (float32) with labels ``argmax(x W + b)``.

    Labels are computed in float64 from the float32-rounded features, so
    ``argmax(x.astype(float64) @ W + b)`` reproduces them exactly.
    """
    z = rng.standard_normal((size, NUM_FEATURES))
    x = (mean + z * np.sqrt(feature_variances())).astype(np.float32)
    # softmax is monotone, so the argmax of the logits is FedProx's argmax(softmax(.)).
    y = np.argmax(x.astype(np.float64) @ w + b, axis=1).astype(np.int64)
    return x, y


def generate_synthetic_client(
    tree: SeedTree, client: int, size: int, alpha: float, beta: float, iid: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Generate one client's Synthetic(alpha, beta) samples.

    Non-IID (FedProx ``generate_synthetic.py``)::

        u_k ~ N(0, alpha);  W_k ~ N(u_k, 1) (60 x 10);  b_k ~ N(u_k, 1) (10)
        B_k ~ N(0, beta);   v_k ~ N(B_k, 1) (60)
        x ~ N(v_k, Sigma),  Sigma = diag((j + 1) ** -1.2);  y = argmax(x W_k + b_k)

    where the second argument of ``N`` is numpy's *scale* (standard deviation), as in the
    FedProx code. IID (FedProx ``generate_iid.py``): one global ``W, b ~ N(0, 1)`` and
    ``v_k = 0``; alpha and beta are ignored.

    Args:
        tree: the run's seed tree; draws come from ``tree.generator(Purpose.DATA, client)``
            (and ``tree.generator(Purpose.DATA)`` for the IID ``W, b``).
        client: the client id ``k``.
        size: number of samples to draw.
        alpha: model heterogeneity (scale of ``u_k``).
        beta: feature heterogeneity (scale of ``B_k``).
        iid: the IID variant.

    Returns:
        ``(x, y, W, b)``: float32 features ``(size, 60)``, int64 labels ``(size,)`` and the
        float64 model ``W`` ``(60, 10)``, ``b`` ``(10,)`` that labelled them.
    """
    rng = tree.generator(Purpose.DATA, client)
    if iid:
        w, b = _iid_model(tree)
        mean: np.ndarray | float = 0.0
    else:
        u = rng.normal(0.0, alpha)
        w = rng.normal(u, 1.0, (NUM_FEATURES, NUM_CLASSES))
        b = rng.normal(u, 1.0, NUM_CLASSES)
        big_b = rng.normal(0.0, beta)
        mean = rng.normal(big_b, 1.0, NUM_FEATURES)
    x, y = _sample(rng, int(size), mean, w, b)
    return x, y, w, b


def generate_synthetic(
    tree: SeedTree, sizes: np.ndarray, alpha: float, beta: float, iid: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Generate every client's samples, concatenated in client order.

    Args:
        tree: the run's seed tree.
        sizes: total sample count of each client (usually :func:`synthetic_sizes`).
        alpha: model heterogeneity.
        beta: feature heterogeneity.
        iid: the IID variant.

    Returns:
        ``(x, y)``: float32 ``(sum(sizes), 60)`` and int64 ``(sum(sizes),)``; client ``k`` owns
        rows ``sum(sizes[:k]) .. sum(sizes[:k+1])``, identical to
        ``generate_synthetic_client(tree, k, sizes[k], alpha, beta, iid)[:2]``.
    """
    total = int(np.sum(sizes))
    x = np.empty((total, NUM_FEATURES), dtype=np.float32)
    y = np.empty(total, dtype=np.int64)
    shared = _iid_model(tree) if iid else None
    start = 0
    for k, n in enumerate(np.asarray(sizes, dtype=np.int64).tolist()):
        if shared is None:
            xk, yk, _, _ = generate_synthetic_client(tree, k, n, alpha, beta, iid=False)
        else:
            # Same draws as generate_synthetic_client(iid=True), without rebuilding W, b per client.
            xk, yk = _sample(tree.generator(Purpose.DATA, k), n, 0.0, *shared)
        x[start : start + n] = xk
        y[start : start + n] = yk
        start += n
    return x, y


class Synthetic(PooledDataset):
    """``data.dataset: synthetic``: FedProx Synthetic(alpha, beta), generated client by client."""

    natural = True

    def info(self, cfg: DataConfig) -> DatasetInfo:
        """60 features, 10 classes."""
        return DatasetInfo((NUM_FEATURES,), NUM_CLASSES)

    def natural_sizes(self, cfg: DataConfig, tree: SeedTree) -> np.ndarray:
        """Every generating client's total size (:func:`synthetic_sizes`)."""
        return synthetic_sizes(tree, cfg.num_clients)

    def pool_size(self, cfg: DataConfig, tree: SeedTree) -> int:
        """The sum of the clients' sizes, without generating the samples."""
        return int(self.natural_sizes(cfg, tree).sum())

    def pool(self, cfg: DataConfig, tree: SeedTree, labels_only: bool = False) -> Pool:
        """Every client's samples, in client order (the labels need the features: generated either way)."""
        sizes = self.natural_sizes(cfg, tree)
        x, y = generate_synthetic(tree, sizes, cfg.synthetic_alpha, cfg.synthetic_beta, cfg.synthetic_iid)
        return x, y, sizes
