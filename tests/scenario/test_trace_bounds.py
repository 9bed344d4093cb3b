"""Crafted FedScale pickles (issue 13, items 5 and 7): a trace that expands past the documented
bound through shared references is refused before it is materialised, and a numpy value with a
bad dtype state is a one-line error, never an exotic object."""

from __future__ import annotations

import pickle
import resource

import numpy as np
import pytest

from simfl.cli import main
from simfl.errors import DataError
from simfl.scenario.traces import MAX_TRACE_VALUES, load_fedscale_pickle


def _shared_behave_trace(clients: int, per_list: int) -> bytes:
    """``clients`` entries all referring to one pair of ``per_list``-float lists: a tiny file."""
    active = [float(2 * i) for i in range(per_list)]
    inactive = [float(2 * i + 1) for i in range(per_list)]
    entry = {"active": active, "inactive": inactive, "finish_time": float(2 * per_list)}
    return pickle.dumps({i: entry for i in range(clients)}, protocol=4)


def _expanded(clients: int, per_list: int) -> int:
    """Values of the trace above with every reference expanded: the dict, per entry its key, the
    entry dict, 3 keys, 2 lists with their items and ``finish_time``."""
    return 1 + clients * (1 + 1 + 3 + 2 * (1 + per_list) + 1)


def test_the_reported_bomb_is_refused_before_it_is_expanded(tmp_path):
    """10,000 clients sharing two 4,000-float lists: ~130 kB on disk, 80 M floats expanded
    (the size reported in the issue); refused, with no more memory than the file needs."""
    data = _shared_behave_trace(10_000, 4_000)
    assert len(data) < 200_000
    path = tmp_path / "behave.pkl"
    path.write_bytes(data)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataError) as err:
        load_fedscale_pickle(str(path))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    message = str(err.value)
    assert f"expands to {_expanded(10_000, 4_000):,} values" in message
    assert f"limit of {MAX_TRACE_VALUES:,}" in message and "SIMFL_MAX_TRACE_VALUES" in message
    assert grown_kib < 200_000  # the 80 M floats (>= 640 MB as float64) were never built


def test_the_count_is_exact_and_the_limit_is_overridable(tmp_path, monkeypatch):
    path = tmp_path / "behave.pkl"
    path.write_bytes(_shared_behave_trace(50, 20))
    n = _expanded(50, 20)
    monkeypatch.setenv("SIMFL_MAX_TRACE_VALUES", str(n))
    assert len(load_fedscale_pickle(str(path))) == 50  # exactly at the limit: accepted
    monkeypatch.setenv("SIMFL_MAX_TRACE_VALUES", str(n - 1))
    with pytest.raises(DataError, match=f"expands to {n:,} values.*limit of {n - 1:,}"):
        load_fedscale_pickle(str(path))
    monkeypatch.setenv("SIMFL_MAX_TRACE_VALUES", "lots")
    with pytest.raises(DataError, match="SIMFL_MAX_TRACE_VALUES='lots': must be a positive integer"):
        load_fedscale_pickle(str(path))


def test_exponential_nesting_is_measured_not_expanded(tmp_path):
    """Thirty levels of ``[x, x]``: 2**30 leaves from a few hundred bytes."""
    x: list = [1.0]
    for _ in range(30):
        x = [x, x]
    path = tmp_path / "nested.pkl"
    path.write_bytes(pickle.dumps({"a": {"active": x}}, protocol=4))
    with pytest.raises(DataError, match="expands to"):
        load_fedscale_pickle(str(path))


def test_a_trace_that_contains_itself_is_refused(tmp_path):
    loop: list = []
    loop.append(loop)
    path = tmp_path / "loop.pkl"
    path.write_bytes(pickle.dumps({"a": {"active": loop}}, protocol=4))
    with pytest.raises(DataError, match="contains itself"):
        load_fedscale_pickle(str(path))


try:
    from numpy._core.multiarray import scalar as _numpy_scalar
except ImportError:  # numpy 1
    from numpy.core.multiarray import scalar as _numpy_scalar


class _Dtype:
    """Pickles as numpy does a dtype, ``dtype(name, False, True)`` then BUILD ``state``, with any name and state."""

    def __init__(self, name: str, state):
        self.name, self.state = name, state

    def __reduce__(self):
        return (np.dtype, (self.name, False, True), self.state)


