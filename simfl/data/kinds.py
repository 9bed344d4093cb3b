"""The dataset kinds ``data.dataset`` names, and what the messages say about each.

A leaf module (no imports): the config schema validates against these names and the data
loaders read them, so neither has to import the other.
"""

from __future__ import annotations

__all__ = ["DATASETS", "SOURCE_DATASETS", "NATURAL_ID_HINTS", "PATH_HELP"]

#: Every value of ``data.dataset``.
DATASETS = ("synthetic", "digits", "idx", "leaf", "arrays", "huggingface", "python")

#: Datasets that bring their own clients (``partition: natural`` = their split; ``num_clients: null`` = all).
SOURCE_DATASETS = ("leaf", "arrays", "huggingface", "python")

#: Where each dataset's client ids come from (for messages).
NATURAL_ID_HINTS = {
    "leaf": "its users",
    "arrays": "a client_id array (.npz) or column (.parquet, data.client_column)",
    "huggingface": "a client column (data.client_column, default client_id)",
    "python": "client_id in what data.source returns",
}

#: What ``data.path`` must name, for the datasets read from files.
PATH_HELP = {
    "idx": "a folder of MNIST-format IDX files",
    "leaf": "a LEAF folder (train/ and test/ of .json files) or a .json file",
    "arrays": "a .npz or .parquet file",
    "huggingface": "a save_to_disk folder or a .parquet/.csv/.json/.arrow file",
}
