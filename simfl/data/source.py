"""A dataset that brings its own client grouping and test split: what the ``leaf``, ``arrays``,
``huggingface`` and ``python`` loaders return, checked and converted in one place.

:func:`make_source` takes plain arrays (rows, labels, optional client ids, optional test set)
and returns a :class:`Source`: rows grouped by client, labels int64, inputs float32 (features)
or int64 (token ids), with every check a malformed input fails as a one-line
:class:`~simfl.errors.DataError` naming ``origin`` (the file or the function) and what is wrong.

Rules (documented for users in ``DataConfig``):

* Clients are the distinct client ids in sorted order (LEAF passes user indices, so its clients
  keep file order); within a client, rows keep their order.
* A client's *name* is its id as text (``str``: the integer 17 is ``"17"``, bytes are decoded as
  UTF-8), unless the reader gives names of its own (LEAF: the user names).
* A test set whose client ids are all training clients is split by client (client ``c``'s
  held-out data are its test rows); one with no client ids, or whose ids are none of the
  training clients (LEAF's split by user), is a *shared* test set held by no client; ids that
  are partly training clients are an error.
* ``input_dtype`` ``auto``: floating (and boolean) inputs → float32, integer inputs → int64
  token ids (≥ 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simfl.data.info import DatasetInfo
from simfl.errors import DataError

__all__ = ["Source", "make_source", "feature_matrix", "id_names", "INPUT_DTYPES"]

#: Values of ``data.input_dtype``.
INPUT_DTYPES = ("auto", "float32", "int64")


@dataclass(frozen=True, eq=False)
class Source:
    """A checked dataset with its natural clients.

    Client ``k`` of the data holds training rows ``offsets[k]:offsets[k + 1]`` and, when
    ``test_offsets`` is set, test rows ``test_offsets[k]:test_offsets[k + 1]``.
    """

    origin: str  # the file or function named in messages
    x: np.ndarray  # (n, *info.input_shape), float32 or int64, grouped by client when offsets is set
    y: np.ndarray  # int64 (n,)
    offsets: np.ndarray | None  # int64 (clients + 1,); None: the data have no client ids
    x_test: np.ndarray | None  # the data's own test set, or None
    y_test: np.ndarray | None
    test_offsets: np.ndarray | None  # int64 (clients + 1,): test set split by client; None: shared or absent
    clients: np.ndarray | None  # the data's client ids, client k = clients[k]
    info: DatasetInfo
    names: np.ndarray | None = None  # object array of str: client k's name; None without client ids

    @property
    def num_clients(self) -> int | None:
        """Number of natural clients, or None without client ids."""
        return None if self.offsets is None else len(self.offsets) - 1

    @property
    def sizes(self) -> np.ndarray:
        """int64 training rows of each natural client."""
        if self.offsets is None:
            raise DataError(f"{self.origin}: the data have no client ids, so no natural split")
        return np.diff(self.offsets)


def id_names(ids) -> np.ndarray:
    """Client ids as names: an object array of ``str`` (``17`` → ``"17"``; bytes decoded as UTF-8)."""
    ids = np.asarray(ids)
    values = ids.tolist()
    text = (v.decode("utf-8", "backslashreplace") for v in values) if ids.dtype.kind == "S" else map(str, values)
    return np.fromiter(text, dtype=object, count=len(values))


def _offsets(sizes: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)


def _inputs(origin: str, name: str, x, input_dtype: str) -> np.ndarray:
    """``x`` as float32 or int64 rows, checked: numeric, finite, token ids ≥ 0."""
    try:
        x = np.asarray(x)
    except ValueError as exc:  # numpy refuses ragged nested lists
        raise DataError(f"{origin}: {name} is ragged: its rows have different shapes ({_first_line(exc)})") from None
    if x.dtype.kind in "USO":
        raise DataError(
            f"{origin}: {name} holds {'text' if x.dtype.kind in 'US' else 'objects'} (dtype {x.dtype}); simfl reads "
            "numbers only: rows of equal shape (tokenize text into integer ids first)"
        )
    if x.dtype.kind not in "biuf":
        raise DataError(f"{origin}: {name} has dtype {x.dtype}; expected numbers (float or integer)")
    if x.ndim == 0:
        raise DataError(f"{origin}: {name} is a single number; expected one row per sample")
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    want = input_dtype if input_dtype != "auto" else ("float32" if x.dtype.kind in "fb" else "int64")
    if want == "float32":
        if x.dtype.kind == "f":
            _finite(origin, name, x)
        big = np.abs(x) > np.finfo(np.float32).max
        if big.any():
            row = int(np.argwhere(big)[0][0])
            raise DataError(f"{origin}: {name} row {row} holds {x[big].flat[0]:g}, beyond float32's range")
        return x.astype(np.float32)
    if x.dtype.kind == "f":
        _finite(origin, name, x)
        if not np.array_equal(x, np.floor(x)):
            row = int(np.argwhere(x != np.floor(x))[0][0])
            raise DataError(f"{origin}: {name} row {row} holds a non-integer value, but data.input_dtype is int64")
    out = x.astype(np.int64)
    if out.size and out.min() < 0:
        row = int(np.argwhere(out < 0)[0][0])
        raise DataError(f"{origin}: {name} row {row} holds a negative integer; integer inputs are token ids (>= 0)")
    return out


def _finite(origin: str, name: str, x: np.ndarray) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        value = x[np.unravel_index(int(np.argmax(bad)), x.shape)]
        raise DataError(f"{origin}: {name} row {row} holds {value} (features must be finite numbers)")


def _labels(origin: str, name: str, y, n: int, x_name: str) -> np.ndarray:
    if isinstance(y, (list, tuple)) and any(isinstance(v, (bool, np.bool_)) for v in y):
        raise DataError(f"{origin}: {name} holds true/false, not integer class labels (0, 1, ...)")
    try:
        y = np.asarray(y)
    except ValueError as exc:  # numpy refuses ragged nested lists
        raise DataError(f"{origin}: {name} must be one integer label per row, but its rows differ in shape "
                        f"({_first_line(exc)})") from None
    if y.ndim != 1:
        raise DataError(f"{origin}: {name} must be one label per row (1-D), got shape {y.shape}")
    if y.dtype.kind not in "iu":
        what = "text" if y.dtype.kind in "USO" else str(y.dtype)
        raise DataError(f"{origin}: {name} must hold integer class labels, got {what}")
    if len(y) != n:
        raise DataError(f"{origin}: {x_name} has {n} rows but {name} has {len(y)} labels")
    if len(y) and y.min() < 0:
        raise DataError(f"{origin}: {name} holds the negative label {int(y.min())} (labels are 0, 1, ...)")
    return y.astype(np.int64)


def _ids(origin: str, name: str, ids, n: int) -> np.ndarray:
    try:
        ids = np.asarray(ids)
    except ValueError as exc:  # numpy refuses ragged nested lists
        raise DataError(f"{origin}: {name} must be one id per row, but its rows differ in shape "
                        f"({_first_line(exc)})") from None
    if ids.dtype.kind == "O":
        try:
            ids = ids.astype(str)
        except (TypeError, ValueError):
            raise DataError(f"{origin}: {name} must hold integers or strings") from None
    if ids.ndim != 1 or ids.dtype.kind not in "iuUS":
        raise DataError(f"{origin}: {name} must be one integer or string id per row, got {ids.dtype} of shape {ids.shape}")
    if len(ids) != n:
        raise DataError(f"{origin}: {name} has {len(ids)} ids but there are {n} rows")
    return ids


def make_source(
    origin: str,
    x,
    y,
    client_id=None,
    x_test=None,
    y_test=None,
    client_id_test=None,
    *,
    client_names=None,
    input_dtype: str = "auto",
    num_classes: int | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> Source:
    """Check and convert a dataset's arrays (see the module docstring for the rules).

    Args:
        origin: the file or function the arrays come from (named in every message).
        x, y: training inputs (one row per sample) and integer labels.
        client_id: one client id per training row, or None.
        x_test, y_test: the data's own test set (both or neither).
        client_id_test: one client id per test row, or None (needs ``client_id``).
        client_names: the name of each client id in sorted order (LEAF: its users, whose ids are
            their indices); None = each id as text (:func:`id_names`).
        input_dtype: ``auto`` | ``float32`` | ``int64``.
        num_classes: labels must lie in ``[0, num_classes)``; None = the largest label + 1.
        input_shape: reshape every sample to this shape (same number of values), or None.

    Raises:
        DataError: one line naming ``origin`` and what is wrong.
    """
    x = _inputs(origin, "x", x, input_dtype)
    n = len(x)
    if n == 0:
        raise DataError(f"{origin}: x has no rows")
    y = _labels(origin, "y", y, n, "x")
    if input_shape is not None:
        x = _reshape(origin, "x", x, input_shape)
    if (x_test is None) != (y_test is None):
        raise DataError(f"{origin}: {'x_test without y_test' if y_test is None else 'y_test without x_test'}")
    if client_id_test is not None and (client_id is None or x_test is None):
        raise DataError(f"{origin}: client_id_test needs client_id and x_test")
    if x_test is not None:
        x_test, y_test = _test_set(origin, x, x_test, y_test, input_shape)
    offsets = test_offsets = clients = names = None
    if client_id is not None:
        ids = _ids(origin, "client_id", client_id, n)
        clients, inverse = np.unique(ids, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(inverse, kind="stable")
        x, y = x[order], y[order]
        offsets = _offsets(np.bincount(inverse, minlength=len(clients)))
        if client_id_test is not None:
            x_test, y_test, test_offsets = _test_by_client(origin, clients, client_id_test, x_test, y_test)
        names = id_names(clients) if client_names is None else np.array([str(n) for n in client_names], dtype=object)
        if len(names) != len(clients):
            raise ValueError(f"{origin}: {len(names)} client names for {len(clients)} clients")
    info = _info(origin, x, y, x_test, y_test, num_classes)
    return Source(origin, x, y, offsets, x_test, y_test, test_offsets, clients, info, names)


def _test_set(origin: str, x: np.ndarray, x_test, y_test, input_shape) -> tuple[np.ndarray, np.ndarray]:
    """The test inputs (the dtype and shape of ``x``) and labels, checked."""
    x_test = _inputs(origin, "x_test", x_test, "float32" if x.dtype == np.float32 else "int64")
    if input_shape is not None:
        x_test = _reshape(origin, "x_test", x_test, input_shape)
    if x_test.shape[1:] != x.shape[1:]:
        raise DataError(f"{origin}: x_test rows have shape {x_test.shape[1:]} but x rows have {x.shape[1:]}")
    return x_test, _labels(origin, "y_test", y_test, len(x_test), "x_test")


def _test_by_client(
    origin: str, clients: np.ndarray, client_id_test, x_test: np.ndarray, y_test: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The test rows grouped by the training clients (``clients``), with their offsets."""
    tids = _ids(origin, "client_id_test", client_id_test, len(x_test))
    if (tids.dtype.kind in "US") != (clients.dtype.kind in "US"):
        raise DataError(f"{origin}: client_id_test holds {tids.dtype} ids but client_id holds {clients.dtype}")
    pos = np.minimum(np.searchsorted(clients, tids), len(clients) - 1)
    known = clients[pos] == tids
    if not known.all():  # a shared test set has no client_id_test at all: ids that match no client are a mistake
        stranger = tids[int(np.argmin(known))].item()
        raise DataError(
            f"{origin}: test client {stranger!r} has no training rows; every id in client_id_test must be "
            "a training client (leave client_id_test out for a test set shared by all clients)"
        )
    order = np.argsort(pos, kind="stable")
    return x_test[order], y_test[order], _offsets(np.bincount(pos, minlength=len(clients)))


