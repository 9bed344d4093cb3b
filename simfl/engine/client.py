"""The client task phase by phase, for worlds where its timing is not known at dispatch.

With finite server links (``heterogeneity.server``), a transfer's speed depends on the other
transfers sharing the link, so a task runs phase by phase — download (latency, then the
shared egress link), compute, upload (latency, then the shared ingress link) — and records
what each phase took. The client going offline stops it: a transfer in progress is withdrawn
from its link (the others speed up) and the task is lost at that moment. Without contention
the engine uses the single-event fast path of :mod:`simfl.engine.simulation`, which gives the
same times.

A :class:`TaskRun` is a small state machine driven by SimPy event callbacks (bound methods,
no generator), so the whole simulation state can be pickled for a checkpoint.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import simpy

from simfl.engine.events import WAKE, PriorityTimeout
from simfl.engine.links import SharedLink

if TYPE_CHECKING:
    from simfl.engine.services import Engine
    from simfl.engine.tasks import Task

__all__ = ["ServerLinks", "TaskRun"]

_DOWNLOAD, _COMPUTE, _UPLOAD, _DONE = 0, 1, 2, 3


class ServerLinks:
    """The server's egress (carrying downloads) and ingress (carrying uploads) links."""

    def __init__(self, env: simpy.Environment, egress_mbps: float, ingress_mbps: float) -> None:
        self.egress = SharedLink(env, egress_mbps * 1e6)
        self.ingress = SharedLink(env, ingress_mbps * 1e6)


def _unshared(latency: float, bits: float, cap_bps: float) -> float:
    return latency + (0.0 if math.isinf(cap_bps) else bits / cap_bps)


class TaskRun:
    """One task's phases; ends by triggering ``task`` (an untriggered event, see
    :class:`~simfl.engine.tasks.Task`).

    Args:
        sim: the simulation.
        task: the task.
        work: compute seconds at nominal speed.
        offline_at: when the client goes offline (``inf``: never during this task).
    """

    def __init__(self, sim: "Engine", task: "Task", work: float, offline_at: float) -> None:
        self.sim = sim
        self.task = task
        self.work = work
        client = task.client
        pop = sim.population
        self.latency = float(pop.latency_s[client])
        self.bits = sim.model_bytes * 8.0
        self.caps = (float(pop.down_mbps[client]) * 1e6, float(pop.up_mbps[client]) * 1e6)
        self.phases = [math.nan, math.nan, math.nan]
        self.waits = [0.0, 0.0]
        self.phase = _DOWNLOAD
        self.started = sim.env.now
        self.link: SharedLink | None = None
        self.transfer = None
        self.pending: simpy.Event | None = None  # the event the current phase waits for
        if offline_at < math.inf:
            # WAKE priority: an upload ending exactly when the client goes offline survives
            PriorityTimeout(sim.env, offline_at - sim.env.now, WAKE).callbacks.append(self._offline)
        self._send()

    @property
    def is_alive(self) -> bool:
        """True until the task has ended (arrived, lost or aborted)."""
        return self.phase != _DONE

    # ----------------------------------------------------------------- phases
    def _wait(self, event: simpy.Event, then) -> None:
        self.pending = event
        event.callbacks.append(then)

    def _send(self) -> None:
        """Latency, then the transfer of the current phase's direction."""
        if self.latency > 0:
            self._wait(self.sim.env.timeout(self.latency), self._transfer)
        else:
            self._transfer(None)

    def _transfer(self, event) -> None:
        if event is not None and event is not self.pending:
            return  # the phase was stopped meanwhile
        links = self.sim.links
        self.link = links.egress if self.phase == _DOWNLOAD else links.ingress
        done, self.transfer = self.link.transfer(self.bits, self.caps[0 if self.phase == _DOWNLOAD else 1])
        self._wait(done, self._sent)

    def _sent(self, event) -> None:
        if event is not self.pending:
            return
        self.transfer = None
        env = self.sim.env
        self.phases[self.phase] = env.now - self.started
        self.started = env.now
        if self.phase == _DOWNLOAD:
            self._record()
            self.phase = _COMPUTE
            duration = self.sim.pool.compute_duration(self.task.client, env.now, self.work)
            self._wait(env.timeout(duration), self._computed)
        else:
            self._finish(lost=False)

    def _computed(self, event) -> None:
        if event is not self.pending:
            return
        env = self.sim.env
        self.phases[_COMPUTE] = env.now - self.started
        self._record()
        self.started = env.now
        self.phase = _UPLOAD
        self._send()

    # ------------------------------------------------------------------ ends
    def _offline(self, _event) -> None:
        if self.is_alive:
            self._stop()

    def abort(self) -> None:
        """The server discarded the task (its client is free; its transfer leaves the link)."""
        if self.is_alive:
            self._stop()

    def _stop(self) -> None:
        if self.transfer is not None:
            self.link.cancel(self.transfer)
            self.transfer = None
        self.phases[self.phase] = self.sim.env.now - self.started
        self._finish(lost=True)

    def _finish(self, lost: bool) -> None:
        self.pending = None
        self.phase = _DONE
        self.task.lost = lost
        self._record()
        self.task.end_time = self.sim.env.now
        self.task.succeed()

    def _record(self) -> None:
        """The phases so far, so a task still running at the stop shows them."""
        for i, cap in ((0, self.caps[0]), (1, self.caps[1])):
            if not math.isnan(self.phases[2 * i]):  # time spent waiting for the shared link
                self.waits[i] = max(self.phases[2 * i] - _unshared(self.latency, self.bits, cap), 0.0)
        self.sim.log.set_phases(self.task.id, self.phases[0], self.phases[1], self.phases[2], self.waits[0],
                                self.waits[1])
