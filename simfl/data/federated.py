"""From a :class:`~simfl.config.schema.DataConfig` to every client's train and test arrays.

The pipeline is the same for every dataset: build the pool (synthetic: each client's generated
samples, grouped by client; digits; idx: train + t10k), split it among clients (``natural``
keeps the synthetic grouping; ``iid`` / ``dirichlet`` / ``shards`` repartition it with
``tree.generator(Purpose.PARTITION)``), then hold out part of every client's samples
(:mod:`simfl.data.split`). ``quantity_skew`` applies to the repartitioning partitions only
(``natural`` sizes are the synthetic size law). :func:`client_sizes` runs the same steps without features, so it
always equals ``load_data(cfg, tree).client_sizes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING

import numpy as np

from simfl.data import digits, idx, synthetic
from simfl.data.partition import (
    Partition,
    iid_sizes,
    natural_partition,
    partition_dirichlet,
    partition_iid,
    partition_shards,
    quantity_weights,
)
from simfl.data.split import HeldOut, held_out_split, train_counts
from simfl.errors import DataError
from simfl.rng import Purpose, SeedTree

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig

__all__ = ["DatasetInfo", "FederatedData", "dataset_info", "client_sizes", "load_data", "train_labels"]


@dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset before seeing it."""

    input_shape: tuple[int, ...]  # one sample: synthetic (60,); digits (1, 8, 8); idx (1, rows, cols)
    num_classes: int  # labels lie in [0, num_classes)

    @property
    def num_features(self) -> int:
        """Number of input values per sample (the flattened input size)."""
        return prod(self.input_shape)


