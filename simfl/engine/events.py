"""Event priorities at equal simulated times, and a timeout with an explicit priority.

SimPy orders its queue by ``(time, priority, insertion id)``. simfl adds levels after SimPy's
NORMAL so that, at any one simulated time, work happens in this order (docs/architecture.md, "Event order"):

1. ``TASK_END`` (= SimPy NORMAL): task-end events, in the order the tasks were dispatched;
   each only *collects* its task.
2. ``FLUSH``: the collected ends are processed together, in dispatch order: the server applies
   every arrival (and books every loss) *before* dispatching any replacement, so a task
   dispatched at time t starts from the model that includes every arrival at t.
3. ``WAKE``: deadlines and availability wake-ups (a deadline at t sees the arrivals at t).
4. ``EVAL``: evaluations see the model after everything else at t.
"""

from __future__ import annotations

import itertools

import simpy
from simpy.core import NORMAL

__all__ = ["TASK_END", "FLUSH", "WAKE", "EVAL", "PriorityTimeout", "Environment"]

TASK_END = NORMAL
FLUSH = NORMAL + 1
WAKE = NORMAL + 2
EVAL = NORMAL + 3


class PriorityTimeout(simpy.Event):
    """Like :class:`simpy.Timeout`, with a priority level from this module."""

    def __init__(self, env: simpy.Environment, delay: float, priority: int, value=None) -> None:
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        super().__init__(env)
        self._ok = True
        self._value = value
        env.schedule(self, priority, delay)


class Environment(simpy.Environment):
    """SimPy's environment, picklable: its clock, its queue of events and its event counter.

    (SimPy's own environment holds bound classes that do not pickle, and ``itertools.count``
    stops pickling in Python 3.14.) The engine schedules only events whose callbacks are bound
    methods, so a checkpoint can pickle the whole queue.
    """

    def __getstate__(self) -> dict:
        next_eid = int(repr(self._eid)[len("count("):-1])  # the counter's next value, not consumed
        return {"now": self._now, "queue": self._queue, "next_eid": next_eid}

    def __setstate__(self, state: dict) -> None:
        simpy.Environment.__init__(self, state["now"])
        self._queue = state["queue"]
        self._eid = itertools.count(state["next_eid"])
