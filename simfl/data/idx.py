"""MNIST-format IDX files in a local folder (MNIST, Fashion-MNIST, KMNIST, ...). Never downloads.

The folder must hold ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` and may hold
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``; each name may use a dot before
``idx`` (``train-images.idx3-ubyte``) and may end in ``.gz``. When several spellings of one
file exist the first of (dash, dot) x (plain, ``.gz``) is used. Every split present is pooled
(train then t10k) before partitioning.

An IDX file is a big-endian header, ``magic`` (``0x00000801`` for unsigned-byte labels,
``0x00000803`` for unsigned-byte images: two zero bytes, the type code ``0x08``, the number of
dimensions) followed by one uint32 per dimension, then the data, row-major. Any problem is a
one-line :class:`~simfl.errors.DataError` naming the file.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from simfl.data.dataset import Pool, PooledDataset
from simfl.data.info import DatasetInfo
from simfl.errors import DataError, one_line
from simfl.rng import SeedTree

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig

__all__ = [
    "Idx",
    "LABELS_MAGIC",
    "IMAGES_MAGIC",
    "IDX_NUM_CLASSES",
    "find_idx_files",
    "read_idx",
    "read_idx_header",
    "idx_image_shape",
    "idx_num_samples",
    "load_idx_labels",
    "load_idx",
    "check_idx_files",
]

LABELS_MAGIC = 0x00000801
IMAGES_MAGIC = 0x00000803
#: Labels must lie in ``[0, IDX_NUM_CLASSES)``.
IDX_NUM_CLASSES = 10

_KINDS = {"images": ("images", 3, IMAGES_MAGIC), "labels": ("labels", 1, LABELS_MAGIC)}
_SPLITS = ("train", "t10k")
_READ_ERRORS = (OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError


def _spellings(split: str, kind: str) -> list[str]:
    word, dims, _ = _KINDS[kind]
    stems = (f"{split}-{word}-idx{dims}-ubyte", f"{split}-{word}.idx{dims}-ubyte")
    return [stem + suffix for stem in stems for suffix in ("", ".gz")]


def _find(folder: Path, split: str, kind: str) -> Path | None:
    for name in _spellings(split, kind):
        if (folder / name).is_file():
            return folder / name
    return None


def find_idx_files(path: str | Path) -> list[tuple[Path, Path]]:
    """The ``(images, labels)`` file pairs in ``path``: train first, then t10k if present.

    Raises:
        DataError: the folder is missing, train files are missing, or a t10k file lacks its pair.
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise DataError(f"{folder}: data.path {what} (expected a folder of MNIST-format IDX files)")
    pairs = []
    for split in _SPLITS:
        images, labels = _find(folder, split, "images"), _find(folder, split, "labels")
        if split == "t10k" and images is None and labels is None:
            continue
        for found, kind in ((images, "images"), (labels, "labels")):
            if found is None:
                names = _spellings(split, kind)
                raise DataError(f"{folder}: no {names[0]} (nor {', '.join(names[1:])}) in this folder")
        pairs.append((images, labels))
    return pairs


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _parse_header(path: Path, head: bytes, magic: int) -> tuple[tuple[int, ...], int]:
    """``(dims, header length)`` from the first bytes of an IDX file."""
    if len(head) < 4:
        raise DataError(f"{path}: truncated: {len(head)} bytes, too short for an IDX header")
    found = int.from_bytes(head[:4], "big")
    if found != magic:
        raise DataError(f"{path}: bad magic number 0x{found:08x}, expected 0x{magic:08x}")
    ndim = magic & 0xFF
    end = 4 + 4 * ndim
    if len(head) < end:
        raise DataError(f"{path}: truncated: header needs {end} bytes, file has {len(head)}")
    dims = tuple(int(d) for d in np.frombuffer(head[4:end], dtype=">u4"))
    return dims, end


def read_idx_header(path: Path, magic: int) -> tuple[int, ...]:
    """The dimensions in an IDX file's header, reading only the header.

    Raises:
        DataError: unreadable file, bad magic number or truncated header.
    """
    try:
        with _open(path) as f:
            head = f.read(4 + 4 * (magic & 0xFF))
    except _READ_ERRORS as e:
        raise DataError(f"{path}: cannot read: {one_line(e)}") from e
    return _parse_header(path, head, magic)[0]


def read_idx(path: Path, magic: int) -> np.ndarray:
    """The whole uint8 array of an IDX file, shaped by its header.

    Raises:
        DataError: unreadable file, bad magic number, or data shorter or longer than the header says.
    """
    try:
        with _open(path) as f:
            raw = f.read()
    except _READ_ERRORS as e:
        raise DataError(f"{path}: cannot read (corrupt or truncated?): {one_line(e)}") from e
    dims, start = _parse_header(path, raw, magic)
    _check_body(path, dims, len(raw) - start)
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(dims)


def _check_body(path: Path, dims: tuple[int, ...], found: int) -> None:
    """The data after the header must hold exactly ``prod(dims)`` bytes (Python integers: no overflow)."""
    expected = math.prod(dims)
    if found != expected:
        problem = "truncated" if found < expected else "trailing bytes"
        raise DataError(
            f"{path}: {problem}: header {'x'.join(map(str, dims))} needs {expected} data bytes, file has {found}"
        )


