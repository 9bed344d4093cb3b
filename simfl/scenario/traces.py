"""Client heterogeneity replayed from trace files: speed and links, and availability.

* **Profiles** (``heterogeneity.profiles``): per-client ``seconds_per_sample``, ``latency_s``,
  ``down_mbps`` and ``up_mbps`` from a CSV/Parquet table, or from FedScale's
  ``client_device_capacity`` (a pickled ``id -> {'computation': ms per sample (forward pass),
  'communication': kbps}``).
* **Availability** (``heterogeneity.availability: {type: trace}``): online intervals
  ``[start, end)`` from a CSV/Parquet table (``client_id, start_s, end_s``), or FedScale's
  ``client_behave_trace`` (a pickled ``id -> {'active': [...], 'inactive': [...],
  'finish_time': t}``), replayed periodically as FedScale's ``is_active`` does
  (``t mod finish_time``). FedScale's ``is_active`` tests the closed interval
  ``[active[i], inactive[i]]`` and moves its interval index at most one step per call; here the
  intervals are half-open and looked up, so the two agree except at the instants ``inactive[i]``
  and when FedScale's index lags behind sparse calls.

Client ``c`` takes trace entry ``order[c]``. Entries are sorted by id first (integer ids
numerically), so the row order of a file does not matter; ``order`` is the first
``num_clients`` items of a permutation drawn from the seed tree (purpose ``TRACE_PROFILES``
or ``TRACE_AVAILABILITY``), or, with ``replace: true`` and fewer entries than clients, a draw
with replacement.

Every problem with a file is a one-line :class:`~simfl.errors.DataError` naming the file,
the 1-based data row (and entry id) and the column where they apply, and what is allowed.
Pickles are read by an unpickler that builds no object but plain containers and numbers:
numpy scalars are rebuilt by simfl from their bytes, and only for boolean, integer and float
dtypes in numpy's own dtype state. A pickle may refer to one object many times (a 136 kB file
can name one list of floats 10,000 times), so before a trace is used its *expanded* size is
counted, every reference to a shared object counted again: a trace that expands to more than
:data:`MAX_TRACE_VALUES` values (20 million by default; set the environment variable
``SIMFL_MAX_TRACE_VALUES`` to change it) or that refers to itself is refused.
"""

from __future__ import annotations

import math
import os
import pickle
from itertools import chain
from pathlib import Path
from typing import Any, Literal, Protocol, Sequence

import numpy as np
import pandas as pd
from pydantic import ConfigDict, Field

from simfl.errors import DataError, one_line
from simfl.rng import Purpose, SeedTree
from simfl.scenario.trace_timeline import TraceTimeline
from simfl.strict import FilePath, StrictModel

__all__ = [
    "PROFILE_COLUMNS",
    "AVAILABILITY_COLUMNS",
    "read_table",
    "load_fedscale_pickle",
    "load_profile_trace",
    "read_profile_trace",
    "ProfileTraceSpec",
    "MAX_TRACE_VALUES",
    "trace_value_limit",
    "TraceAvailability",
    "TraceTimeline",
]

#: Columns of a profiles table (extra columns are ignored).
PROFILE_COLUMNS = ("client_id", "seconds_per_sample", "latency_s", "down_mbps", "up_mbps")
#: Columns of an availability table: one online interval ``[start_s, end_s)`` per row.
AVAILABILITY_COLUMNS = ("client_id", "start_s", "end_s")

