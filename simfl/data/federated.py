"""From a :class:`~simfl.config.schema.DataConfig` to every client's train and test arrays.

The pipeline is the same for every dataset kind (:mod:`simfl.data.dataset`, named by
``data.dataset`` through the registry): build the pool (a pooled kind's ``pool`` — synthetic:
each client's generated samples, grouped by client; digits; idx: train + t10k — or the ``source``
of a kind with its own clients — leaf / arrays / huggingface / python: the data's rows grouped by
their own clients, then their own test rows), split it among clients
(``natural`` keeps the synthetic or the data's own grouping; ``iid`` / ``dirichlet`` /
``shards`` repartition it with ``tree.generator(Purpose.PARTITION)``), then hold out part of
every client's samples (:mod:`simfl.data.split`) — except under ``natural`` for data with a
test set of their own, which is used as it is (see :class:`~simfl.config.schema.DataConfig`). ``quantity_skew`` applies to the repartitioning partitions only
(``natural`` sizes are the synthetic size law). :func:`client_sizes` runs the same steps without features, so it
always equals ``load_data(cfg, tree).client_sizes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simfl import registry
from simfl.data.dataset import Pool, PooledDataset, dataset_of
from simfl.data.info import DatasetInfo
from simfl.data.loaders import SOURCE_DATASETS
from simfl.data.names import chosen_clients
from simfl.data.partition import (
    Partition,
    iid_sizes,
    natural_partition,
    partition_dirichlet,
    partition_iid,
    partition_shards,
    quantity_weights,
)
from simfl.data.source import Source
from simfl.data.split import HeldOut, held_out_split, train_counts, with_validation
from simfl.errors import ConfigError, DataError
from simfl.models.base import LayerModel
from simfl.rng import Purpose, SeedTree

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig

__all__ = ["DatasetInfo", "FederatedData", "dataset_info", "client_sizes", "load_data", "train_labels", "check_data",
           "BUILTIN_MODELS", "EVAL_SPLITS"]


#: simfl's own model types built as stacks of layers (registry kind ``model``): they take float32
#: features, not token ids. Read from the registry's built-in entries (never an installed plugin's).
BUILTIN_MODELS = tuple(name for name in registry.builtins("model")
                       if issubclass(registry.resolve("model", name).target, LayerModel))


@dataclass(frozen=True, eq=False)
class FederatedData:
    """Every client's local train and test samples, each grouped by client.

    Client ``c`` trains on ``x[offsets[c]:offsets[c + 1]]`` and holds out
    ``x_test[test_offsets[c]:test_offsets[c + 1]]``; the global test set is all of ``x_test``.
    A *shared* test set (data whose own test set has no client ids, e.g. LEAF split by user) is
    held by no client: ``test_offsets`` is all zeros (:attr:`test_by_client` is False).
    """

    x: np.ndarray  # info.input_dtype (float32 features | int64 token ids), (n_train, *info.input_shape)
    y: np.ndarray  # int64, (n_train,)
    offsets: np.ndarray  # int64, (num_clients + 1,), offsets[0] == 0, offsets[-1] == n_train
    x_test: np.ndarray  # like x, (n_test, *info.input_shape)
    y_test: np.ndarray  # int64, (n_test,)
    test_offsets: np.ndarray  # int64, (num_clients + 1,); offsets[-1] == n_test, or all 0 (shared test set)
    info: DatasetInfo
    #: which held-out rows ``x_test`` / ``y_test`` are: ``test``, or ``validation`` (the clients'
    #: validation rows; the test split is then not in this object at all)
    held_out: str = "test"

    def __post_init__(self) -> None:
        for name, xs, ys, offs in (
            ("train", self.x, self.y, self.offsets),
            ("test", self.x_test, self.y_test, self.test_offsets),
        ):
            shared = name == "test" and offs[-1] == 0
            if not (len(xs) == len(ys) and (shared or len(xs) == offs[-1]) and offs[0] == 0
                    and len(offs) == len(self.offsets)):
                raise ValueError(f"inconsistent {name} arrays: {len(xs)} x, {len(ys)} y, offsets {offs[0]}..{offs[-1]}")

    @property
    def num_clients(self) -> int:
        """Number of clients."""
        return len(self.offsets) - 1

    @property
    def test_by_client(self) -> bool:
        """False for a shared test set held by no client (see the class docstring)."""
        return int(self.test_offsets[-1]) == len(self.x_test)

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

    For ``idx`` only the images headers are read; leaf / arrays / huggingface / python are read
    once and kept in memory (:mod:`simfl.data.loaders`).

    Raises:
        DataError: files missing or malformed.
    """
    return dataset_of(cfg).info(cfg)


