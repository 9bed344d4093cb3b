"""Array files: ``.npz`` archives and Parquet tables (``dataset: arrays``). Never downloads.

A ``.npz`` holds ``x`` (one row per sample) and ``y`` (integer labels), optionally
``client_id`` (one id per row: the natural split), ``x_test`` and ``y_test`` (the data's own
test set) and ``client_id_test`` (the test set split by client). A Parquet table holds the
label column ``y`` (``data.label``), the features (``data.features``: by default the column
``x`` holding lists, else every other column, one number each), optionally the client column
``client_id`` (``data.client_column``) and a ``split`` column whose ``test`` rows are the test
set (the others train). Any problem is a one-line :class:`~simfl.errors.DataError` naming the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simfl.data.dataset import SourceDataset, column_arguments, common_arguments
from simfl.data.source import Source, feature_matrix, make_source
from simfl.errors import DataError, one_line

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig

__all__ = ["Arrays", "NPZ_KEYS", "load_arrays", "arrow_to_numpy", "table_columns"]

#: The arrays a ``.npz`` may hold.
NPZ_KEYS = ("x", "y", "client_id", "x_test", "y_test", "client_id_test")
_PARQUET = (".parquet", ".pq")


def load_arrays(
    path: str | Path,
    input_dtype: str = "auto",
    num_classes: int | None = None,
    features: list[str] | None = None,
    label: str | None = None,
    client_column: str | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> Source:
    """The dataset in a ``.npz`` or Parquet file (see the module docstring).

    Raises:
        DataError: a missing, unreadable or malformed file.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        what = "is a folder" if p.is_dir() else "does not exist"
        raise DataError(f"{p}: data.path {what} (dataset arrays reads a .npz or .parquet file)")
    if p.suffix.lower() == ".npz":
        arrays = _read_npz(p)
    elif p.suffix.lower() in _PARQUET:
        arrays = _read_parquet(p, features, label, client_column)
    else:
        raise DataError(f"{p}: dataset arrays reads .npz or .parquet files, not {p.suffix or 'a file without suffix'}")
    return make_source(str(p), **arrays, input_dtype=input_dtype, num_classes=num_classes, input_shape=input_shape)


def _check_headers(p: Path) -> None:
    """Refuse an array whose header claims more bytes than its member holds, before anything is allocated.

    An ``.npy`` member stores its values right after its header, uncompressed in their own bytes:
    ``shape × itemsize`` can never exceed the member's uncompressed size, however it was compressed.
    """
    with zipfile.ZipFile(p) as zf:
        for info in zf.infolist():
            with zf.open(info) as member:
                try:
                    version = np.lib.format.read_magic(member)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    shape, _, dtype = read(member)
                except (ValueError, EOFError, OSError) as exc:
                    raise DataError(f"{p}: array {info.filename} has no readable .npy header ({one_line(exc, 200)})") \
                        from None
            claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if claimed > info.file_size:
                raise DataError(f"{p}: array {info.filename.removesuffix('.npy')} claims {claimed:,} bytes of values "
                                f"(shape {shape}) but holds {info.file_size:,}: a damaged or forged file")


def _read_npz(p: Path) -> dict[str, np.ndarray]:
    try:
        archive = np.load(p, allow_pickle=False)
    except Exception as exc:  # zipfile, pickle and format errors of several types
        raise DataError(f"{p}: not a readable .npz archive ({type(exc).__name__}: {one_line(exc, 200)})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{p}: holds a single array; expected an .npz archive with arrays x and y (numpy.savez)")
    with archive:
        unknown = [k for k in archive.files if k not in NPZ_KEYS]
        if unknown:
            raise DataError(f"{p}: unknown array {unknown[0]!r} (an .npz may hold {', '.join(NPZ_KEYS)})")
        missing = [k for k in ("x", "y") if k not in archive.files]
        if missing:
            raise DataError(f"{p}: no array {' or '.join(missing)} (an .npz needs x and y)")
        _check_headers(p)
        out = {}
        for key in archive.files:
            try:
                out[key] = archive[key]
            except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
                raise DataError(f"{p}: array {key} cannot be read ({one_line(exc, 200)})") from None
    return out


