"""The dataset kind a data section names, and loading the data of one that brings its own clients.

:func:`dataset_of` builds the :class:`~simfl.data.dataset.Dataset` that ``data.dataset`` names
(registry kind ``dataset``). :func:`load_source` reads (or calls) the data of a kind that brings
its own clients (``leaf``, ``arrays``, ``huggingface``, ``python``: its
:meth:`~simfl.data.dataset.SourceDataset.read`) and returns a checked
:class:`~simfl.data.source.Source`. The last source loaded is kept in
memory, keyed by everything it depends on (the dataset, the files' names, sizes and
modification times, the function and its arguments, the column and dtype keys), so validating
a config (which counts the clients), checking it and running it read the files once, and so do
the runs of a sweep in one process. :func:`clear_source_cache` forgets it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from simfl import registry
from simfl.data.kinds import NATURAL_ID_HINTS, SOURCE_DATASETS
from simfl.data.source import Source
from simfl.errors import DataError

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig
    from simfl.data.dataset import Dataset

__all__ = ["SOURCE_DATASETS", "NATURAL_ID_HINTS", "dataset_of", "load_source", "natural_client_count",
           "clear_source_cache"]

_lock = threading.Lock()
_cache: dict[tuple, Source] = {}


def clear_source_cache() -> None:
    """Forget the source kept in memory."""
    with _lock:
        _cache.clear()


def _fingerprint(path: str | None) -> tuple:
    if not path:
        return (None,)
    p = Path(path).expanduser()
    try:
        if p.is_file():
            st = p.stat()
            return (str(p.resolve()), st.st_size, st.st_mtime_ns)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file())
            return (str(p.resolve()), *((str(f.relative_to(p)), f.stat().st_size, f.stat().st_mtime_ns) for f in files))
    except OSError:
        pass
    return (str(p),)


def dataset_of(cfg: DataConfig) -> Dataset:
    """The dataset kind ``cfg.dataset`` names, built from the registry (kind ``dataset``).

    Raises:
        PluginError: not a dataset kind (one line naming ``data.dataset``).
    """
    component = registry.resolve("dataset", cfg.dataset)
    return component.build(component.params(type=cfg.dataset))


def _key(cfg: DataConfig, dataset: Dataset) -> tuple:
    return (
        cfg.dataset,
        _fingerprint(cfg.path),
        cfg.source,
        json.dumps(cfg.source_kwargs, sort_keys=True, default=repr),
        dataset.cache_key(cfg),
        tuple(cfg.feature_columns or ()),
        cfg.label,
        cfg.client_column,
        cfg.input_dtype,
        cfg.num_classes,
        tuple(cfg.input_shape or ()),
    )


def load_source(cfg: DataConfig) -> Source:
    """The checked dataset of ``cfg`` (one of :data:`SOURCE_DATASETS`), from memory if unchanged.

    Raises:
        DataError: a missing or malformed file, or a malformed result of ``data.source``.
        PluginError: ``data.source`` cannot be imported or raised.
    """
    dataset = dataset_of(cfg)
    if not dataset.brings_clients:
        raise DataError(f"data.dataset: {cfg.dataset} is not one of {', '.join(SOURCE_DATASETS)}")
    key = _key(cfg, dataset)
    with _lock:
        if key in _cache:
            return _cache[key]
    src = dataset.read(cfg)
    with _lock:
        _cache.clear()
        _cache[key] = src
    return src


def natural_client_count(cfg: DataConfig) -> int | None:
    """Number of clients in the data's own split (LEAF users, distinct client ids), None without ids."""
    return load_source(cfg).num_clients