def client_sizes(cfg: DataConfig, tree: SeedTree) -> np.ndarray:
    """Training samples per client, equal to ``load_data(cfg, tree).client_sizes``.

    Cheap where it can be: ``synthetic`` + ``natural`` is vectorized and generates nothing
    (a million clients in well under a second); ``iid`` needs only the pool size (idx: from the
    labels headers); ``dirichlet`` and ``shards`` need the pool's labels (idx: the labels files
    only; synthetic: the features are generated to label them).

    Raises:
        DataError: the data cannot be read, or some client would get no training sample.
    """
    dataset = dataset_of(cfg)
    if dataset.brings_clients:
        return _source_sizes(cfg, tree, dataset.source(cfg))
    if cfg.partition == "natural":
        sizes = _natural(cfg, dataset).natural_sizes(cfg, tree)
    elif cfg.partition == "iid":
        sizes = iid_sizes(dataset.pool_size(cfg, tree), cfg.num_clients, _weights(cfg, tree))
    else:
        _, labels, _ = _pool(cfg, tree, dataset, labels_only=True)
        sizes = _partition(cfg, tree, labels).sizes
    return _minus_validation(cfg, train_counts(sizes, cfg.test_fraction))


#: The held-out parts a run can be evaluated on (``eval.split``).
EVAL_SPLITS = ("test", "validation")


def load_data(cfg: DataConfig, tree: SeedTree, evaluate_on: str = "test") -> FederatedData:
    """Build every client's local train arrays and the held-out arrays the run is evaluated on.

    Same ``(cfg, seed)``, same arrays. Under ``natural``, client ``c``'s samples depend only
    on ``(seed, c)``, not on ``num_clients`` (common random numbers). With
    ``cfg.validation_fraction`` > 0 each client's validation rows are taken out of its training
    rows (either way: the training data do not depend on ``evaluate_on``).

    Args:
        cfg: the data section.
        tree: the run's seed tree.
        evaluate_on: ``test`` — ``x_test`` / ``y_test`` are the test split; ``validation`` — they
            are the clients' validation rows, and no row of the test split is taken into the
            result (what tuning trials evaluate on: :mod:`simfl.tuning`).

    Raises:
        DataError: the data cannot be read, or some client would get no training sample.
    """
    if evaluate_on not in EVAL_SPLITS:
        raise ValueError(f"evaluate_on must be one of {EVAL_SPLITS}, got {evaluate_on!r}")
    dataset = dataset_of(cfg)
    if dataset.brings_clients:
        src = dataset.source(cfg)
        x, y, x_more, y_more = src.x, src.y, src.x_test, src.y_test
        split = _validation(cfg, tree, _source_split(cfg, tree, src))
        info = src.info
    else:
        x, y, natural_sizes = _pool(cfg, tree, dataset)
        x_more = y_more = None
        split = _validation(cfg, tree, _split(cfg, tree, y, natural_sizes))
        info = DatasetInfo(x.shape[1:], dataset.info(cfg).num_classes)
    held, held_offsets = ((split.validation, split.validation_offsets) if evaluate_on == "validation"
                          else (split.test, split.test_offsets))
    return FederatedData(
        x=_take(x, x_more, split.train),
        y=_take(y, y_more, split.train),
        offsets=split.train_offsets,
        x_test=_take(x, x_more, held),
        y_test=_take(y, y_more, held),
        test_offsets=held_offsets,
        info=info,
        held_out=evaluate_on,
    )