def _info(origin: str, x: np.ndarray, y: np.ndarray, x_test, y_test, num_classes: int | None) -> DatasetInfo:
    """Shape, classes (checked against ``num_classes``), dtype and vocabulary of the data."""
    top = int(max(y.max(), y_test.max() if y_test is not None and len(y_test) else 0))
    if num_classes is None:
        num_classes = top + 1
    elif top >= num_classes:
        where = "y" if y.max() >= num_classes else "y_test"
        raise DataError(f"{origin}: {where} holds the label {top}, out of range for data.num_classes={num_classes}")
    vocab = None
    if x.dtype == np.int64:
        vocab = int(max(x.max(initial=0), x_test.max(initial=0) if x_test is not None else 0)) + 1
    return DatasetInfo(tuple(int(d) for d in x.shape[1:]), int(num_classes),
                       "float32" if x.dtype == np.float32 else "int64", vocab)


def feature_matrix(origin: str, features: list[str], parts: list[np.ndarray]) -> np.ndarray:
    """The inputs from the feature columns ``parts`` (named ``features``): one column as it is
    (it may hold images or sequences), several as one number per column side by side.

    Raises:
        DataError: several feature columns, one of which holds lists.
    """
    if len(parts) == 1:
        return parts[0]
    bad = [f for f, a in zip(features, parts) if a.ndim != 1]
    if bad:
        raise DataError(f"{origin}: feature column {bad[0]} holds lists; several features must be one number each")
    return np.stack(parts, axis=1)


def _reshape(origin: str, name: str, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(x.shape[1:]))
    if int(np.prod(shape)) != size:
        raise DataError(
            f"{origin}: data.input_shape {list(shape)} holds {int(np.prod(shape))} values but {name} samples hold "
            f"{size} ({'x'.join(map(str, x.shape[1:]))})"
        )
    return x.reshape(len(x), *shape)


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
