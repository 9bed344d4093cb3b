"""SimPy's private state, touched here and nowhere else in simfl.

The engine runs SimPy's loop itself (it schedules no processes on its hot path) and pickles the
environment for checkpoints, so it needs a few things SimPy keeps private: the clock
(``Environment._now``), the event heap (``Environment._queue``: entries
``(time, priority, insertion id, event)``), the insertion counter (``Environment._eid``), an
event's outcome (``Event._ok``, ``Event._value``, ``PENDING`` until triggered) and whether a
failure was handled (``Event._defused``). Each use is one helper below;
``tests/engine/test_simpy_fence.py`` checks on a tiny environment that SimPy still keeps them
with these meanings (pyproject pins SimPy's major version).
"""

from __future__ import annotations

import itertools
import math
from heapq import heappop, heappush
from operator import attrgetter
from typing import Iterator

import simpy
from simpy.events import PENDING

__all__ = ["Environment", "PENDING", "event_heap", "queued_events", "next_time", "step", "run_events", "trigger_now", "schedule_triggered",
           "set_pending"]


class Environment(simpy.Environment):
    """SimPy's environment, picklable: its clock, its queue of events and its event counter.

    (SimPy's own environment holds bound classes that do not pickle, and ``itertools.count``
    stops pickling in Python 3.14.) The engine schedules only events whose callbacks are bound
    methods, so a checkpoint can pickle the whole queue.
    """

    #: The current simulated time, read by a C-level getter (the engine reads it a few times per
    #: event; SimPy's Python property costs a frame each time).
    now = property(attrgetter("_now"), doc="The current simulated time.")

    def next_event_id(self) -> int:
        """The insertion id the next scheduled event gets (not consumed)."""
        n = next(self._eid)
        self._eid = itertools.count(n)  # a fresh counter at the same place: nothing is used up
        return n

    def __getstate__(self) -> dict:
        return {"now": self._now, "queue": self._queue, "next_eid": self.next_event_id()}

    def __setstate__(self, state: dict) -> None:
        simpy.Environment.__init__(self, state["now"])
        self._queue = state["queue"]
        self._eid = itertools.count(state["next_eid"])


def event_heap(env: simpy.Environment) -> list:
    """The environment's heap of ``(time, priority, insertion id, event)``: the same list for the
    environment's life (read it, never change it)."""
    return env._queue


def queued_events(env: simpy.Environment) -> Iterator[simpy.Event]:
    """The events scheduled and not yet processed, in no particular order."""
    for entry in env._queue:
        yield entry[3]


def next_time(heap: list) -> float:
    """The time of the next event in ``heap`` (:func:`event_heap`); inf when it is empty."""
    return heap[0][0] if heap else math.inf


class _Running:
    """An owner of events that never asks them to stop."""

    stop_reason = None


def step(env: simpy.Environment, heap: list) -> None:
    """SimPy's ``Environment.step`` for a non-empty ``heap`` of ``env``: :func:`run_events` for one event."""
    run_events(env, heap, _Running, math.inf, 1, 1, ((True,), ()), [0, -math.inf, 0])


def run_events(env: simpy.Environment, heap: list, owner, horizon: float, budget: int, max_same_instant: int,
               work: tuple, state: list) -> None:
    """:func:`step` repeated, in one call (the engine's hot loop): process the events due at or
    before ``horizon``, in order.

    Stops before the next event when ``owner.stop_reason`` is set, when ``budget`` events have
    run, or when the next event would be the ``max_same_instant`` + 1-th at one simulated time;
    and after an event that leaves every container of ``work`` empty (the caller then checks
    whether anything can still happen). ``state`` = ``[events so far, time of the last event,
    events before it at that time]`` is read and updated in place, also when a callback raises.
    A failed event nobody handled raises its own exception (SimPy raises a copy, which loses a
    plugin error's extra fields).
    """
    steps, last_t, same = state
    stop_at = steps + budget
    a, b = work
    try:
        while steps < stop_at and owner.stop_reason is None and heap:
            t = heap[0][0]
            if t > horizon:
                return
            if t == last_t:
                same += 1
                if same > max_same_instant:
                    return
            else:
                last_t, same = t, 0
            env._now, _, _, event = heappop(heap)
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                raise event._value
            steps += 1
            if not a and not b:
                return
    finally:
        state[0], state[1], state[2] = steps, last_t, same


def trigger_now(event: simpy.Event, value: object = None) -> None:
    """Mark ``event`` as succeeded with ``value`` before it is scheduled (as ``simpy.Timeout`` does)."""
    event._ok = True
    event._value = value


def schedule_triggered(env: simpy.Environment, event: simpy.Event, delay: float, priority: int) -> None:
    """:func:`trigger_now` (value None) and ``env.schedule(event, priority, delay)`` in one call (a hot path)."""
    event._ok = True
    event._value = None
    heappush(env._queue, (env._now + delay, priority, next(env._eid), event))


def set_pending(event: simpy.Event) -> None:
    """Mark ``event`` as not triggered yet (it succeeds later, through ``event.succeed()``)."""
    event._value = PENDING
