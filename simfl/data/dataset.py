"""What a dataset kind is (registry kind ``dataset``, named by ``data.dataset``).

Each kind is one small class in the module of its reader, named by one entry of
:data:`simfl.registry.BUILTINS`; the entry also holds, as data, what config validation says
about the kind without importing it (what ``data.path`` must name, where its client ids come
from: :class:`simfl.registry.BuiltinDataset`). Two shapes:

* :class:`PooledDataset` (synthetic, digits, idx): a pool of rows that simfl splits among
  clients; :meth:`~PooledDataset.pool` gives the rows, :meth:`~PooledDataset.pool_size` their
  number as cheaply as the data allow;
* :class:`SourceDataset` (leaf, arrays, huggingface, python): data that bring their own
  clients; :meth:`~SourceDataset.read` reads them into a :class:`~simfl.data.source.Source`,
  kept in memory by :func:`load_source` (the last source read, keyed by what it depends on).

The ``data`` section is flat and shared by every kind (:class:`~simfl.config.schema.DataConfig`),
so a kind's ``Params`` hold its name only; the methods take the section. How to add a kind:
``docs/architecture.md``.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import Field

from simfl import registry
from simfl.data.info import DatasetInfo
from simfl.data.kinds import SOURCE_DATASETS
from simfl.data.source import Source
from simfl.errors import DataError
from simfl.rng import SeedTree
from simfl.strict import StrictModel

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig

__all__ = ["DatasetParams", "Dataset", "PooledDataset", "SourceDataset", "Pool", "dataset_of", "common_arguments",
           "column_arguments", "load_source", "clear_source_cache"]

#: ``(x, y, natural sizes)`` of a pool: ``x`` None when only labels were asked for; the natural
#: sizes (rows per generating client, in order) only for a kind with a natural grouping.
Pool = tuple[np.ndarray | None, np.ndarray, np.ndarray | None]


class DatasetParams(StrictModel):
    """A dataset kind's own keys: its name (the rest of the ``data`` section is shared by every kind)."""

    type: str = Field(description="the dataset kind (data.dataset)")


class Dataset:
    """A kind of ``data.dataset``: built as ``cls(params)`` from its ``Params``."""

    Params: ClassVar[type[DatasetParams]] = DatasetParams
    #: True for data that bring their own clients (:class:`SourceDataset`).
    brings_clients: ClassVar[bool] = False

    def __init__(self, params: DatasetParams) -> None:
        self.params = params

    @property
    def name(self) -> str:
        """The kind's name (``data.dataset``)."""
        return self.params.type

    def info(self, cfg: DataConfig) -> DatasetInfo:
        """Input shape and number of classes, without loading the samples where the data allow."""
        raise NotImplementedError

    info.__simfl_default__ = True  # type: ignore[attr-defined]  (the registry's hook check)

    def check_files(self, cfg: DataConfig) -> None:
        """Cheap checks of the files (headers against sizes) before anything is built on them."""


class PooledDataset(Dataset):
    """A pool of rows that simfl splits among clients (partition iid, dirichlet, shards, flwr)."""

    #: True when the rows come grouped by generating client (``partition: natural`` keeps that grouping).
    natural: ClassVar[bool] = False

    def pool(self, cfg: DataConfig, tree: SeedTree, labels_only: bool = False) -> Pool:
        """The whole pool (see :data:`Pool`); ``x`` may be None when ``labels_only`` allows it."""
        raise NotImplementedError

    def pool_size(self, cfg: DataConfig, tree: SeedTree) -> int:
        """Number of rows in the pool (this default reads the labels)."""
        return len(self.pool(cfg, tree, labels_only=True)[1])

    def natural_sizes(self, cfg: DataConfig, tree: SeedTree) -> np.ndarray:
        """Rows per generating client, for a kind with :attr:`natural` grouping."""
        raise NotImplementedError(f"{self.name} has no natural grouping")


class SourceDataset(Dataset):
    """Data that bring their own clients (``partition: natural`` = their split; ``num_clients: null`` = all)."""

    brings_clients = True

    def read(self, cfg: DataConfig) -> Source:
        """Read (or call) the data, uncached: :meth:`source` is the cached way."""
        raise NotImplementedError

    def source(self, cfg: DataConfig) -> Source:
        """The checked data, from memory when nothing they depend on changed."""
        return load_source(cfg)

    def info(self, cfg: DataConfig) -> DatasetInfo:
        """What the data hold, as read (they are read once and kept in memory)."""
        return self.source(cfg).info

    def cache_key(self, cfg: DataConfig) -> tuple:
        """What the data depend on besides the shared keys of the ``data`` section (none by default)."""
        return ()


def common_arguments(cfg: DataConfig) -> dict:
    """The keyword arguments every reader takes: ``input_dtype``, ``num_classes``, ``input_shape``."""
    return {"input_dtype": cfg.input_dtype, "num_classes": cfg.num_classes,
            "input_shape": tuple(cfg.input_shape) if cfg.input_shape else None}


def column_arguments(cfg: DataConfig) -> dict:
    """The column keys of a table reader: ``features``, ``label``, ``client_column``."""
    return {"features": cfg.feature_columns, "label": cfg.label, "client_column": cfg.client_column}


# ----------------------------------------------------------------- the cache of sources
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