_TABLE_SUFFIXES = {".csv": "CSV", ".parquet": "Parquet", ".pq": "Parquet"}
# The only globals a FedScale pickle may name: numpy scalars (module spelled by numpy 1 or 2).
_NUMPY_SCALAR = {("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}
_NUMPY_DTYPE = ("numpy", "dtype")
#: Default of the most values a FedScale trace may expand to (see the module docstring).
MAX_TRACE_VALUES = 20_000_000
_LIMIT_VARIABLE = "SIMFL_MAX_TRACE_VALUES"
_MAX_DEPTH = 32  # FedScale traces nest three deep


# ------------------------------------------------------------------ messages
def _at(path: str, row: int | None = None, column: str | None = None, entry_id: Any = None) -> str:
    """``path, row 3 (id 'a'), column x`` with ``row`` a 0-based position."""
    where = str(path)
    if row is not None:
        where += f", row {row + 1}" + ("" if entry_id is None else f" (id {entry_id!r})")
    if column is not None:
        where += f", column {column}"
    return where


def _num(v: float) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def _check_file(path: str, key: str | None) -> Path:
    p = Path(path)
    if not p.is_file():
        what = "is a folder, not a file" if p.is_dir() else "no such file"
        raise DataError(f"{path}: {what}" + (f" (set by {key})" if key else ""))
    return p


def _first(bad: np.ndarray) -> int | None:
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


def _require(path: str, values: np.ndarray, ok: np.ndarray, column: str, rule: str, ids=None) -> None:
    r = _first(~ok)
    if r is not None:
        entry_id = None if ids is None else ids[r]
        raise DataError(f"{_at(path, r, column, entry_id)}: must be {rule} (got {_num(values[r])})")


# -------------------------------------------------------------------- tables
def read_table(
    path: str,
    required_columns: Sequence[str],
    numeric_columns: Sequence[str] = (),
    *,
    key: str | None = None,
) -> pd.DataFrame:
    """The ``required_columns`` of a CSV (``.csv``) or Parquet (``.parquet``/``.pq``) table.

    Args:
        path: the file, as the user wrote it (errors repeat it).
        required_columns: columns that must be present; others are dropped.
        numeric_columns: required columns converted to float64; the rest become stripped str.
        key: the config key that set ``path``, named when the file is missing.

    Returns:
        A DataFrame with exactly ``required_columns``, one row per data row, in file order.

    Raises:
        DataError: unknown extension, missing or unreadable file, no data rows, missing
            columns, or an empty or non-numeric cell.
    """
    df = _read_frame(path, key)
    expected = ", ".join(required_columns)
    missing = [c for c in required_columns if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (expected columns {expected})")
    if len(df) == 0:
        raise DataError(f"{path}: no data rows (expected columns {expected})")
    return pd.DataFrame({col: _column(path, df[col].reset_index(drop=True), col, col in numeric_columns)
                         for col in required_columns})


def _read_frame(path: str, key: str | None) -> pd.DataFrame:
    """The whole table at ``path`` (CSV cells as text), its column names stripped."""
    suffix = Path(path).suffix.lower()
    kind = _TABLE_SUFFIXES.get(suffix)
    if kind is None:
        found = repr(suffix) if suffix else "no extension"
        raise DataError(f"{path}: unknown table format {found} (expected .csv, .parquet or .pq)")
    p = _check_file(path, key)
    try:
        if kind == "CSV":
            df = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
        else:
            df = pd.read_parquet(p)
    except Exception as e:  # pandas and pyarrow raise many types for a corrupt file
        raise DataError(f"{path}: cannot read as {kind}: {one_line(e)}") from e
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _column(path: str, raw: pd.Series, col: str, numeric: bool) -> Any:
    """One column, checked: float64 numbers (``numeric``) or stripped non-empty text."""
    if numeric:
        text = raw
        if pd.api.types.is_string_dtype(raw):  # also YAML's spelling .inf, as in the config
            text = raw.str.replace(r"^([+-]?)\.inf$", r"\1inf", regex=True, case=False)
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        r = _first(np.isnan(values))
        if r is not None:
            cell = raw.iloc[r]
            got = "an empty cell" if pd.isna(cell) or not str(cell).strip() else repr(str(cell))
            raise DataError(f"{_at(path, r, col)}: must be a number (got {got})")
        return values
    empty = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
    r = _first(empty)
    if r is not None:
        raise DataError(f"{_at(path, r, col)}: must not be empty")
    return raw.astype(str).str.strip()


# ------------------------------------------------------------------ FedScale
class _ForbiddenGlobal(pickle.UnpicklingError):
    pass


class _BadNumpyValue(pickle.UnpicklingError):
    pass


class _DtypeStandIn:
    """What ``numpy.dtype(name, align, copy)`` gives while unpickling: a name and, after the
    pickle's BUILD, numpy's dtype state, both checked by :func:`_numpy_scalar` (no real dtype is
    built from an unchecked state)."""

    def __init__(self, name: Any = None, align: Any = False, copy: Any = True) -> None:
        self.name = name
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _numpy_dtype(name: Any, state: Any) -> np.dtype:
    """A boolean, integer or float dtype from a pickled name and numpy's state tuple
    ``(version, byteorder, None, None, None, elsize, alignment, flags)``."""
    try:
        dtype = np.dtype(name) if isinstance(name, str) and len(name) <= 8 else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biuf":
        raise _BadNumpyValue(f"a numpy value of dtype {name!r:.40} (only boolean, integer and float numbers are loaded)")
    if state is None:
        return dtype
    ok = (
        isinstance(state, tuple) and len(state) == 8 and state[0] in (3, 4) and state[1] in ("<", ">", "|", "=")
        and state[2:5] == (None, None, None) and state[5] in (-1, dtype.itemsize)
        and state[6] in (-1, dtype.alignment) and state[7] == 0
    )
    if not ok:
        raise _BadNumpyValue(f"a numpy {dtype} value with a malformed dtype state {state!r:.80}")
    return dtype.newbyteorder(state[1]) if state[1] in "<>" else dtype


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    """``numpy.core.multiarray.scalar(dtype, bytes)``, rebuilt from checked parts."""
    if not isinstance(dtype, _DtypeStandIn):
        raise _BadNumpyValue(f"a numpy value without a dtype (got {type(dtype).__name__})")
    dt = _numpy_dtype(dtype.name, dtype.state)
    if isinstance(data, str):  # pickles written by Python 2
        data = data.encode("latin-1")
    if not isinstance(data, bytes) or len(data) != dt.itemsize:
        got = f"{len(data)} bytes" if isinstance(data, bytes) else type(data).__name__
        raise _BadNumpyValue(f"a numpy {dt} value needs {dt.itemsize} bytes, got {got}")
    return np.frombuffer(data, dtype=dt)[0]


class _PlainUnpickler(pickle.Unpickler):
    """Builds only what needs no global (dicts, lists, str, int, float) plus checked numpy scalars."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_SCALAR:
            return _numpy_scalar
        if (module, name) == _NUMPY_DTYPE:
            return _DtypeStandIn
        raise _ForbiddenGlobal(f"{module}.{name}")


def trace_value_limit() -> int:
    """The most values a FedScale trace may expand to: ``SIMFL_MAX_TRACE_VALUES`` or :data:`MAX_TRACE_VALUES`.

    Raises:
        DataError: the environment variable is not a positive integer.
    """
    text = os.environ.get(_LIMIT_VARIABLE)
    if text is None:
        return MAX_TRACE_VALUES
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if limit < 1:
        raise DataError(f"{_LIMIT_VARIABLE}={text!r}: must be a positive integer (values a FedScale trace may hold)")
    return limit


class _Unbounded(Exception):
    pass


def _expanded_size(obj: Any) -> int:
    """How many values ``obj`` holds once every shared reference is expanded: each container,
    dict key and scalar counts one. Linear in the number of references (each distinct container
    is counted once and remembered), so a pickle of nested shared lists that would expand
    exponentially is measured without being expanded.

    Raises:
        _Unbounded: a container holds itself, or the nesting is deeper than FedScale's.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(x: Any, depth: int) -> int:
        if not isinstance(x, (dict, list, tuple, set, frozenset)):
            return 1
        key = id(x)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _Unbounded("it contains itself")
        if depth > _MAX_DEPTH:
            raise _Unbounded(f"it is nested more than {_MAX_DEPTH} levels deep")
        active.add(key)
        if isinstance(x, dict):
            total = 1 + sum(1 + size(v, depth + 1) for v in x.values())
        else:
            total = 1 + sum(size(v, depth + 1) for v in x)
        active.discard(key)
        sizes[key] = total
        return total

    return size(obj, 0)


def load_fedscale_pickle(path: str, *, key: str | None = None) -> dict:
    """A FedScale trace file (a pickled dict), unpickled without loading any class.

    Args:
        path: the file, as the user wrote it.
        key: the config key that set ``path``, named when the file is missing.

    Raises:
        DataError: missing file, not a pickle, a pickle naming a class (or a numpy value that is
            not a plain number), a trace expanding beyond :func:`trace_value_limit` values, or
            not a non-empty dict.
    """
    p = _check_file(path, key)
    limit = trace_value_limit()
    try:
        with p.open("rb") as f:
            obj = _PlainUnpickler(f).load()
    except _ForbiddenGlobal as e:
        raise DataError(
            f"{path}: not a FedScale trace: it refers to {e}, and only plain dicts, lists, "
            "strings and numbers are loaded"
        ) from None
    except _BadNumpyValue as e:
        raise DataError(f"{path}: not a FedScale trace: it holds {e}") from None
    except Exception as e:  # a corrupt pickle can raise almost anything
        raise DataError(f"{path}: not a FedScale trace (cannot unpickle: {one_line(e)})") from e
    try:
        expanded = _expanded_size(obj)
    except _Unbounded as e:
        raise DataError(f"{path}: not a FedScale trace: {e}") from None
    if expanded > limit:
        raise DataError(
            f"{path}: the trace expands to {expanded:,} values (shared references counted each time they are "
            f"used), more than the limit of {limit:,}; if the file is genuine, raise the limit with "
            f"{_LIMIT_VARIABLE}={expanded}"
        )
    if not isinstance(obj, dict):
        got = type(obj).__name__
        raise DataError(f"{path}: not a FedScale trace: expected a pickled dict of id -> entry, got {got}")
    if not obj:
        raise DataError(f"{path}: not a FedScale trace: the dict has no entries")
    return obj


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _entry(path: str, pos: int, entry_id: Any, entry: Any, fields: Sequence[str]) -> dict:
    if not isinstance(entry, dict):
        raise DataError(
            f"{_at(path, pos, None, entry_id)}: not a FedScale trace entry: expected a dict with "
            f"{', '.join(map(repr, fields))}, got {type(entry).__name__}"
        )
    for field in fields:
        if field not in entry:
            raise DataError(f"{_at(path, pos, field, entry_id)}: missing (the entry has {sorted(map(str, entry))})")
    return entry


def _field_number(path: str, pos: int, entry_id: Any, entry: dict, field: str, rule: str, ok) -> float:
    v = entry[field]
    if not _is_number(v):
        raise DataError(f"{_at(path, pos, field, entry_id)}: must be a number {rule} (got {v!r})")
    v = float(v)
    if not ok(v):
        raise DataError(f"{_at(path, pos, field, entry_id)}: must be {rule} (got {_num(v)})")
    return v


# ------------------------------------------------------------ client mapping
def _id_order(ids: Sequence[str]) -> np.ndarray:
    """Positions of ``ids`` sorted by id: integer ids numerically, before the others."""

    def key(j: int) -> tuple:
        s = ids[j]
        try:
            return (0, int(s), s)
        except ValueError:
            return (1, 0, s)

    return np.array(sorted(range(len(ids)), key=key), dtype=np.int64)


def _assign(
    path: str, num_entries: int, num_clients: int, rng: np.random.Generator, replace: bool, key: str
) -> np.ndarray:
    """Which (sorted) trace entry each client takes."""
    if num_entries >= num_clients:
        return rng.permutation(num_entries)[:num_clients]
    if not replace:
        entries = "1 entry" if num_entries == 1 else f"{num_entries} entries"
        raise DataError(
            f"{path}: the trace has {entries} but the run has {num_clients} clients "
            f"(set {key}: true to draw entries with replacement, or use fewer clients)"
        )
    return rng.integers(0, num_entries, size=num_clients)


# ------------------------------------------------------------------ profiles
class ProfileTraceSpec(Protocol):
    """What :func:`load_profile_trace` reads of the ``heterogeneity.profiles`` section."""

    path: str
    format: str
    replace: bool
    fedscale_compute_factor: float


def load_profile_trace(spec: ProfileTraceSpec, num_clients: int, tree: SeedTree) -> dict[str, np.ndarray]:
    """:func:`read_profile_trace` with the keys of a ``heterogeneity.profiles`` section."""
    return read_profile_trace(spec.path, num_clients, tree, format=spec.format, replace=spec.replace,
                              compute_factor=spec.fedscale_compute_factor)


def read_profile_trace(
    path: str,
    num_clients: int,
    tree: SeedTree,
    *,
    format: str = "table",
    replace: bool = False,
    compute_factor: float = 3.0,
) -> dict[str, np.ndarray]:
    """Per-client speed and links taken from a trace (see the module docstring).

    FedScale entries map to ``seconds_per_sample = computation / 1000 * compute_factor``,
    ``down_mbps = up_mbps = communication / 1000`` and ``latency_s = 0``.

    Args:
        path: the trace file (``heterogeneity.profiles.path``).
        num_clients: clients in the run.
        tree: the run's seed tree (purpose ``TRACE_PROFILES`` draws the client -> entry map).
        format: ``table`` | ``fedscale``.
        replace: draw trace entries with replacement when there are fewer than clients.
        compute_factor: ``fedscale_compute_factor``.

    Returns:
        Arrays of length ``num_clients``: ``seconds_per_sample``, ``latency_s``, ``down_mbps``,
        ``up_mbps`` (float64) and ``trace_client_id`` (str, the id of the entry each client took).

    Raises:
        DataError: a missing or malformed file, or fewer entries than clients without ``replace``.
    """
    ids, values = _profile_table(path) if format == "table" else _fedscale_profiles(path, compute_factor)
    by_id = _id_order(ids)
    rng = tree.generator(Purpose.TRACE_PROFILES)
    take = by_id[_assign(path, len(ids), num_clients, rng, replace, "heterogeneity.profiles.replace")]
    out = {col: np.ascontiguousarray(v[take], dtype=np.float64) for col, v in values.items()}
    out["trace_client_id"] = np.asarray(ids, dtype=str)[take]
    return out


def _profile_table(path: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """Entry ids and per-entry values of a profiles table, checked."""
    df = read_table(path, PROFILE_COLUMNS, PROFILE_COLUMNS[1:], key="heterogeneity.profiles.path")
    ids = df["client_id"].tolist()
    for col in ("seconds_per_sample", "latency_s"):
        v = df[col].to_numpy()
        _require(path, v, np.isfinite(v) & (v >= 0), col, "a finite number >= 0")
    for col in ("down_mbps", "up_mbps"):
        v = df[col].to_numpy()
        _require(path, v, v > 0, col, "> 0 (.inf allowed)")
    again = df["client_id"].duplicated(keep="first").to_numpy()
    r2 = _first(again)
    if r2 is not None:
        r1 = ids.index(ids[r2])
        raise DataError(
            f"{path}, rows {r1 + 1} and {r2 + 1}, column client_id: duplicate id {ids[r2]!r} "
            "(each client_id must appear once)"
        )
    return ids, {col: df[col].to_numpy(dtype=np.float64) for col in PROFILE_COLUMNS[1:]}


def _fedscale_profiles(path: str, compute_factor: float) -> tuple[list[str], dict[str, np.ndarray]]:
    """Entry ids and per-entry values of a FedScale device-capacity file, checked."""
    trace = load_fedscale_pickle(path, key="heterogeneity.profiles.path")
    n = len(trace)
    ids, comp, comm = [], np.empty(n), np.empty(n)
    for pos, (entry_id, entry) in enumerate(trace.items()):
        entry = _entry(path, pos, entry_id, entry, ("computation", "communication"))
        comp[pos] = _field_number(path, pos, entry_id, entry, "computation", "> 0 and finite (ms per sample)",
                                  lambda v: 0 < v < math.inf)
        comm[pos] = _field_number(path, pos, entry_id, entry, "communication", "> 0 (kbps)", lambda v: v > 0)
        ids.append(str(entry_id))
    mbps = comm / 1000.0
    return ids, {
        "seconds_per_sample": comp / 1000.0 * compute_factor,
        "latency_s": np.zeros(n),
        "down_mbps": mbps,
        "up_mbps": mbps.copy(),
    }


# -------------------------------------------------------------- availability
class TraceAvailability(StrictModel):
    """Online intervals replayed from a trace; a client takes one trace client's timeline.

    ``table``: rows ``client_id, start_s, end_s``, each an online interval ``[start_s, end_s)``;
    without ``wrap_s`` a client is offline for good after its last interval. ``fedscale``:
    ``client_behave_trace``, online in ``[active[i], inactive[i])``, repeated every
    ``finish_time`` (or ``wrap_s``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["trace"] = Field("trace", description="trace: online intervals from a file")
    path: FilePath = Field(
        description="CSV or Parquet table of online intervals (client_id, start_s, end_s), "
        "or a FedScale client_behave_trace file"
    )
    format: Literal["table", "fedscale"] = Field("table", description="table | fedscale (client_behave_trace)")
    wrap_s: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="repeat every client's intervals with this period (s); null = table: offline after "
        "its last interval, fedscale: period finish_time",
    )
    replace: bool = Field(
        False, description="draw clients with replacement when the trace has fewer clients than the run"
    )

    def build(self, tree: SeedTree, num_clients: int) -> TraceTimeline:
        """Read the trace and map each client to a trace client (purpose ``TRACE_AVAILABILITY``)."""
        if self.format == "table":
            ids, starts, ends, offsets, periods = _read_interval_table(self.path, self.wrap_s)
        else:
            ids, starts, ends, offsets, periods = _read_behave_trace(self.path, self.wrap_s)
        rng = tree.generator(Purpose.TRACE_AVAILABILITY)
        entry = _assign(self.path, len(ids), num_clients, rng, self.replace, "heterogeneity.availability.replace")
        return TraceTimeline(starts, ends, offsets, periods, entry, np.asarray(ids, dtype=str)[entry])


_Intervals = tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _read_interval_table(path: str, wrap_s: float | None) -> _Intervals:
    df = read_table(path, AVAILABILITY_COLUMNS, ("start_s", "end_s"), key="heterogeneity.availability.path")
    s, e = df["start_s"].to_numpy(), df["end_s"].to_numpy()
    _require(path, s, np.isfinite(s) & (s >= 0), "start_s", "a finite number >= 0")
    _require(path, e, np.isfinite(e), "end_s", "a finite number")
    r = _first(e <= s)
    if r is not None:
        raise DataError(f"{_at(path, r, 'end_s')}: must be > start_s (got end_s {_num(e[r])} <= start_s {_num(s[r])})")
    if wrap_s is not None:
        _require(path, e, e <= wrap_s, "end_s", f"<= heterogeneity.availability.wrap_s = {_num(wrap_s)}")
    codes, uniques = pd.factorize(df["client_id"])
    unique = list(uniques)
    by_id = _id_order(unique)
    rank = np.empty_like(by_id)
    rank[by_id] = np.arange(len(by_id))
    code, ids = rank[codes], [unique[j] for j in by_id]
    rows = np.lexsort((s, code))  # by client, then start
    c, s_sorted, e_sorted = code[rows], s[rows], e[rows]
    j = _first((c[1:] == c[:-1]) & (s_sorted[1:] < e_sorted[:-1]))
    if j is not None:
        a, b = int(rows[j]), int(rows[j + 1])
        a, b = min(a, b), max(a, b)
        raise DataError(
            f"{path}, rows {a + 1} and {b + 1}, columns start_s/end_s: intervals [{_num(s[a])}, {_num(e[a])}) and "
            f"[{_num(s[b])}, {_num(e[b])}) of client {ids[code[a]]!r} overlap (a client's intervals must not overlap)"
        )
    offsets = np.searchsorted(c, np.arange(len(ids) + 1)).astype(np.int64)
    periods = np.full(len(ids), math.inf if wrap_s is None else float(wrap_s))
    return ids, s_sorted, e_sorted, offsets, periods


def _read_behave_trace(path: str, wrap_s: float | None) -> _Intervals:
    trace = load_fedscale_pickle(path, key="heterogeneity.availability.path")
    n = len(trace)
    keys, ids, actives, inactives = list(trace), [], [], []
    periods = np.empty(n)
    for pos, (entry_id, entry) in enumerate(trace.items()):
        fields = ("active", "inactive") if wrap_s is not None else ("active", "inactive", "finish_time")
        entry = _entry(path, pos, entry_id, entry, fields)
        for field in ("active", "inactive"):
            if not isinstance(entry[field], (list, tuple)) or not all(map(_is_number, entry[field])):
                got = repr(entry[field])[:60]
                raise DataError(f"{_at(path, pos, field, entry_id)}: must be a list of numbers (got {got})")
        if len(entry["active"]) != len(entry["inactive"]):
            raise DataError(
                f"{_at(path, pos, 'inactive', entry_id)}: must have as many items as active "
                f"(got {len(entry['inactive'])}, active has {len(entry['active'])})"
            )
        if wrap_s is None:
            periods[pos] = _field_number(path, pos, entry_id, entry, "finish_time", "> 0 and finite",
                                         lambda v: 0 < v < math.inf)
        else:
            periods[pos] = wrap_s
        ids.append(str(entry_id))
        actives.append(entry["active"])
        inactives.append(entry["inactive"])
    counts = np.fromiter(map(len, actives), dtype=np.int64, count=n)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    a = np.fromiter(chain.from_iterable(actives), dtype=np.float64, count=int(offsets[-1]))
    b = np.fromiter(chain.from_iterable(inactives), dtype=np.float64, count=int(offsets[-1]))
    owner = np.repeat(np.arange(n), counts)
    bound = "heterogeneity.availability.wrap_s" if wrap_s is not None else "finish_time"

    def fail(bad: np.ndarray, field: str, rule: str, got: np.ndarray) -> None:
        j = _first(bad)
        if j is not None:
            pos = int(owner[j])
            raise DataError(
                f"{_at(path, pos, field, keys[pos])}: item {j - offsets[pos]} must be {rule} (got {_num(got[j])})"
            )

    fail(~np.isfinite(a) | (a < 0), "active", "a finite number >= 0", a)
    fail(~np.isfinite(b), "inactive", "a finite number", b)
    fail(b <= a, "inactive", "> the matching active item", b)
    later = np.zeros(len(a), dtype=bool)
    later[1:] = (owner[1:] == owner[:-1]) & (a[1:] < b[:-1])
    fail(later, "active", "sorted, >= the previous inactive item", a)
    fail(b > periods[owner], "inactive", f"<= {bound}", b)
    # Dict order is file order; the timeline wants entries sorted by id.
    by_id = _id_order(ids)
    starts = np.concatenate([a[offsets[p]:offsets[p + 1]] for p in by_id]) if n else a
    ends = np.concatenate([b[offsets[p]:offsets[p + 1]] for p in by_id]) if n else b
    new_offsets = np.concatenate([[0], np.cumsum(counts[by_id])])
    return [ids[p] for p in by_id], starts, ends, new_offsets, periods[by_id]
