"""Observers: read-only watchers of a simulation (live tracking, custom logging).

:class:`~simfl.engine.simulation.Simulation` takes a list of observers and tells each of them,
as the run goes, of:

* ``evaluated(sim, row)``: an evaluation was recorded; ``row`` is the ``evals`` row.
* ``installed(sim, server_version, sim_time_s, num_client_updates, extra)``: a new global
  model was installed; the arguments are its ``aggregations`` row (``extra``: the policy's
  extra columns, or None).
* ``tasks_ended(sim, tasks)``: client tasks ended now (arrived, lost, or stopped by the
  server), in dispatch order. Arrivals and losses are reported once per flush
  (:mod:`simfl.engine.events`), *after* the server policy handled them: their status and
  staleness in ``sim.log`` are what the server decided at that moment, and a model the
  policy installed for them has been reported already. A task stopped while running
  (``discarded_deadline``) is reported when it is stopped. Tasks still running when the run
  stops are not reported.
* ``finished(sim, outcome)``: the run ended; ``outcome`` is the
  :class:`~simfl.engine.settings.SimulationOutcome` about to be returned.

An observer may leave a hook out by setting it to None (a class attribute, as a selector
declares ``observes``): the engine then never calls it, and a simulation with no observer for a
hook pays one ``is None`` test where the hook would be called. Observers must only read: they
see the engine's state, and the run's results must be the same with or without them. The
engine does not catch their exceptions (:mod:`simfl.tracking` wraps user callbacks so that
theirs are).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence

if TYPE_CHECKING:
    from simfl.engine.services import Engine
    from simfl.engine.settings import SimulationOutcome
    from simfl.engine.tasks import Task

__all__ = ["Observer", "hooks"]


class Observer(Protocol):
    """What the engine calls on an observer (each hook may be None: not called)."""

    def evaluated(self, sim: "Engine", row: Mapping[str, Any]) -> None:
        """An evaluation was recorded (``row`` is the ``evals`` row; do not modify it)."""

    def installed(
        self, sim: "Engine", server_version: int, sim_time_s: float, num_client_updates: int,
        extra: Mapping[str, Any] | None,
    ) -> None:
        """A new global model was installed (the arguments are its ``aggregations`` row)."""

    def tasks_ended(self, sim: "Engine", tasks: Sequence["Task"]) -> None:
        """Client tasks ended now, in dispatch order (their records are in ``sim.log``)."""

    def finished(self, sim: "Engine", outcome: "SimulationOutcome") -> None:
        """The run ended."""


def hooks(observers: Sequence[object], name: str) -> tuple[Callable[..., None], ...] | None:
    """The observers' ``name`` hooks that are not None, bound; None when there is none."""
    found = tuple(hook for hook in (getattr(o, name, None) for o in observers) if hook is not None)
    return found or None
