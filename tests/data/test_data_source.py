"""make_source: the grouping and test-split rules every dataset with its own clients shares."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfl.data import make_source
from simfl.errors import DataError


@settings(max_examples=60, deadline=None)
@given(ids=st.lists(st.integers(-3, 5), min_size=1, max_size=40), test_ids=st.lists(st.integers(-3, 5), max_size=15))
def test_clients_are_sorted_ids_rows_keep_their_order(ids, test_ids):
    ids = np.array(ids)
    x = np.arange(len(ids), dtype=float)[:, None]  # row i holds i: order is visible
    y = np.zeros(len(ids), dtype=int)
    known = np.isin(test_ids, ids)
    tids = np.array(test_ids, dtype=int)
    xt = 100 + np.arange(len(tids), dtype=float)[:, None]
    if len(tids) and not known.all():  # some or all ids name no training client: refused, never ignored
        with pytest.raises(DataError, match="has no training rows"):
            make_source("t", x, y, ids, xt, np.zeros(len(tids), int), tids)
        return
    src = make_source("t", x, y, ids, xt if len(tids) else None, np.zeros(len(tids), int) if len(tids) else None,
                      tids if len(tids) else None)
    clients = np.unique(ids)
    np.testing.assert_array_equal(src.clients, clients)
    for k, cid in enumerate(clients):
        rows = src.x[src.offsets[k] : src.offsets[k + 1], 0]
        np.testing.assert_array_equal(rows, np.flatnonzero(ids == cid))  # its rows, in file order
        if src.test_offsets is not None:
            trows = src.x_test[src.test_offsets[k] : src.test_offsets[k + 1], 0] - 100
            np.testing.assert_array_equal(trows, np.flatnonzero(tids == cid))
    if len(tids):
        assert src.test_offsets is not None  # every test id is a training client's


def test_dtypes_and_info():
    x = np.array([[1, 2], [3, 4]])
    tokens = make_source("t", x, [0, 1])
    assert tokens.x.dtype == np.int64 and tokens.info.input_dtype == "int64" and tokens.info.vocab_size == 5
    floats = make_source("t", x, [0, 1], input_dtype="float32")
    assert floats.x.dtype == np.float32 and floats.info.vocab_size is None
    assert make_source("t", x.astype(bool), [0, 1]).info.input_dtype == "float32"
    assert make_source("t", x, [0, 3]).info.num_classes == 4
    assert make_source("t", x, [0, 1], None, x, [0, 6]).info.num_classes == 7  # over train and test
    with pytest.raises(DataError, match="t: y holds the label 6, out of range for data.num_classes=5"):
        make_source("t", x, [0, 6], num_classes=5)
    with pytest.raises(DataError, match="non-integer value, but data.input_dtype is int64"):
        make_source("t", x + 0.5, [0, 1], input_dtype="int64")
    with pytest.raises(DataError, match="negative integer; integer inputs are token ids"):
        make_source("t", -x, [0, 1])
    with pytest.raises(DataError, match="x row 1 holds inf"):
        make_source("t", np.array([[0.0], [np.inf]]), [0, 1])
    with pytest.raises(DataError, match="x row 1 holds 1e\\+300, beyond float32.s range"):
        make_source("t", np.array([[0.0], [1e300]]), [0, 1])  # finite in float64, not in float32


def test_boolean_labels_and_strange_test_clients_are_refused():
    """LEAF's JSON true/false among the labels, and a client_id_test that names no training client."""
    x = np.zeros((3, 1))
    with pytest.raises(DataError, match="y holds true/false, not integer class labels"):
        make_source("t", x, [0, 1, True], None)
    with pytest.raises(DataError, match="test client 9 has no training rows"):
        make_source("t", x, [0, 1, 0], np.array([1, 1, 2]), np.zeros((2, 1)), np.zeros(2, int), np.array([9, 9]))


def test_an_npz_header_claiming_more_than_it_holds_is_refused_before_allocating(tmp_path):
    """A forged header of 10^12 float64 values over 16 bytes: one line, not a MemoryError."""
    import io
    import zipfile

    from simfl.data.arrays import _read_npz

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    y = io.BytesIO()
    np.save(y, np.zeros(4, int))
    forged = tmp_path / "forged.npz"
    with zipfile.ZipFile(forged, "w") as z:
        z.writestr("x.npy", header.getvalue() + b"\0" * 16)
        z.writestr("y.npy", y.getvalue())
    with pytest.raises(DataError, match=r"array x claims 8,000,000,000,000 bytes .* a damaged or forged file"):
        _read_npz(forged)
    fine = tmp_path / "fine.npz"
    np.savez_compressed(fine, x=np.zeros((4, 2)), y=np.zeros(4, int))
    assert sorted(_read_npz(fine)) == ["x", "y"]


def test_leaf_json_nested_too_deeply_is_one_line(tmp_path):
    from simfl.data.leaf import read_leaf_file

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataError, match="nested too deeply"):
        read_leaf_file(deep)