def _read_parquet(p: Path, features: list[str] | None, label: str | None, client_column: str | None) -> dict:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(p)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise DataError(f"{p}: not a readable Parquet file ({type(exc).__name__}: {one_line(exc, 200)})") from None
    names = table.column_names
    split = None
    if "split" in names:
        split = np.asarray(arrow_to_numpy(table.column("split"), str(p), "split")).astype(str)
        bad = sorted(set(split) - {"train", "test"})
        if bad:
            raise DataError(f"{p}: column split holds {bad[0]!r}; expected train or test")
    cols = table_columns(table, str(p), features, label, client_column, exclude=("split",))
    out: dict[str, np.ndarray | None] = {}
    test = split == "test" if split is not None else np.zeros(table.num_rows, dtype=bool)
    for key, values in (("x", cols["x"]), ("y", cols["y"]), ("client_id", cols["client_id"])):
        if values is None:
            continue
        out[key] = values[~test]
        if test.any():
            out[f"{key}_test"] = values[test]
    return out


def table_columns(
    table, origin: str, features: list[str] | None, label: str | None, client_column: str | None,
    exclude: tuple[str, ...] = (),
) -> dict[str, np.ndarray | None]:
    """``{"x", "y", "client_id"}`` arrays from the columns of a pyarrow table.

    ``label`` None: ``y`` if present, else ``label``. ``client_column`` None: ``client_id`` if
    present (else no client ids). ``features`` None: ``x`` if present, else every other column.
    """
    names = table.column_names

    def need(col: str, key: str) -> str:
        if col not in names:
            raise DataError(f"{origin}: no column {col!r} ({key}); columns: {', '.join(names)}")
        return col

    if label is None:
        label = "y" if "y" in names else "label" if "label" in names else None
        if label is None:
            raise DataError(f"{origin}: no label column y or label; set data.label (columns: {', '.join(names)})")
    need(label, "data.label")
    if client_column is None:
        client_column = "client_id" if "client_id" in names else None
    elif client_column not in names:
        need(client_column, "data.client_column")
    if features is None:
        features = ["x"] if "x" in names else [n for n in names if n not in (label, client_column, *exclude)]
        if not features:
            raise DataError(f"{origin}: no feature column besides the label; set data.features")
    for f in features:
        need(f, "data.features")
    x = feature_matrix(origin, features, [arrow_to_numpy(table.column(f), origin, f) for f in features])
    y = arrow_to_numpy(table.column(label), origin, label)
    ids = arrow_to_numpy(table.column(client_column), origin, client_column) if client_column else None
    return {"x": x, "y": y, "client_id": ids}


def arrow_to_numpy(column, origin: str, name: str) -> np.ndarray:
    """A pyarrow (chunked) array as numpy; list columns of equal lengths become extra dimensions.

    Raises:
        DataError: missing values, or lists of different lengths (ragged rows).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if arr.null_count:
        row = int(np.argmax(np.asarray(arr.is_null())))
        raise DataError(f"{origin}: column {name} has a missing value at row {row}")
    t = arr.type
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        lengths = np.asarray(pc.list_value_length(arr)) if len(arr) else np.zeros(0, dtype=np.int64)
        if len(lengths) and (lengths != lengths[0]).any():
            row = int(np.argmax(lengths != lengths[0]))
            raise DataError(
                f"{origin}: column {name} is ragged: row {row} holds {lengths[row]} values but row 0 holds "
                f"{lengths[0]} (pad sequences to one length)"
            )
        inner = arrow_to_numpy(arr.flatten(), origin, name)
        width = int(lengths[0]) if len(lengths) else 0
        return inner.reshape(len(arr), width, *inner.shape[1:])
    return arr.to_numpy(zero_copy_only=False)


class Arrays(SourceDataset):
    """``data.dataset: arrays``: a ``.npz`` or Parquet file."""

    def read(self, cfg: DataConfig) -> Source:
        """The arrays (or columns) of the file in ``data.path``."""
        return load_arrays(cfg.path, **common_arguments(cfg), **column_arguments(cfg))