def train_labels(cfg: DataConfig, tree: SeedTree) -> tuple[np.ndarray, np.ndarray]:
    """Every client's training labels: ``(y, offsets)`` equal to ``load_data(cfg, tree)``'s.

    Client ``c``'s labels are ``y[offsets[c]:offsets[c + 1]]``. The same steps as
    :func:`load_data`, without reading features where the dataset allows it (idx: the labels
    files only).

    Raises:
        DataError: the data cannot be read, or some client would get no training sample.
    """
    dataset = dataset_of(cfg)
    if dataset.brings_clients:
        src = dataset.source(cfg)
        split = _validation(cfg, tree, _source_split(cfg, tree, src))
        return _take(src.y, src.y_test, split.train), split.train_offsets
    _, y, natural_sizes = _pool(cfg, tree, dataset, labels_only=True)
    split = _validation(cfg, tree, _split(cfg, tree, y, natural_sizes))
    return y[split.train], split.train_offsets


def check_data(config) -> None:
    """Checks of a run's data that need the data (cheap after the first read: kept in memory).

    Reads and checks a leaf / arrays / huggingface / python source whole, so that a malformed
    file fails ``simfl validate``; refuses a built-in model on token-id inputs and per-client
    evaluation or drift with a shared test set.

    Args:
        config: a :class:`~simfl.config.schema.Config`.

    Raises:
        DataError: malformed data. ConfigError: a model or evaluation the data cannot serve.
    """
    data = config.data
    dataset = dataset_of(data)
    if not dataset.brings_clients:
        return
    src = dataset.source(data)
    _source_sizes(data, SeedTree(config.seed), src)  # enough clients, each with a training sample
    if src.info.is_sequence and config.model.type in BUILTIN_MODELS:
        raise ConfigError(
            f"model.type: {config.model.type} needs float features, but {src.origin} holds integer token ids "
            "(input_dtype int64): use model.type: torch with an embedding, or data.input_dtype: float32 to read "
            "them as numbers"
        )
    if data.partition == "natural" and src.x_test is not None and src.test_offsets is None:
        key = "eval.per_client" if config.eval.per_client else "data.drift" if data.drift else None
        if key is not None:
            raise ConfigError(
                f"{key}: {src.origin} has a shared test set (no client ids), so clients hold no test data; "
                "give the test rows client ids, or use a repartitioning partition"
            )


# ----------------------------------------------------------------------------- internals
def _source_sizes(cfg: DataConfig, tree: SeedTree, src: Source) -> np.ndarray:
    """``np.diff(_source_split(...).train_offsets)`` without drawing which rows are held out."""
    if cfg.partition != "natural":
        labels = src.y if src.y_test is None else np.concatenate([src.y, src.y_test])
        return _minus_validation(cfg, train_counts(_partition(cfg, tree, labels).sizes, cfg.test_fraction))
    chosen = chosen_clients(cfg, src)
    sizes = src.sizes[chosen]
    return _minus_validation(cfg, sizes if src.x_test is not None else train_counts(sizes, cfg.test_fraction))


def _minus_validation(cfg: DataConfig, sizes: np.ndarray) -> np.ndarray:
    """Training samples left once each client's validation rows are held out (``validation_fraction``)."""
    return train_counts(sizes, cfg.validation_fraction) if cfg.validation_fraction else sizes


def _validation(cfg: DataConfig, tree: SeedTree, split: HeldOut) -> HeldOut:
    """``split`` with each client's validation rows taken out of its training rows."""
    return with_validation(split, cfg.validation_fraction, tree)