class _Scalar:
    """Pickles as numpy does a scalar: ``scalar(dtype, raw bytes)``."""

    def __init__(self, dtype: _Dtype, data: bytes):
        self.dtype, self.data = dtype, data

    def __reduce__(self):
        return (_numpy_scalar, (self.dtype, self.data))


def _profile_trace(computation) -> bytes:
    return pickle.dumps({"c1": {"computation": computation, "communication": 100.0}}, protocol=4)


GOOD_STATE = (3, "<", None, None, None, -1, -1, 0)


@pytest.mark.parametrize("state, expect", [
    ((9, "<", None, None, None, -1, -1, 0), "malformed dtype state"),
    ((3, "<", None, None, None, 2130706432, -1, 0), "malformed dtype state"),  # elsize 2 GB
    ((3, "<", None, None, None, -1, -1, 63), "malformed dtype state"),  # object flags
    ((3, "?", None, None, None, -1, -1, 0), "malformed dtype state"),
    ((3, "<", None, ("a",), {"a": (np.dtype("f8"), 0)}, -1, -1, 0), "malformed dtype state"),  # fields
    ((3,), "malformed dtype state"),
    (3, "malformed dtype state"),
])
def test_a_bad_dtype_state_is_one_line(tmp_path, state, expect):
    path = tmp_path / "profiles.pkl"
    path.write_bytes(_profile_trace(_Scalar(_Dtype("f8", state), np.float64(3.0).tobytes())))
    with pytest.raises(DataError) as err:
        load_fedscale_pickle(str(path))
    assert expect in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("dtype", ["O8", "V8", "M8", "U2"])
def test_only_plain_number_dtypes_are_built(tmp_path, dtype):
    """An object, void, datetime or string dtype is refused, whatever its bytes say (an object
    scalar built from raw bytes would be a pointer)."""
    path = tmp_path / "profiles.pkl"
    path.write_bytes(_profile_trace(_Scalar(_Dtype(dtype, GOOD_STATE), bytes(8))))
    with pytest.raises(DataError, match=f"dtype '{dtype}'.*only boolean, integer and float"):
        load_fedscale_pickle(str(path))


def test_a_scalar_with_the_wrong_number_of_bytes_is_one_line(tmp_path):
    path = tmp_path / "profiles.pkl"
    path.write_bytes(_profile_trace(_Scalar(_Dtype("f8", GOOD_STATE), bytes(3))))
    with pytest.raises(DataError, match="float64 value needs 8 bytes, got 3 bytes"):
        load_fedscale_pickle(str(path))


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_genuine_numpy_scalars_still_load(tmp_path, protocol):
    path = tmp_path / "profiles.pkl"
    trace = {7: {"computation": np.float64(20.0), "communication": np.float32(1000.0)},
             8: {"computation": np.int64(5), "communication": np.uint16(250)}}
    path.write_bytes(pickle.dumps(trace, protocol=protocol))
    loaded = load_fedscale_pickle(str(path))
    assert loaded == trace
    assert [type(v) for e in loaded.values() for v in e.values()] == [np.float64, np.float32, np.int64, np.uint16]


def test_a_big_endian_scalar_keeps_its_value(tmp_path):
    path = tmp_path / "profiles.pkl"
    state = (3, ">", None, None, None, -1, -1, 0)
    path.write_bytes(_profile_trace(_Scalar(_Dtype("f4", state), np.array([250.5], dtype=">f4").tobytes())))
    assert load_fedscale_pickle(str(path))["c1"]["computation"] == 250.5


def test_the_cli_reports_a_bomb_in_one_line(tmp_path, capsys):
    path = tmp_path / "behave.pkl"
    path.write_bytes(_shared_behave_trace(10_000, 4_000))
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"data: {{num_clients: 5}}\ntrain: {{enabled: false}}\nalgorithm: {{concurrency: 2}}\n"
                   f"heterogeneity: {{availability: {{type: trace, format: fedscale, path: {path}}}}}\n"
                   "stop: {sim_time_s: 5}\n")
    assert main(["validate", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "expands to" in err and "Traceback" not in err
