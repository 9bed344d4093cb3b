"""Per-client held-out splits: every client keeps ``floor(test_fraction * n_c)`` samples for
testing and, when asked, ``floor(validation_fraction * m_c)`` of its remaining ``m_c`` training
samples for validation.

As in FedProx / LEAF, the global test set is the union of the clients' held-out parts. Which of
client ``c``'s samples are held out is drawn from ``tree.generator(Purpose.PARTITION, c)`` (test)
and ``tree.generator(Purpose.VALIDATION, c)`` (validation), so it depends only on ``(seed, c)`` and
the client's samples; the test rows do not depend on the validation fraction.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from simfl.data.partition import Partition
from simfl.errors import DataError
from simfl.rng import Purpose, SeedTree

__all__ = ["HeldOut", "held_out_counts", "train_counts", "held_out_split", "with_validation"]


class HeldOut(NamedTuple):
    """Pool indices of every client's train and test (and validation) parts, each grouped by client."""

    train: np.ndarray  # int64 pool indices
    train_offsets: np.ndarray  # int64, (num_clients + 1,)
    test: np.ndarray  # int64 pool indices
    test_offsets: np.ndarray  # int64, (num_clients + 1,)
    validation: np.ndarray | None = None  # int64 pool indices (None: no validation split)
    validation_offsets: np.ndarray | None = None  # int64, (num_clients + 1,)


def held_out_counts(sizes: np.ndarray, test_fraction: float) -> np.ndarray:
    """``floor(test_fraction * n_c)`` per client (float64 product), never more than ``n_c - 1``."""
    sizes = np.asarray(sizes, dtype=np.int64)
    return np.minimum(np.floor(test_fraction * sizes).astype(np.int64), np.maximum(sizes - 1, 0))


def train_counts(sizes: np.ndarray, test_fraction: float) -> np.ndarray:
    """Training samples per client, ``n_c - held_out_counts(n_c)``.

    Raises:
        DataError: a client would have no training sample.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    train = sizes - held_out_counts(sizes, test_fraction)
    if len(train) and train.min() < 1:
        empty = int(np.argmin(train))
        raise DataError(
            f"data.num_clients={len(sizes)}: client {empty} gets no training sample; "
            "use fewer clients or a larger dataset"
        )
    return train


def _offsets(sizes: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)


def _hold_out(blocks: np.ndarray, offsets: np.ndarray, fraction: float, purpose: Purpose,
              tree: SeedTree) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split each client's block ``blocks[offsets[c]:offsets[c + 1]]`` into the rows it keeps and the
    ``held_out_counts(n_c, fraction)`` it holds out, chosen uniformly without replacement by
    ``tree.generator(purpose, c)``; both parts keep the block's order.

    Returns:
        ``(kept, kept_offsets, held, held_offsets)``.

    Raises:
        DataError: a client would keep no sample.
    """
    sizes = np.diff(offsets)
    n_held = held_out_counts(sizes, fraction)
    kept_offsets, held_offsets = _offsets(train_counts(sizes, fraction)), _offsets(n_held)
    kept = np.empty(int(kept_offsets[-1]), dtype=np.int64)
    held = np.empty(int(held_offsets[-1]), dtype=np.int64)
    for c, k in enumerate(n_held.tolist()):
        idx = blocks[offsets[c] : offsets[c + 1]]
        out = np.zeros(len(idx), dtype=bool)
        if k:
            out[tree.generator(purpose, c).choice(len(idx), k, replace=False)] = True
        kept[kept_offsets[c] : kept_offsets[c + 1]] = idx[~out]
        held[held_offsets[c] : held_offsets[c + 1]] = idx[out]
    return kept, kept_offsets, held, held_offsets


def held_out_split(partition: Partition, test_fraction: float, tree: SeedTree) -> HeldOut:
    """Split every client's samples into local train and local test parts.

    Client ``c`` holds out ``held_out_counts(n_c)`` samples chosen uniformly without replacement by
    ``tree.generator(Purpose.PARTITION, c)``; both parts keep the partition's order.

    Raises:
        DataError: a client would have no training sample.
    """
    return HeldOut(*_hold_out(partition.order, partition.offsets, test_fraction, Purpose.PARTITION, tree))


def with_validation(held: HeldOut, fraction: float, tree: SeedTree) -> HeldOut:
    """Hold out ``held_out_counts(m_c, fraction)`` of each client's ``m_c`` training rows as its
    validation part (chosen uniformly without replacement by ``tree.generator(Purpose.VALIDATION, c)``;
    both parts keep their order). The test part is left as it is. ``fraction`` 0: ``held`` unchanged.

    Raises:
        DataError: a client would have no training sample.
    """
    if not fraction:
        return held
    train, train_offsets, validation, val_offsets = _hold_out(held.train, held.train_offsets, fraction,
                                                              Purpose.VALIDATION, tree)
    return held._replace(train=train, train_offsets=train_offsets, validation=validation,
                         validation_offsets=val_offsets)