def _natural_rows(chosen: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (indices into the data's rows grouped by client, as ``offsets`` group them) and their
    offsets, of the ``chosen`` clients (:func:`~simfl.data.names.chosen_clients`)."""
    sizes = np.diff(offsets)[chosen]
    new_offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
    starts = np.repeat(offsets[chosen] - new_offsets[:-1], sizes)
    return np.arange(int(new_offsets[-1]), dtype=np.int64) + starts, new_offsets


def _source_split(cfg: DataConfig, tree: SeedTree, src: Source) -> HeldOut:
    """Train and test rows of every client, as indices into ``concat(src.x, src.x_test)``.

    ``natural``: the clients named by ``data.clients``, else the first ``num_clients`` of the
    data's clients; their own test rows (or the shared test set, whole), else ``test_fraction``
    held out per client. Otherwise the train and test rows are pooled, repartitioned and held out
    as for the other datasets.
    """
    n = len(src.x)
    n_test = 0 if src.x_test is None else len(src.x_test)
    if cfg.partition != "natural":
        labels = src.y if src.y_test is None else np.concatenate([src.y, src.y_test])
        return held_out_split(_partition(cfg, tree, labels), cfg.test_fraction, tree)
    chosen = chosen_clients(cfg, src)
    rows, offsets = _natural_rows(chosen, src.offsets)
    if src.x_test is None:
        return held_out_split(Partition(rows, offsets), cfg.test_fraction, tree)
    if src.test_offsets is None:  # shared: every test row, held by no client
        test, test_offsets = np.arange(n, n + n_test, dtype=np.int64), np.zeros(len(offsets), dtype=np.int64)
    else:
        test, test_offsets = _natural_rows(chosen, src.test_offsets)
        test = test + n
    return HeldOut(rows, offsets, test, test_offsets)


def _take(a: np.ndarray, b: np.ndarray | None, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of ``concat(a, b)`` without building it."""
    if b is None or not len(b) or not len(idx) or idx.max() < len(a):
        return a[idx]
    out = np.empty((len(idx), *a.shape[1:]), dtype=a.dtype)
    mine = idx < len(a)
    out[mine] = a[idx[mine]]
    out[~mine] = b[idx[~mine] - len(a)]
    return out


def _split(cfg: DataConfig, tree: SeedTree, y: np.ndarray, natural_sizes: np.ndarray | None) -> HeldOut:
    """Partition the pool among clients and hold out each client's test part."""
    part = natural_partition(natural_sizes) if cfg.partition == "natural" else _partition(cfg, tree, y)
    return held_out_split(part, cfg.test_fraction, tree)


def _natural(cfg: DataConfig, dataset: PooledDataset) -> PooledDataset:
    """``dataset``, if its rows come grouped by client (``partition: natural``)."""
    if not dataset.natural:
        raise DataError(
            f"data.partition: 'natural' exists for synthetic and {', '.join(SOURCE_DATASETS)}, not {cfg.dataset}"
        )
    return dataset


def _weights(cfg: DataConfig, tree: SeedTree) -> np.ndarray | None:
    """Quantity-skew weights, or None without skew (``quantity_skew`` null or 0)."""
    if not cfg.quantity_skew:
        return None
    return quantity_weights(tree, cfg.num_clients, cfg.quantity_skew)


def _pool(cfg: DataConfig, tree: SeedTree, dataset: PooledDataset, labels_only: bool = False) -> Pool:
    """``(x, y, natural sizes)`` of the whole pool (:data:`~simfl.data.dataset.Pool`); under
    ``partition: natural`` only for a dataset whose rows come grouped by client."""
    if cfg.partition == "natural":
        _natural(cfg, dataset)
    return dataset.pool(cfg, tree, labels_only)


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
    if cfg.partition == "flwr":
        from simfl.data.flwr_partition import partition_flwr

        return partition_flwr(labels, cfg.num_clients, cfg.flwr_partitioner, cfg.flwr_kwargs, rng)
    raise DataError(f"data.partition: unknown partition {cfg.partition!r}; expected natural, iid, dirichlet or shards")
