"""The dataset kind a data section names, and loading the data of one that brings its own clients.

:func:`dataset_of` builds the :class:`~simfl.data.dataset.Dataset` that ``data.dataset`` names
(registry kind ``dataset``). :func:`load_source` reads (or calls) the data of a kind that brings
its own clients (``leaf``, ``arrays``, ``huggingface``, ``python``: its
:meth:`~simfl.data.dataset.SourceDataset.read`) and returns a checked
:class:`~simfl.data.source.Source`. The last source loaded is kept in
memory, keyed by everything it depends on (the dataset, the files' names, sizes and
modification times, the function and its arguments, the column and dtype keys), so validating
a config (which counts the clients), checking it and running it read the files once, and so do
the runs of a sweep in one process. :func:`clear_source_cache` forgets it. (The three live in
:mod:`simfl.data.dataset`, beside the kinds that use the cache; this module is their address.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simfl.data.dataset import clear_source_cache, dataset_of, load_source
from simfl.data.kinds import NATURAL_ID_HINTS, SOURCE_DATASETS

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig

__all__ = ["SOURCE_DATASETS", "NATURAL_ID_HINTS", "dataset_of", "load_source", "natural_client_count",
           "clear_source_cache"]


def natural_client_count(cfg: DataConfig) -> int | None:
    """Number of clients in the data's own split (LEAF users, distinct client ids), None without ids."""
    return load_source(cfg).num_clients