@dataclass(frozen=True, eq=False)
class FederatedData:
    """Every client's local train and test samples, each grouped by client.

    Client ``c`` trains on ``x[offsets[c]:offsets[c + 1]]`` and holds out
    ``x_test[test_offsets[c]:test_offsets[c + 1]]``; the global test set is all of ``x_test``.
    """

    x: np.ndarray  # float32, (n_train, *info.input_shape)
    y: np.ndarray  # int64, (n_train,)
    offsets: np.ndarray  # int64, (num_clients + 1,), offsets[0] == 0, offsets[-1] == n_train
    x_test: np.ndarray  # float32, (n_test, *info.input_shape)
    y_test: np.ndarray  # int64, (n_test,)
    test_offsets: np.ndarray  # int64, (num_clients + 1,)
    info: DatasetInfo

    def __post_init__(self) -> None:
        for name, xs, ys, offs in (
            ("train", self.x, self.y, self.offsets),
            ("test", self.x_test, self.y_test, self.test_offsets),
        ):
            if not (len(xs) == len(ys) == offs[-1] and offs[0] == 0 and len(offs) == len(self.offsets)):
                raise ValueError(f"inconsistent {name} arrays: {len(xs)} x, {len(ys)} y, offsets {offs[0]}..{offs[-1]}")

    @property
    def num_clients(self) -> int:
        """Number of clients."""
        return len(self.offsets) - 1

    @property
    def client_sizes(self) -> np.ndarray:
        """int64 number of training samples of each client."""
        return np.diff(self.offsets)

    @property
    def test_sizes(self) -> np.ndarray:
        """int64 number of held-out samples of each client."""
        return np.diff(self.test_offsets)

    def client(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Client ``c``'s training ``(x, y)`` (views, not copies)."""
        a, b = self._bounds(self.offsets, c)
        return self.x[a:b], self.y[a:b]

    def client_test(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Client ``c``'s held-out ``(x, y)`` (views, not copies)."""
        a, b = self._bounds(self.test_offsets, c)
        return self.x_test[a:b], self.y_test[a:b]

    def _bounds(self, offsets: np.ndarray, c: int) -> tuple[int, int]:
        if not 0 <= c < self.num_clients:
            raise IndexError(f"client {c} out of range [0, {self.num_clients})")
        return int(offsets[c]), int(offsets[c + 1])


def dataset_info(cfg: DataConfig) -> DatasetInfo:
    """Input shape and number of classes, without generating or loading samples.

    For ``idx`` only the images headers are read.

    Raises:
        DataError: idx files missing or malformed.
    """
    if cfg.dataset == "synthetic":
        return DatasetInfo((synthetic.NUM_FEATURES,), synthetic.NUM_CLASSES)
    if cfg.dataset == "digits":
        return DatasetInfo(digits.DIGITS_SHAPE, digits.DIGITS_NUM_CLASSES)
    if cfg.dataset == "idx":
        rows, cols = idx.idx_image_shape(_idx_path(cfg))
        return DatasetInfo((1, rows, cols), idx.IDX_NUM_CLASSES)
    raise DataError(f"data.dataset: unknown dataset {cfg.dataset!r}; expected synthetic, digits or idx")


def client_sizes(cfg: DataConfig, tree: SeedTree) -> np.ndarray:
    """Training samples per client, equal to ``load_data(cfg, tree).client_sizes``.

    Cheap where it can be: ``synthetic`` + ``natural`` is vectorized and generates nothing
    (a million clients in well under a second); ``iid`` needs only the pool size (idx: from the
    labels headers); ``dirichlet`` and ``shards`` need the pool's labels (idx: the labels files
    only; synthetic: the features are generated to label them).

    Raises:
        DataError: the data cannot be read, or some client would get no training sample.
    """
    if cfg.partition == "natural":
        _require_synthetic(cfg)
        sizes = synthetic.synthetic_sizes(tree, cfg.num_clients)
    elif cfg.partition == "iid":
        sizes = iid_sizes(_pool_size(cfg, tree), cfg.num_clients, _weights(cfg, tree))
    else:
        _, labels, _ = _pool(cfg, tree, labels_only=True)
        sizes = _partition(cfg, tree, labels).sizes
    return train_counts(sizes, cfg.test_fraction)


def load_data(cfg: DataConfig, tree: SeedTree) -> FederatedData:
    """Build every client's local train and test arrays.

    Same ``(cfg, seed)``, same arrays. Under ``natural``, client ``c``'s samples depend only
    on ``(seed, c)``, not on ``num_clients`` (common random numbers).

    Raises:
        DataError: the data cannot be read, or some client would get no training sample.
    """
    x, y, natural_sizes = _pool(cfg, tree)
    split = _split(cfg, tree, y, natural_sizes)
    return FederatedData(
        x=x[split.train],
        y=y[split.train],
        offsets=split.train_offsets,
        x_test=x[split.test],
        y_test=y[split.test],
        test_offsets=split.test_offsets,
        info=DatasetInfo(x.shape[1:], dataset_info(cfg).num_classes),
    )


def train_labels(cfg: DataConfig, tree: SeedTree) -> tuple[np.ndarray, np.ndarray]:
    """Every client's training labels: ``(y, offsets)`` equal to ``load_data(cfg, tree)``'s.

    Client ``c``'s labels are ``y[offsets[c]:offsets[c + 1]]``. The same steps as
    :func:`load_data`, without reading features where the dataset allows it (idx: the labels
    files only).

    Raises:
        DataError: the data cannot be read, or some client would get no training sample.
    """
    _, y, natural_sizes = _pool(cfg, tree, labels_only=True)
    split = _split(cfg, tree, y, natural_sizes)
    return y[split.train], split.train_offsets


# ----------------------------------------------------------------------------- internals
def _split(cfg: DataConfig, tree: SeedTree, y: np.ndarray, natural_sizes: np.ndarray | None) -> HeldOut:
    """Partition the pool among clients and hold out each client's test part."""
    part = natural_partition(natural_sizes) if cfg.partition == "natural" else _partition(cfg, tree, y)
    return held_out_split(part, cfg.test_fraction, tree)


def _require_synthetic(cfg: DataConfig) -> None:
    if cfg.dataset != "synthetic":
        raise DataError(f"data.partition: 'natural' exists only for dataset synthetic, not {cfg.dataset}")


def _idx_path(cfg: DataConfig) -> str:
    if not cfg.path:
        raise DataError("data.path: dataset idx needs a folder of MNIST-format IDX files in data.path")
    return cfg.path


def _weights(cfg: DataConfig, tree: SeedTree) -> np.ndarray | None:
    """Quantity-skew weights, or None without skew (``quantity_skew`` null or 0)."""
    if not cfg.quantity_skew:
        return None
    return quantity_weights(tree, cfg.num_clients, cfg.quantity_skew)


def _pool_size(cfg: DataConfig, tree: SeedTree) -> int:
    if cfg.dataset == "synthetic":
        return int(synthetic.synthetic_sizes(tree, cfg.num_clients).sum())
    if cfg.dataset == "idx":
        return idx.idx_num_samples(_idx_path(cfg))
    return len(_pool(cfg, tree, labels_only=True)[1])


def _pool(
    cfg: DataConfig, tree: SeedTree, labels_only: bool = False
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """``(x, y, natural sizes)`` of the whole pool; ``x`` is None when ``labels_only`` allows it.

    Natural sizes (one block per generating client) exist for synthetic only.
    """
    if cfg.dataset == "synthetic":
        sizes = synthetic.synthetic_sizes(tree, cfg.num_clients)
        x, y = synthetic.generate_synthetic(
            tree, sizes, cfg.synthetic_alpha, cfg.synthetic_beta, cfg.synthetic_iid
        )
        return x, y, sizes
    if cfg.partition == "natural":
        _require_synthetic(cfg)
    if cfg.dataset == "digits":
        x, y = digits.load_digits_arrays()
        return x, y, None
    if cfg.dataset == "idx":
        if labels_only:
            return None, idx.load_idx_labels(_idx_path(cfg)), None
        x, y = idx.load_idx(_idx_path(cfg))
        return x, y, None
    raise DataError(f"data.dataset: unknown dataset {cfg.dataset!r}; expected synthetic, digits or idx")


def _partition(cfg: DataConfig, tree: SeedTree, labels: np.ndarray) -> Partition:
    """Repartition the pool with ``tree.generator(Purpose.PARTITION)`` (no client key)."""
    rng = tree.generator(Purpose.PARTITION)
    weights = _weights(cfg, tree)
    if cfg.partition == "iid":
        return partition_iid(labels, cfg.num_clients, rng, weights)
    if cfg.partition == "dirichlet":
        return partition_dirichlet(labels, cfg.num_clients, cfg.dirichlet_alpha, rng, weights)
    if cfg.partition == "shards":
        return partition_shards(labels, cfg.num_clients, cfg.shards_per_client, rng, weights)
    raise DataError(f"data.partition: unknown partition {cfg.partition!r}; expected natural, iid, dirichlet or shards")
