"""LEAF-format JSON datasets (FEMNIST, CelebA, Sent140, Shakespeare, ...) in a local folder.

A LEAF file is a JSON object ``{"users": [...], "num_samples": [...], "user_data": {user:
{"x": [...], "y": [...]}}}``: ``num_samples[i]`` samples of user ``users[i]``. ``data.path``
is one of

* a folder with ``train/`` (and optionally ``test/``) subfolders of ``*.json`` files (LEAF's
  own layout after ``split_data``);
* a folder of ``*.json`` files (e.g. LEAF's ``all_data/``) or a single ``.json`` file: all of
  the data, no test split.

Files are read in name order; one client per user, in file order, named by the user's name. With a ``test/`` folder,
client ``c``'s held-out data are its user's test samples (LEAF's split by sample) and the
global test set is their union; when none of the test users is a training user (LEAF's split
by user) the test set is shared, held by no client. Inputs must be numbers in the JSON:
FEMNIST/CelebA-style vectors (float features) or Sent140/Shakespeare-style sequences already
turned into integer token ids (int64). Any problem is a one-line
:class:`~simfl.errors.DataError` naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simfl.data.dataset import SourceDataset, common_arguments
from simfl.data.source import Source, make_source
from simfl.errors import DataError

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig

__all__ = ["Leaf", "find_leaf_files", "read_leaf_file", "load_leaf"]

_KEYS = ("users", "num_samples", "user_data")


def find_leaf_files(path: str | Path) -> tuple[list[Path], list[Path]]:
    """The training files and test files of a LEAF dataset (test: empty without a ``test/`` folder).

    Raises:
        DataError: nothing to read at ``path``.
    """
    p = Path(path).expanduser()
    if p.is_file():
        return [p], []
    if not p.is_dir():
        raise DataError(f"{p}: data.path does not exist (expected a LEAF folder with train/ and test/, or a .json file)")
    if (p / "train").is_dir():
        train = sorted((p / "train").glob("*.json"))
        if not train:
            raise DataError(f"{p / 'train'}: no .json file in this folder")
        test: list[Path] = []
        if (p / "test").is_dir():
            test = sorted((p / "test").glob("*.json"))
            if not test:
                raise DataError(f"{p / 'test'}: no .json file in this folder")
        return train, test
    files = sorted(p.glob("*.json"))
    if not files:
        raise DataError(f"{p}: no train/ subfolder and no .json file in this folder (expected LEAF JSON files)")
    return files, []


def read_leaf_file(path: Path) -> tuple[list[str], list[int], dict]:
    """``(users, num_samples, user_data)`` of one LEAF file, with its layout checked.

    Raises:
        DataError: unreadable file, invalid JSON, or not LEAF's layout (missing keys, users and
            num_samples of different lengths, a user without data, a count that disagrees).
    """
    try:
        obj = json.loads(path.read_bytes())
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 JSON text") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply to be LEAF data (lists of lists of numbers)") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: the top level must be an object with keys users, num_samples, user_data")
    missing = [k for k in _KEYS if k not in obj]
    if missing:
        raise DataError(f"{path}: no key {', '.join(missing)} (a LEAF file holds users, num_samples and user_data)")
    users, counts, data = obj["users"], obj["num_samples"], obj["user_data"]
    if not isinstance(users, list) or not all(isinstance(u, (str, int)) and not isinstance(u, bool) for u in users):
        raise DataError(f"{path}: users must be a list of user names (strings)")
    users = [str(u) for u in users]
    if len(set(users)) != len(users):
        dup = next(u for i, u in enumerate(users) if u in users[:i])
        raise DataError(f"{path}: user {dup!r} is listed twice in users")
    if not isinstance(counts, list) or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
        raise DataError(f"{path}: num_samples must be a list of non-negative integers")
    if len(counts) != len(users):
        raise DataError(f"{path}: {len(users)} users but {len(counts)} num_samples")
    if not isinstance(data, dict):
        raise DataError(f"{path}: user_data must be an object mapping each user to {{x, y}}")
    for user, count in zip(users, counts):
        entry = data.get(user)
        if not isinstance(entry, dict) or "x" not in entry or "y" not in entry:
            what = "no entry" if entry is None else "an entry without x and y"
            raise DataError(f"{path}: user {user!r} has {what} in user_data")
        if not isinstance(entry["x"], list) or not isinstance(entry["y"], list):
            raise DataError(f"{path}: user {user!r}: x and y must be lists")
        if len(entry["x"]) != count or len(entry["y"]) != count:
            raise DataError(
                f"{path}: user {user!r}: num_samples says {count} but user_data has {len(entry['x'])} x "
                f"and {len(entry['y'])} y"
            )
    extra = set(data) - set(users)
    if extra:
        raise DataError(f"{path}: user_data has user {sorted(extra)[0]!r}, which is not in users")
    return users, counts, data


def _read_all(files: list[Path]) -> tuple[list[str], list[int], list, list, list[Path]]:
    """Users, counts, x lists, y lists and the file of each user, over ``files`` in order."""
    users: list[str] = []
    counts: list[int] = []
    xs: list = []
    ys: list = []
    where: list[Path] = []
    seen: dict[str, Path] = {}
    for f in files:
        f_users, f_counts, f_data = read_leaf_file(f)
        for u, c in zip(f_users, f_counts):
            if u in seen:
                raise DataError(f"{f}: user {u!r} is also in {seen[u].name}")
            seen[u] = f
            users.append(u)
            counts.append(c)
            xs.extend(f_data[u]["x"])
            ys.extend(f_data[u]["y"])
            where.append(f)
    return users, counts, xs, ys, where


def load_leaf(
    path: str | Path, input_dtype: str = "auto", num_classes: int | None = None, input_shape: tuple[int, ...] | None = None
) -> Source:
    """Every user's samples of the LEAF dataset at ``path`` (see the module docstring).

    Raises:
        DataError: a missing or malformed file; a user with no training sample; test users that
            are partly, not wholly or not at all, training users.
    """
    train_files, test_files = find_leaf_files(path)
    users, counts, xs, ys, where = _read_all(train_files)
    if not users:
        raise DataError(f"{train_files[0]}: no user in {'these files' if len(train_files) > 1 else 'this file'}")
    empty = [i for i, c in enumerate(counts) if c == 0]
    if empty:
        i = empty[0]
        raise DataError(f"{where[i]}: user {users[i]!r} has no training sample (num_samples 0)")
    client_id = np.repeat(np.arange(len(users), dtype=np.int64), counts)
    x_test = y_test = client_id_test = None
    origin = str(train_files[0].parent if len(train_files) > 1 or test_files else train_files[0])
    if test_files:
        t_users, t_counts, t_xs, t_ys, t_where = _read_all(test_files)
        index = {u: i for i, u in enumerate(users)}
        known = [u in index for u in t_users]
        if any(known) and not all(known):
            i = known.index(False)
            raise DataError(
                f"{t_where[i]}: test user {t_users[i]!r} has no training data; LEAF's split by sample has the same "
                "users in train/ and test/, its split by user has none in common"
            )
        x_test, y_test = _rows(t_xs, t_ys, test_files, "x_test"), t_ys
        if all(known) and t_users:
            client_id_test = np.repeat(np.array([index[u] for u in t_users], dtype=np.int64), t_counts)
        origin = str(Path(path).expanduser())
    return make_source(origin, _rows(xs, ys, train_files, "x"), ys, client_id, x_test, y_test, client_id_test,
                       client_names=users, input_dtype=input_dtype, num_classes=num_classes, input_shape=input_shape)


def _rows(xs: list, ys: list, files: list[Path], name: str):
    """``xs`` as an array, with the first non-numeric or ragged row found and named."""
    first = xs[0] if xs else 0
    if isinstance(first, bool) or not isinstance(first, (list, int, float)):
        kind = type(first).__name__
        hint = " (tokenize text into integer ids first)" if isinstance(first, str) else ""
        raise DataError(f"{_name(files)}: {name} samples are {kind}, not numbers or lists of numbers{hint}")
    try:
        return np.asarray(xs)
    except ValueError:
        first = np.shape(xs[0])
        for i, row in enumerate(xs):
            try:
                shape = np.shape(row)
            except ValueError:
                shape = None
            if shape != first:
                raise DataError(
                    f"{_name(files)}: {name} sample {i} has shape {shape if shape is not None else 'ragged'} but "
                    f"sample 0 has {first} (every sample must have one shape; pad sequences)"
                ) from None
        raise DataError(f"{_name(files)}: {name} samples have different shapes") from None


def _name(files: list[Path]) -> str:
    return str(files[0]) if len(files) == 1 else str(files[0].parent)


class Leaf(SourceDataset):
    """``data.dataset: leaf``: LEAF JSON files, one client per user."""

    def read(self, cfg: DataConfig) -> Source:
        """The users of the LEAF files in ``data.path``."""
        return load_leaf(cfg.path, **common_arguments(cfg))
