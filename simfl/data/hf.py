"""Hugging Face datasets on disk (``dataset: huggingface``; optional extra ``simfl[hf]``). Never downloads.

``data.path`` is a folder written by ``datasets``' ``save_to_disk`` (a ``Dataset``, or a
``DatasetDict`` whose ``train`` split is trained on and whose ``test`` split, if any, is the
data's own test set), or local data files read with ``datasets.load_dataset`` (a ``.parquet``,
``.csv``, ``.json``/``.jsonl`` or ``.arrow`` file; or a folder holding ``train.<ext>`` and
optionally ``test.<ext>``). Columns: ``data.features`` (default: the one column that is
neither the label nor the client column), ``data.label`` (default ``label``, else ``y``) and
``data.client_column`` (default ``client_id`` if present: the natural split). Image columns
become float32 pixels / 255, channels first. Any problem is a one-line
:class:`~simfl.errors.DataError` naming the folder or file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simfl.data.dataset import SourceDataset, column_arguments, common_arguments
from simfl.data.source import Source, feature_matrix, make_source
from simfl.errors import DataError, one_line

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig

__all__ = ["HuggingFace", "load_huggingface", "BUILDERS"]

#: File suffix → the ``datasets`` builder that reads it.
BUILDERS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json", ".arrow": "arrow"}


def _datasets():
    try:
        import datasets
    except ImportError:
        raise DataError(
            "data.dataset: huggingface needs the optional package datasets (pip install 'simfl[hf]')"
        ) from None
    return datasets


def load_huggingface(
    path: str | Path,
    input_dtype: str = "auto",
    num_classes: int | None = None,
    features: list[str] | None = None,
    label: str | None = None,
    client_column: str | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> Source:
    """The dataset at ``path`` (see the module docstring).

    Raises:
        DataError: ``datasets`` is not installed, or a missing, unreadable or malformed dataset.
    """
    datasets = _datasets()
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{p}: data.path does not exist (expected a save_to_disk folder or a data file)")
    bars = not datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()
    try:
        train, test = _read(datasets, p)
        train_cols = _columns(datasets, train, str(p), features, label, client_column)
        test_cols = _columns(datasets, test, f"{p} (test split)", features, label, client_column) if test else None
    finally:
        if bars:
            datasets.utils.enable_progress_bars()
    return make_source(
        str(p), train_cols["x"], train_cols["y"], train_cols["client_id"],
        None if test_cols is None else test_cols["x"], None if test_cols is None else test_cols["y"],
        None if test_cols is None or train_cols["client_id"] is None else test_cols["client_id"],
        input_dtype=input_dtype, num_classes=num_classes, input_shape=input_shape,
    )


def _read(datasets, p: Path):
    """``(train, test or None)`` as ``datasets.Dataset`` objects."""
    if p.is_dir() and ((p / "dataset_dict.json").is_file() or (p / "state.json").is_file()):
        try:
            obj = datasets.load_from_disk(str(p))
        except Exception as exc:  # datasets raises many types for a damaged folder
            raise DataError(f"{p}: cannot load this save_to_disk folder ({type(exc).__name__}: {one_line(exc, 200)})") from None
    else:
        obj = _load_files(datasets, p)
    if isinstance(obj, datasets.DatasetDict):
        if "train" not in obj:
            raise DataError(f"{p}: no train split (splits: {', '.join(obj) or 'none'})")
        return obj["train"], obj["test"] if "test" in obj else None
    return obj, None


def _load_files(datasets, p: Path):
    if p.is_file():
        files = {"train": p}
    else:
        files = {}
        for split in ("train", "test"):
            found = sorted(f for f in p.glob(f"{split}.*") if f.suffix.lower() in BUILDERS)
            if found:
                files[split] = found[0]
        if "train" not in files:
            raise DataError(
                f"{p}: neither a save_to_disk folder (dataset_dict.json or state.json) nor a folder with "
                f"train.<{'|'.join(s[1:] for s in BUILDERS)}>"
            )
    suffixes = {f.suffix.lower() for f in files.values()}
    if len(suffixes) != 1 or next(iter(suffixes)) not in BUILDERS:
        raise DataError(f"{p}: data files must be one of {', '.join(BUILDERS)} (one kind), not {', '.join(sorted(suffixes))}")
    builder = BUILDERS[suffixes.pop()]
    with tempfile.TemporaryDirectory(prefix="simfl-hf-") as cache:
        try:
            out = datasets.load_dataset(builder, data_files={k: str(v) for k, v in files.items()},
                                        cache_dir=cache, keep_in_memory=True)
        except Exception as exc:  # parse errors of every builder
            raise DataError(f"{p}: cannot read as {builder} ({type(exc).__name__}: {one_line(exc, 200)})") from None
    return out


def _columns(datasets, ds, origin: str, features, label, client_column) -> dict:
    names = list(ds.column_names)

    def need(col: str, key: str) -> str:
        if col not in names:
            raise DataError(f"{origin}: no column {col!r} ({key}); columns: {', '.join(names)}")
        return col

    if label is None:
        label = "label" if "label" in names else "y" if "y" in names else None
        if label is None:
            raise DataError(f"{origin}: no column label or y; set data.label (columns: {', '.join(names)})")
    need(label, "data.label")
    if client_column is None:
        client_column = "client_id" if "client_id" in names else None
    else:
        need(client_column, "data.client_column")
    if features is None:
        rest = [n for n in names if n not in (label, client_column)]
        if len(rest) != 1:
            raise DataError(f"{origin}: set data.features: the columns besides the label are {', '.join(rest) or 'none'}")
        features = rest
    for f in features:
        need(f, "data.features")
    table = ds.select_columns([*features, label, *([client_column] if client_column else [])]).with_format("numpy")[:]
    x = feature_matrix(origin, features, [_feature(datasets, ds.features[f], table[f], origin, f) for f in features])
    return {"x": x, "y": table[label], "client_id": table[client_column] if client_column else None}


def _feature(datasets, feature, values, origin: str, name: str) -> np.ndarray:
    """A feature column as one array: images → float32 / 255, channels first; ragged → error."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        try:
            values = np.stack([np.asarray(v) for v in values])
        except ValueError:
            raise DataError(f"{origin}: column {name} is ragged: its rows have different shapes") from None
    values = np.asarray(values)
    if isinstance(feature, datasets.Image):
        if values.ndim == 3:  # grayscale (n, h, w)
            values = values[:, None]
        elif values.ndim == 4:  # (n, h, w, c)
            values = values.transpose(0, 3, 1, 2)
        scale = 255.0 if values.dtype == np.uint8 else 1.0
        values = values.astype(np.float32) / scale
    return values


class HuggingFace(SourceDataset):
    """``data.dataset: huggingface``: a Hugging Face dataset on disk (extra ``simfl[hf]``)."""

    def read(self, cfg: DataConfig) -> Source:
        """The dataset in ``data.path``."""
        return load_huggingface(cfg.path, **common_arguments(cfg), **column_arguments(cfg))
