"""The dataset kinds ``data.dataset`` names, and what the messages say about each, read from
their registry entries (:data:`simfl.registry.BUILTINS`, kind ``dataset``).

Imports only :mod:`simfl.registry` (never a dataset's module): the config schema validates
against these names and the data loaders read them, so neither has to import the other. The
tables are read once, when this module is imported.
"""

from __future__ import annotations

from simfl import registry

__all__ = ["DATASETS", "DATASETS_HELP", "SOURCE_DATASETS", "NATURAL_ID_HINTS", "PATH_HELP"]

_ENTRIES = registry.builtins("dataset")

#: Every value of ``data.dataset``.
DATASETS = tuple(_ENTRIES)

#: What each is (the description of ``data.dataset``).
DATASETS_HELP = "; ".join(f"{name}: {getattr(entry, 'about', '') or name}" for name, entry in _ENTRIES.items())

#: Where each dataset's own client ids come from (for messages): the datasets that bring their own clients.
NATURAL_ID_HINTS = {name: entry.natural_ids for name, entry in _ENTRIES.items()
                    if getattr(entry, "natural_ids", None) is not None}

#: Datasets that bring their own clients (``partition: natural`` = their split; ``num_clients: null`` = all).
SOURCE_DATASETS = tuple(NATURAL_ID_HINTS)

#: What ``data.path`` must name, for the datasets read from files.
PATH_HELP = {name: entry.path_help for name, entry in _ENTRIES.items() if getattr(entry, "path_help", None) is not None}
