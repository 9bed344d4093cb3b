"""SimPy's private state that simfl.engine.simpy_fence relies on: still there, with the same meaning.

If a SimPy release renames or changes any of these, this file fails before a run does.
"""

from __future__ import annotations

import pickle

import pytest
import simpy
from simpy.core import NORMAL

from simfl.engine import simpy_fence as fence
from simfl.engine.events import WAKE, PriorityTimeout


def _trace_env() -> tuple[fence.Environment, list]:
    """Three timeouts: b and c at t=2 (c first by priority, then insertion), a at t=1."""
    env, trace = fence.Environment(), []
    for name, delay, priority in (("b", 2, WAKE), ("a", 1, NORMAL), ("c", 2, NORMAL), ("d", 2, WAKE)):
        PriorityTimeout(env, delay, priority).callbacks.append(lambda e, n=name: trace.append((n, env.now)))
    return env, trace


def test_major_version_is_the_tested_one():
    assert simpy.__version__.split(".")[0] == "4"


def test_heap_entries_are_time_priority_id_event():
    env, _ = _trace_env()
    heap = fence.event_heap(env)
    assert heap is env._queue and len(heap) == 4
    assert sorted(entry[:2] for entry in heap) == [(1, NORMAL), (2, NORMAL), (2, WAKE), (2, WAKE)]
    assert sorted(entry[2] for entry in heap) == [0, 1, 2, 3]  # insertion ids, in scheduling order
    assert all(isinstance(entry[3], simpy.Event) for entry in heap)
    assert set(fence.queued_events(env)) == {entry[3] for entry in heap}
    assert fence.next_time(heap) == 1 and fence.next_time([]) == float("inf")


def test_step_matches_simpys_own_trace():
    ours, ours_trace = _trace_env()
    heap = fence.event_heap(ours)
    while heap:
        fence.step(ours, heap)
    theirs, theirs_trace = _trace_env()
    while theirs.peek() < float("inf"):
        theirs.step()
    assert ours_trace == theirs_trace == [("a", 1), ("c", 2), ("b", 2), ("d", 2)]
    assert ours.now == ours._now == 2


class _Owner:
    stop_reason = None


def test_run_events_matches_step_and_stops_where_told():
    """run_events is step repeated: same trace; it stops at the horizon, after the budget, after an
    event that empties the work containers, and before the (limit + 1)-th event at one time."""
    env, trace = _trace_env()
    heap, state, work = fence.event_heap(env), [0, float("-inf"), 0], ([1], ())
    fence.run_events(env, heap, _Owner(), 1.5, 10, 100, work, state)
    assert trace == [("a", 1)] and state == [1, 1, 0]  # horizon 1.5: the t=2 events wait
    fence.run_events(env, heap, _Owner(), 9, 1, 100, work, state)
    assert trace == [("a", 1), ("c", 2)] and state == [2, 2, 0]  # budget 1
    fence.run_events(env, heap, _Owner(), 9, 10, 1, work, state)
    assert trace == [("a", 1), ("c", 2), ("b", 2)] and state == [3, 2, 2]  # a 3rd event at t=2 exceeds limit 1
    env, trace = _trace_env()
    state, empty = [0, float("-inf"), 0], ([], ())
    fence.run_events(env, fence.event_heap(env), _Owner(), 9, 10, 100, empty, state)
    assert trace == [("a", 1)] and state[0] == 1  # no work left after an event: back to the caller


def test_run_events_keeps_its_count_when_a_callback_raises():
    env, state = fence.Environment(), [5, float("-inf"), 0]
    PriorityTimeout(env, 1, NORMAL).callbacks.append(lambda e: None)
    PriorityTimeout(env, 2, NORMAL).callbacks.append(lambda e: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        fence.run_events(env, fence.event_heap(env), _Owner(), 9, 10, 100, ([1], ()), state)
    assert state == [6, 2, 0] and env.now == 2  # the event that raised is not counted


def test_event_outcome_fields():
    env = fence.Environment()
    event = env.event()
    assert event._value is fence.PENDING and not event.triggered
    fence.set_pending(event)
    assert not event.triggered
    fence.trigger_now(event, 7)
    assert event.triggered and event.ok and event.value == 7 and event._ok is True
    failed = env.event()
    failed.fail(ValueError("x"))
    assert failed._ok is False and isinstance(failed._value, ValueError)
    assert not hasattr(failed, "_defused")
    failed.defused = True
    assert failed._defused is True


def test_step_raises_an_unhandled_failure_itself():
    env = fence.Environment()
    error = KeyError("mine")
    env.event().fail(error)
    with pytest.raises(KeyError) as caught:
        fence.step(env, fence.event_heap(env))
    assert caught.value is error  # the plugin's own exception object, not a copy
    handled = env.event()
    handled.fail(KeyError("handled"))
    handled.defused = True
    fence.step(env, fence.event_heap(env))  # defused: no raise


def test_next_event_id_is_not_consumed_and_survives_a_pickle():
    env = fence.Environment()
    for delay in (3, 1, 2, 2):
        PriorityTimeout(env, delay, NORMAL)
    assert env.next_event_id() == 4 and env.next_event_id() == 4
    copy = pickle.loads(pickle.dumps(env))
    assert copy.now == 0 and copy.next_event_id() == 4 and len(fence.event_heap(copy)) == 4
    copy.schedule(PriorityTimeout(copy, 0, WAKE), NORMAL, 5)
    assert max(entry[2] for entry in fence.event_heap(copy)) == 5  # ids 4 (the timeout), 5 (scheduled again)
    fence.step(copy, fence.event_heap(copy))
    assert copy.now == 0  # the 0-delay timeout
    env.run()
    assert env.now == 3


def test_schedule_triggered_is_trigger_then_schedule():
    ours, theirs = fence.Environment(), fence.Environment()
    a, b = ours.event(), theirs.event()
    fence.schedule_triggered(ours, a, 2.5, WAKE)
    fence.trigger_now(b)
    theirs.schedule(b, WAKE, 2.5)
    assert fence.event_heap(ours)[0][:3] == fence.event_heap(theirs)[0][:3] == (2.5, WAKE, 0)
    assert a.triggered and a.ok and a.value is None
