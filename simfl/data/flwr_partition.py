"""Flower Datasets partitioners (``data.partition: flwr``; optional, ``pip install flwr-datasets``).

``data.flwr_partitioner`` names a class of ``flwr_datasets.partitioner`` (``DirichletPartitioner``,
``PathologicalPartitioner``, ``ShardPartitioner``, ``IidPartitioner``, ...) or an import path;
``data.flwr_kwargs`` are its keyword arguments. simfl fills in ``num_partitions`` (=
``data.num_clients``), ``partition_by`` (``"label"``, the pool's label column) and ``seed`` (drawn
from the run's seed tree, ``Purpose.PARTITION``, so the partition depends only on the run's seed
like simfl's own partitioners) unless given. The pool is the same as for simfl's partitioners
(every row, train and test pooled); each client then holds out ``test_fraction`` of its rows.
Rows a partitioner leaves to no client (``PathologicalPartitioner``'s unused classes) are not
used; partitions that overlap are refused.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping

import numpy as np

from simfl.data.partition import Partition
from simfl.errors import ConfigError, DataError

__all__ = ["partition_flwr"]

_KEY = "data.flwr_partitioner"


def _partitioner_class(name: str):
    try:
        import flwr_datasets.partitioner as partitioners
    except ImportError:
        raise DataError("data.partition: flwr needs the optional package flwr-datasets (pip install flwr-datasets)") from None
    if ":" in name:
        from simfl.registry import import_object

        return import_object(name, (), _KEY)
    cls = getattr(partitioners, name, None)
    if not isinstance(cls, type):
        known = sorted(n for n in dir(partitioners) if n.endswith("Partitioner") and n != "Partitioner")
        raise ConfigError(f"{_KEY}: no partitioner {name!r} in flwr_datasets.partitioner; known: {', '.join(known)}")
    return cls


def partition_flwr(
    labels: np.ndarray, num_clients: int, name: str, kwargs: Mapping[str, Any], rng: np.random.Generator
) -> Partition:
    """Split a pool with a Flower Datasets partitioner (see the module docstring).

    Raises:
        DataError: flwr-datasets is missing, or a client gets no row.
        ConfigError: an unknown partitioner, arguments it refuses, or one that is not a
            partitioner of ``num_clients`` disjoint parts.
    """
    import datasets

    cls = _partitioner_class(name)
    params = inspect.signature(cls).parameters
    kw = dict(kwargs)
    if "num_partitions" not in params:
        raise ConfigError(f"{_KEY}: {name} takes no num_partitions (for the data's own clients use partition: natural)")
    kw.setdefault("num_partitions", num_clients)
    if "partition_by" in params:
        kw.setdefault("partition_by", "label")
    if "seed" in params:
        kw.setdefault("seed", int(rng.integers(2**31 - 1)))
    try:
        partitioner = cls(**kw)
    except Exception as exc:  # the partitioner refuses its arguments
        raise ConfigError(f"{_KEY}: {name}({', '.join(f'{k}={v!r}' for k, v in kw.items())}) failed: "
                          f"{type(exc).__name__}: {' '.join(str(exc).split())}") from None
    if kw["num_partitions"] != num_clients:
        raise ConfigError(f"data.flwr_kwargs: num_partitions {kw['num_partitions']} must equal data.num_clients {num_clients}")
    pool = datasets.Dataset.from_dict({"label": np.asarray(labels).tolist(), "_row": np.arange(len(labels)).tolist()})
    partitioner.dataset = pool
    parts = []
    try:
        for c in range(num_clients):
            parts.append(np.asarray(partitioner.load_partition(c).with_format("numpy")["_row"], dtype=np.int64))
    except Exception as exc:  # e.g. a Dirichlet draw that cannot meet min_partition_size
        raise DataError(f"{_KEY}: {name} could not partition the {len(labels)} rows among {num_clients} clients: "
                        f"{type(exc).__name__}: {' '.join(str(exc).split())}") from None
    order = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if len(np.unique(order)) != len(order):
        raise ConfigError(f"{_KEY}: {name} gave overlapping partitions; simfl needs disjoint clients")
    sizes = np.array([len(p) for p in parts], dtype=np.int64)
    return Partition(order, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))
