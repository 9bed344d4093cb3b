"""Datasets and partitioners: FedProx Synthetic(alpha, beta), scikit-learn digits, local IDX files,
and datasets with their own clients: LEAF JSON, ``.npz`` / Parquet arrays, Hugging Face datasets on
disk, and arrays returned by a Python function.

numpy only (never torch). Every random draw comes from the run's seed tree
(:class:`simfl.rng.SeedTree`): dataset synthesis from ``Purpose.DATA`` keyed by client,
client sizes from ``Purpose.DATA_SIZES``, splitting pools and holding out test samples from
``Purpose.PARTITION``. Same ``(config, seed)``, same arrays.

Entry points: :func:`dataset_info` (cheap), :func:`client_sizes` (cheap for synthetic +
natural, equal to ``load_data(...).client_sizes``) and :func:`load_data`; what each client
holds: :func:`label_counts` (per-client label counts, the table of ``simfl partition``); what
each client is called: :func:`client_names` (the data's own names, ``data.clients`` selects by them).
"""

from simfl.data.federated import (
    BUILTIN_MODELS,
    DatasetInfo,
    FederatedData,
    check_data,
    client_sizes,
    dataset_info,
    load_data,
    train_labels,
)
from simfl.data.info import INPUT_DTYPE_FLOAT, INPUT_DTYPE_TOKENS
from simfl.data.inventory import (
    LabelCountSummary,
    label_count_table,
    label_counts,
    read_label_counts,
    summarize_label_counts,
)
from simfl.data.partition import (
    Partition,
    natural_partition,
    partition_dirichlet,
    partition_iid,
    partition_shards,
    quantity_weights,
)
from simfl.data.loaders import SOURCE_DATASETS, clear_source_cache, load_source
from simfl.data.names import client_names
from simfl.data.source import Source, make_source
from simfl.data.split import held_out_counts
from simfl.data.synthetic import generate_synthetic_client, synthetic_sizes
from simfl.data.validate import validate_data

__all__ = [
    "DatasetInfo",
    "INPUT_DTYPE_FLOAT",
    "INPUT_DTYPE_TOKENS",
    "BUILTIN_MODELS",
    "FederatedData",
    "check_data",
    "SOURCE_DATASETS",
    "Source",
    "make_source",
    "load_source",
    "clear_source_cache",
    "dataset_info",
    "client_sizes",
    "client_names",
    "load_data",
    "validate_data",
    "train_labels",
    "label_counts",
    "label_count_table",
    "summarize_label_counts",
    "read_label_counts",
    "LabelCountSummary",
    "generate_synthetic_client",
    "synthetic_sizes",
    "held_out_counts",
    "Partition",
    "natural_partition",
    "partition_iid",
    "partition_dirichlet",
    "partition_shards",
    "quantity_weights",
]
