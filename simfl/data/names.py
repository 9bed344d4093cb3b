"""Clients by name: which of the data's own clients a run takes (``data.clients``), and the name
of every client of a run (the ``client_name`` column of ``clients.parquet``).

A dataset with its own clients names them (:attr:`~simfl.data.source.Source.names`: LEAF's user
names; an arrays / huggingface / python client id as text, the integer 17 as ``"17"``). Under
``partition: natural`` a run takes, in the data's order,

* ``data.clients: [names...]``: the clients named (the order of the list does not matter: client
  ids ``0..n-1`` follow the data's order, so a client's id does not depend on how the list is
  written); a name that is not a client of the data is a one-line :class:`~simfl.errors.DataError`
  naming it and the closest name there is;
* otherwise its first ``data.num_clients`` clients.

Every other run (a dataset without names of its own, or a repartitioned one) names client ``c``
``str(c)``, so ``clients.parquet`` has one schema for every run.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

import numpy as np

from simfl.data.dataset import dataset_of
from simfl.data.kinds import NATURAL_ID_HINTS
from simfl.data.source import Source, id_names
from simfl.errors import DataError

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig

__all__ = ["chosen_clients", "client_names", "close_name"]

#: Most names searched for a close match of an unknown one (difflib compares them one by one).
_MATCH_LIMIT = 100_000


def chosen_clients(cfg: DataConfig, src: Source) -> np.ndarray:
    """The data's clients a run takes under ``partition: natural``: int64 indices into ``src``'s
    clients, increasing (the data's order).

    Raises:
        DataError: the data have no client ids; more clients asked for than the data have; a
            name in ``data.clients`` that is none of the data's clients.
    """
    k = src.num_clients
    if k is None:
        key = "data.clients" if cfg.clients is not None else "data.partition"
        raise DataError(f"{key}: natural needs client ids in the data ({NATURAL_ID_HINTS[cfg.dataset]}); "
                        f"{src.origin} has none: use iid, dirichlet or shards")
    if cfg.clients is None:
        if cfg.num_clients > k:
            raise DataError(f"data.num_clients: {cfg.num_clients} is more than the {k} clients of {src.origin}; "
                            f"use null for all of them or at most {k} (the first N)")
        return np.arange(cfg.num_clients, dtype=np.int64)
    index = {name: i for i, name in enumerate(src.names.tolist())}
    unknown = next((name for name in cfg.clients if name not in index), None)
    if unknown is not None:
        hint = close_name(unknown, src.names)
        raise DataError(f"data.clients: {unknown!r} is not a client of {src.origin}"
                        + (f"; did you mean {hint!r}?" if hint is not None else ""))
    return np.sort(np.array([index[name] for name in cfg.clients], dtype=np.int64))


def close_name(name: str, names: np.ndarray) -> str | None:
    """The name in ``names`` closest to ``name`` (:func:`difflib.get_close_matches`), or None
    (none close enough, or more than a hundred thousand names to search)."""
    if len(names) > _MATCH_LIMIT:
        return None
    found = difflib.get_close_matches(name, [str(n) for n in names], n=1)
    return found[0] if found else None


def client_names(cfg: DataConfig) -> np.ndarray:
    """The name of every client of a run, in client-id order (object array of ``str``).

    The data's own names of the chosen clients for a dataset with its own clients under
    ``partition: natural``; ``str(c)`` for client ``c`` otherwise.

    Raises:
        DataError: the data cannot be read, or a name in ``data.clients`` is not in them.
    """
    dataset = dataset_of(cfg)
    if dataset.brings_clients and cfg.partition == "natural":
        src = dataset.source(cfg)
        return src.names[chosen_clients(cfg, src)]
    return id_names(np.arange(cfg.num_clients))
