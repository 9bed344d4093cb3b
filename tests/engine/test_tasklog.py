"""The columnar task log: what is written is what the table holds, across block boundaries."""

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfl.engine.tasks import _BLOCK, Status, TaskLog

_row = st.tuples(
    st.integers(0, 10**6), st.integers(0, 100), st.integers(-1, 50), st.integers(0, 10**6),
    st.floats(0, 1e6), st.floats(0, 10), st.floats(0, 100), st.floats(0, 10), st.integers(1, 10**4), st.floats(0, 100),
    st.sampled_from(list(Status)), st.integers(-1, 40),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_row, max_size=60), st.integers(0, 2))
def test_the_frame_holds_every_value_written(rows, extra_blocks):
    log = TaskLog()
    filler = extra_blocks * _BLOCK  # rows before, so that the checked rows straddle block boundaries
    for _ in range(filler - 3 if filler else 0):
        log.add(0, 0, -1, 0, 0.0, 0.0, 0.0, 0.0, 1, 0.0)
    first = log.n
    for client, k, round_, base, dispatch, down, compute, up, samples, work, status, staleness in rows:
        tid = log.add(client, k, round_, base, dispatch, down, compute, up, samples, work)
        if status != Status.IN_FLIGHT:
            log.settle(tid, status, staleness, 0.25)
    frame = log.frame()
    assert len(frame) == first + len(rows)
    assert frame.task_id.tolist() == list(range(len(frame)))
    got = frame.iloc[first:]
    for j, (client, k, round_, base, dispatch, down, compute, up, samples, work, status, staleness) in enumerate(rows):
        row = got.iloc[j]
        assert (row.client_id, row.task_index, row.base_version, row.num_samples) == (client, k, base, samples)
        assert (row.dispatch_time_s, row.download_s, row.compute_s, row.upload_s, row.compute_work_s) == (
            dispatch, down, compute, up, work)
        assert pd.isna(row["round"]) if round_ < 0 else row["round"] == round_
        assert row.status == status.label
        arrived = status != Status.IN_FLIGHT and staleness >= 0
        assert pd.isna(row.staleness) != arrived
        if arrived:
            assert row.staleness == staleness and row.weight == 0.25
        assert np.isnan(row.end_time_s) and row.download_wait_s == 0.0


def test_a_closed_log_refuses_to_grow_and_leaves_the_frame_alone():
    log = TaskLog()
    for i in range(_BLOCK):  # exactly one full block: the next add must grow
        log.add(i, 0, -1, 0, float(i), 0.0, 1.0, 0.0, 10, 1.0)
    frame = log.frame()
    with pytest.raises(RuntimeError, match="closed"):
        log.add(0, 0, -1, 0, 0.0, 0.0, 1.0, 0.0, 10, 1.0)
    assert frame.client_id.tolist() == list(range(_BLOCK))


def test_a_pickled_log_goes_on_where_it_stopped():
    log = TaskLog()
    for i in range(10):
        log.add(i, 0, -1, 0, float(i), 0.0, 1.0, 0.0, 10, 1.0)
    copy = pickle.loads(pickle.dumps(log))
    for target in (log, copy):
        target.add(99, 1, 2, 3, 4.0, 5.0, 6.0, 7.0, 8, 9.0)
        target.settle(10, Status.APPLIED, 1, 0.5)
    a, b = log.frame(), copy.frame()
    assert a.equals(b) and b.client_id.iloc[-1] == 99 and b.status.iloc[-1] == "applied"


def test_frame_can_be_taken_twice_and_gives_the_same_table():
    log = TaskLog()
    for i in range(5):
        log.add(i, 0, i - 2, 0, float(i), 0.0, 1.0, 0.0, 10, 1.0)  # rounds -2..2: the first two missing
    log.settle(3, Status.APPLIED, 2, 0.5)
    first, second = log.frame(), log.frame()
    assert first.equals(second)
    assert second["round"].isna().tolist() == [True, True, False, False, False]
    assert second.staleness.isna().tolist() == [True, True, True, False, True]
