"""scikit-learn's bundled 8x8 handwritten digits (1,797 samples, 10 classes). Never downloads."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simfl.data.dataset import Pool, PooledDataset
from simfl.data.info import DatasetInfo
from simfl.rng import SeedTree

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig

__all__ = ["Digits", "DIGITS_SHAPE", "DIGITS_NUM_CLASSES", "load_digits_arrays"]

#: Input shape of one digit: one channel of 8 x 8 pixels.
DIGITS_SHAPE = (1, 8, 8)
DIGITS_NUM_CLASSES = 10


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The digits as arrays.

    Returns:
        ``(x, y)``: float32 pixels scaled to [0, 1] (the raw values 0..16 divided by 16), shape
        ``(1797, 1, 8, 8)``, and int64 labels ``(1797,)``.
    """
    from sklearn.datasets import load_digits  # imported lazily: scikit-learn is slow to import

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32).reshape(-1, *DIGITS_SHAPE)
    return x, bunch.target.astype(np.int64)


class Digits(PooledDataset):
    """``data.dataset: digits``: scikit-learn's bundled 8x8 digits."""

    def info(self, cfg: DataConfig) -> DatasetInfo:
        """One channel of 8 x 8 pixels, 10 classes."""
        return DatasetInfo(DIGITS_SHAPE, DIGITS_NUM_CLASSES)

    def pool(self, cfg: DataConfig, tree: SeedTree, labels_only: bool = False) -> Pool:
        """All 1,797 digits."""
        x, y = load_digits_arrays()
        return x, y, None
