"""What every client holds: per-client label counts of the training split (``simfl partition``).

The table has one row per client and label present, columns ``client_id``, ``client_name``
(the client's name, :func:`~simfl.data.client_names`: the data's own, else the id as text),
``label``, ``count`` (integers int64), sorted by client then label. Counts are of the training part of each
client's samples, exactly as :func:`~simfl.data.load_data` builds it (held-out samples are
not counted; concept drift, which relabels samples later in a run, is not applied), so a
client's counts sum to its ``num_samples`` in ``clients.parquet``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from simfl.data.federated import train_labels
from simfl.data.names import client_names
from simfl.data.source import id_names
from simfl.errors import DataError
from simfl.rng import SeedTree

if TYPE_CHECKING:
    from simfl.config.schema import Config

__all__ = [
    "LABEL_COUNT_COLUMNS",
    "LabelCountSummary",
    "label_counts",
    "label_count_table",
    "summarize_label_counts",
    "read_label_counts",
]

#: Columns of a label-count table, in order (``client_name`` may be missing from tables written
#: before it existed; the others are integers).
LABEL_COUNT_COLUMNS = ("client_id", "client_name", "label", "count")
_INTEGER_COLUMNS = ("client_id", "label", "count")


class LabelCountSummary(NamedTuple):
    """The numbers ``simfl partition`` prints about a label-count table."""

    clients: int  # clients in the table
    samples: int  # training samples, all clients
    labels: int  # distinct labels, all clients
    size_min: int  # smallest client (training samples)
    size_median: float
    size_max: int
    mean_labels_per_client: float  # mean number of distinct labels a client holds

    def __str__(self) -> str:
        return (
            f"{self.clients} clients, {self.samples} training samples, {self.labels} labels; "
            f"client size min {self.size_min} / median {self.size_median:g} / max {self.size_max}; "
            f"{self.mean_labels_per_client:.2f} labels per client on average"
        )


def label_count_table(labels: np.ndarray, offsets: np.ndarray, names=None) -> pd.DataFrame:
    """The label-count table of clients grouped by ``offsets``.

    Args:
        labels: int labels (non-negative), grouped by client.
        offsets: client ``c`` holds ``labels[offsets[c]:offsets[c + 1]]``.
        names: client ``c``'s name is ``names[c]``; None: its id as text.

    Returns:
        One row per client and label present: ``client_id``, ``client_name``, ``label``,
        ``count`` (int64), sorted by ``client_id`` then ``label``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    sizes = np.diff(np.asarray(offsets, dtype=np.int64))
    client = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    width = int(labels.max()) + 1 if len(labels) else 1
    keys, counts = np.unique(client * width + labels, return_counts=True)  # sorted: client, label
    names = id_names(np.arange(len(sizes))) if names is None else np.asarray(names, dtype=object)
    return pd.DataFrame(
        {"client_id": keys // width, "client_name": names[keys // width], "label": keys % width,
         "count": counts.astype(np.int64)},
        columns=list(LABEL_COUNT_COLUMNS),
    )


def label_counts(config: Config) -> pd.DataFrame:
    """Per-client label counts of the training split of ``config`` (its data and seed).

    Example::

        counts = simfl.data.label_counts(simfl.load_config("configs/digits_cnn_dirichlet.yaml"))
        counts.pivot(index="client_id", columns="label", values="count").fillna(0)

    Raises:
        DataError: the data cannot be read, or some client would get no training sample.
    """
    y, offsets = train_labels(config.data, SeedTree(config.seed))
    return label_count_table(y, offsets, client_names(config.data))


def summarize_label_counts(counts: pd.DataFrame) -> LabelCountSummary:
    """Clients, sizes (min / median / max) and mean labels per client of a label-count table.

    Only clients with a row count (a client with no sample has no row).
    """
    sizes = counts.groupby("client_id")["count"].sum()
    per_client = counts.loc[counts["count"] > 0].groupby("client_id")["label"].nunique()
    if sizes.empty:
        return LabelCountSummary(0, 0, 0, 0, float("nan"), 0, float("nan"))
    return LabelCountSummary(
        clients=len(sizes),
        samples=int(sizes.sum()),
        labels=int(counts.loc[counts["count"] > 0, "label"].nunique()),
        size_min=int(sizes.min()),
        size_median=float(sizes.median()),
        size_max=int(sizes.max()),
        mean_labels_per_client=float(per_client.reindex(sizes.index, fill_value=0).mean()),
    )


def read_label_counts(path: str | Path) -> pd.DataFrame:
    """Read a label-count table written by ``simfl partition`` and check its columns.

    Raises:
        DataError: the file is unreadable or not a label-count table (columns ``client_id``,
            ``label``, ``count`` of integers, counts non-negative; ``client_name`` of text if present).
    """
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not parquet
        raise DataError(f"{path}: not a readable parquet file ({type(exc).__name__})") from None
    missing = [c for c in _INTEGER_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: not a label-count table: no column {', '.join(missing)} "
            f"(expected {', '.join(LABEL_COUNT_COLUMNS)}; has {', '.join(map(str, df.columns)) or 'none'})"
        )
    if "client_name" in df.columns and not df["client_name"].map(lambda v: isinstance(v, str)).all():
        raise DataError(f"{path}: column client_name must hold text (the clients' names)")
    for col in _INTEGER_COLUMNS:
        if not pd.api.types.is_integer_dtype(df[col]):
            raise DataError(f"{path}: column {col} must hold integers, not {df[col].dtype}")
    if (df["count"] < 0).any():
        raise DataError(f"{path}: column count has negative values")
    return df
