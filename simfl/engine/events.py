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

import simpy
from simpy.core import NORMAL

from simfl.engine.simpy_fence import Environment, trigger_now

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
        trigger_now(self, value)
        env.schedule(self, priority, delay)
