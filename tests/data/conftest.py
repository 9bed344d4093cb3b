"""Fixtures for the data tests: tiny MNIST-format IDX folders written on the fly."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

LABELS_MAGIC = 0x00000801
IMAGES_MAGIC = 0x00000803


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An IDX file's bytes: big-endian magic, one uint32 per dimension, then uint8 data."""
    header = magic.to_bytes(4, "big") + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path``, gzipped when the name ends in ``.gz``."""
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_idx_split(
    folder: Path,
    split: str,
    images: np.ndarray,
    labels: np.ndarray,
    gz: bool = False,
    dot: bool = False,
) -> tuple[Path, Path]:
    """Write ``{split}-images-idx3-ubyte`` and ``{split}-labels-idx1-ubyte`` (or spelling variants)."""
    sep = "." if dot else "-"
    suffix = ".gz" if gz else ""
    img = write_bytes(folder / f"{split}-images{sep}idx3-ubyte{suffix}", idx_bytes(images, IMAGES_MAGIC))
    lab = write_bytes(folder / f"{split}-labels{sep}idx1-ubyte{suffix}", idx_bytes(labels, LABELS_MAGIC))
    return img, lab


def random_images(rng: np.random.Generator, n: int, rows: int = 28, cols: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random uint8 images and labels covering all 10 classes when ``n >= 10``."""
    images = rng.integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, rng.permutation(labels)


@pytest.fixture
def idx_tools() -> SimpleNamespace:
    """The IDX writing helpers of this module, for tests that build their own folders."""
    return SimpleNamespace(
        idx_bytes=idx_bytes, write_bytes=write_bytes, write_split=write_idx_split, random_images=random_images
    )


@pytest.fixture
def idx_folder(tmp_path: Path) -> Path:
    """A folder with 50 plain train images and 20 gzipped t10k images, 28 x 28."""
    rng = np.random.default_rng(1234)
    write_idx_split(tmp_path, "train", *random_images(rng, 50))
    write_idx_split(tmp_path, "t10k", *random_images(rng, 20), gz=True)
    return tmp_path


# ------------------------------------------------------------------ LEAF / arrays writers
def leaf_object(users: dict[str, tuple[list, list]]) -> dict:
    """A LEAF JSON object from ``{user: (x rows, y labels)}`` (users in dict order)."""
    return {
        "users": list(users),
        "num_samples": [len(y) for _, y in users.values()],
        "user_data": {u: {"x": x, "y": y} for u, (x, y) in users.items()},
    }


def write_leaf(folder: Path, train: list[dict], test: list[dict] | None = None) -> Path:
    """``folder/train/part_<i>.json`` (and ``folder/test/...``): one file per LEAF object."""
    for split, objs in (("train", train), ("test", test)):
        if objs is None:
            continue
        (folder / split).mkdir(parents=True, exist_ok=True)
        for i, obj in enumerate(objs):
            (folder / split / f"part_{i}.json").write_text(json.dumps(obj))
    return folder


def random_users(rng: np.random.Generator, names: list[str], sizes: list[int], dim: int = 6, classes: int = 4,
                 tokens: bool = False) -> dict[str, tuple[list, list]]:
    """Users with ``sizes[i]`` random rows each: float features (rounded) or integer tokens."""
    out = {}
    for name, n in zip(names, sizes):
        x = rng.integers(0, 50, size=(n, dim)).tolist() if tokens else np.round(rng.random((n, dim)), 3).tolist()
        out[name] = (x, rng.integers(0, classes, size=n).tolist())
    return out


@pytest.fixture
def leaf_tools() -> SimpleNamespace:
    """The LEAF writing helpers of this module."""
    return SimpleNamespace(obj=leaf_object, write=write_leaf, users=random_users)