def _body_size(path: Path, header_bytes: int) -> int:
    """Bytes after the header: the file size, or (gzip) one streamed pass of decompression."""
    if path.suffix != ".gz":
        return path.stat().st_size - header_bytes
    total = 0
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                total += len(chunk)
    except _READ_ERRORS as e:
        raise DataError(f"{path}: cannot read (corrupt or truncated?): {one_line(e)}") from e
    return total - header_bytes


def check_idx_files(path: str | Path) -> int:
    """Check every IDX file in ``path`` without loading the images: headers, body sizes (one
    streamed pass for ``.gz``), labels in range, as many labels as images. Returns the pooled
    number of samples.

    Raises:
        DataError: the first problem, naming the file.
    """
    total = 0
    idx_image_shape(path)  # headers of the images, and one image size for every split
    for images_file, labels_file in find_idx_files(path):
        dims = read_idx_header(images_file, IMAGES_MAGIC)
        _check_body(images_file, dims, _body_size(images_file, 4 + 4 * len(dims)))
        labels = _labels(labels_file)
        if len(labels) != dims[0]:
            raise DataError(f"{labels_file}: {len(labels)} labels but {images_file.name} has {dims[0]} images")
        total += len(labels)
    return total


def idx_image_shape(path: str | Path) -> tuple[int, int]:
    """``(rows, cols)`` of the images in ``path``, from the headers only.

    Raises:
        DataError: missing or malformed files, or splits with different image sizes.
    """
    shapes = {}
    for images, _ in find_idx_files(path):
        _, rows, cols = read_idx_header(images, IMAGES_MAGIC)
        if rows < 1 or cols < 1:
            raise DataError(f"{images}: image size {rows}x{cols} is empty")
        shapes[images] = (rows, cols)
    (first, shape), *rest = shapes.items()
    for other, other_shape in rest:
        if other_shape != shape:
            raise DataError(
                f"{other}: images are {other_shape[0]}x{other_shape[1]} but {first.name} has {shape[0]}x{shape[1]}"
            )
    return shape


def idx_num_samples(path: str | Path) -> int:
    """Pooled number of samples, from the labels headers only."""
    return sum(read_idx_header(labels, LABELS_MAGIC)[0] for _, labels in find_idx_files(path))


def _labels(labels_file: Path) -> np.ndarray:
    y = read_idx(labels_file, LABELS_MAGIC)
    bad = np.flatnonzero(y >= IDX_NUM_CLASSES)
    if bad.size:
        raise DataError(
            f"{labels_file}: label {int(y[bad[0]])} at index {int(bad[0])} is out of range [0, {IDX_NUM_CLASSES})"
        )
    return y.astype(np.int64)


def load_idx_labels(path: str | Path) -> np.ndarray:
    """Pooled int64 labels (train then t10k), reading only the labels files."""
    return np.concatenate([_labels(labels) for _, labels in find_idx_files(path)])


def load_idx(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Pooled images and labels of the IDX files in ``path``.

    Returns:
        ``(x, y)``: float32 pixels / 255 of shape ``(n, 1, rows, cols)`` and int64 labels ``(n,)``.

    Raises:
        DataError: a missing or malformed file (see the module docstring).
    """
    rows, cols = idx_image_shape(path)
    xs, ys = [], []
    for images_file, labels_file in find_idx_files(path):
        images = read_idx(images_file, IMAGES_MAGIC)
        labels = _labels(labels_file)
        if len(images) != len(labels):
            raise DataError(f"{labels_file}: {len(labels)} labels but {images_file.name} has {len(images)} images")
        xs.append(images)
        ys.append(labels)
    x = np.concatenate(xs).astype(np.float32).reshape(-1, 1, rows, cols)
    x /= 255.0
    return x, np.concatenate(ys)


class Idx(PooledDataset):
    """``data.dataset: idx``: the MNIST-format IDX files in ``data.path``, train then t10k pooled."""

    def info(self, cfg: DataConfig) -> DatasetInfo:
        """One channel of the images' rows x cols (from the headers only), 10 classes."""
        rows, cols = idx_image_shape(_path(cfg))
        return DatasetInfo((1, rows, cols), IDX_NUM_CLASSES)

    def check_files(self, cfg: DataConfig) -> None:
        """Every header against its file's size (:func:`check_idx_files`)."""
        if cfg.path:
            check_idx_files(cfg.path)

    def pool_size(self, cfg: DataConfig, tree: SeedTree) -> int:
        """From the labels headers only."""
        return idx_num_samples(_path(cfg))

    def pool(self, cfg: DataConfig, tree: SeedTree, labels_only: bool = False) -> Pool:
        """Images and labels; only the labels files when ``labels_only``."""
        if labels_only:
            return None, load_idx_labels(_path(cfg)), None
        x, y = load_idx(_path(cfg))
        return x, y, None


def _path(cfg: DataConfig) -> str:
    if not cfg.path:
        raise DataError("data.path: dataset idx needs a folder of MNIST-format IDX files in data.path")
    return cfg.path
