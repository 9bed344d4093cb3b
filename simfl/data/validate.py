"""Cheap checks of the data a config will use, before anything runs (``simfl validate``).

One pass over the data files and the partition's sizes, no training: for ``idx``, every
file's header and body size (truncated or corrupt files, trailing bytes, a bad magic number),
labels within ``[0, 10)`` and as many labels as images (:func:`simfl.data.idx.check_idx_files`,
the ``check_files`` of its dataset kind);
for every dataset, the client sizes the partition gives (:func:`simfl.data.client_sizes`), so
fewer samples than clients or shards, or a client left without a training sample, fail here
rather than in the middle of a run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simfl.data.dataset import dataset_of
from simfl.data.federated import client_sizes
from simfl.rng import SeedTree

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig

__all__ = ["validate_data", "check_files"]


def check_files(cfg: DataConfig) -> None:
    """The file checks of :func:`validate_data` alone (headers against sizes; nothing per client),
    so that a corrupt file is named before any size estimate built on its header.

    Raises:
        DataError: one line naming the file.
    """
    dataset_of(cfg).check_files(cfg)


def validate_data(cfg: DataConfig, tree: SeedTree) -> np.ndarray:
    """Check the data of ``cfg`` under the seed of ``tree``: its files, then the client sizes
    its partition gives (returned).

    Raises:
        DataError: one line naming the file or the config key to change.
    """
    check_files(cfg)
    return client_sizes(cfg, tree)
