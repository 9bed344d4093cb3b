"""Loading a dataset that brings its own clients (``leaf``, ``arrays``, ``huggingface``, ``python``).

:func:`load_source` reads (or calls) the source named by a :class:`~simfl.config.schema.DataConfig`
and returns a checked :class:`~simfl.data.source.Source`. The last source loaded is kept in
memory, keyed by everything it depends on (the dataset, the files' names, sizes and
modification times, the function and its arguments, the column and dtype keys), so validating
a config (which counts the clients), checking it and running it read the files once, and so do
the runs of a sweep in one process. :func:`clear_source_cache` forgets it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simfl.data.kinds import NATURAL_ID_HINTS, SOURCE_DATASETS
from simfl.data.source import Source
from simfl.errors import DataError

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig

__all__ = ["SOURCE_DATASETS", "NATURAL_ID_HINTS", "load_source", "natural_client_count", "clear_source_cache"]

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


def _key(cfg: DataConfig) -> tuple:
    return (
        cfg.dataset,
        _fingerprint(cfg.path),
        cfg.source,
        json.dumps(cfg.source_kwargs, sort_keys=True, default=repr),
        cfg.search_path if cfg.dataset == "python" else (),
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
    key = _key(cfg)
    with _lock:
        if key in _cache:
            return _cache[key]
    src = _load(cfg)
    with _lock:
        _cache.clear()
        _cache[key] = src
    return src


def _load(cfg: DataConfig) -> Source:
    common: dict[str, Any] = {"input_dtype": cfg.input_dtype, "num_classes": cfg.num_classes,
                              "input_shape": tuple(cfg.input_shape) if cfg.input_shape else None}
    columns = {"features": cfg.feature_columns, "label": cfg.label, "client_column": cfg.client_column}
    if cfg.dataset == "leaf":
        from simfl.data.leaf import load_leaf

        return load_leaf(cfg.path, **common)
    if cfg.dataset == "arrays":
        from simfl.data.arrays import load_arrays

        return load_arrays(cfg.path, **common, **columns)
    if cfg.dataset == "huggingface":
        from simfl.data.hf import load_huggingface

        return load_huggingface(cfg.path, **common, **columns)
    if cfg.dataset == "python":
        from simfl.data.pysource import load_python

        return load_python(cfg.source, cfg.source_kwargs, cfg.search_path, **common)
    raise DataError(f"data.dataset: {cfg.dataset} is not one of {', '.join(SOURCE_DATASETS)}")


def natural_client_count(cfg: DataConfig) -> int | None:
    """Number of clients in the data's own split (LEAF users, distinct client ids), None without ids."""
    return load_source(cfg).num_clients
