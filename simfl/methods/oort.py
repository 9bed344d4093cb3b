"""Oort (Lai et al. 2021, "Oort: Efficient Federated Learning via Guided Participant Selection",
OSDI): guided participant selection (``algorithm.selection: {type: oort}``)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from simfl.algorithms.sampling import oort_utility
from simfl.config.params import SelectionParams
from simfl.engine.server import Selector, Server
from simfl.engine.tasks import Task

__all__ = ["Oort"]


class Oort(Selector):
    """Lai et al. 2021 (see :func:`~simfl.algorithms.sampling.oort_utility`).

    Exploration: with probability ``epsilon`` (and whenever no eligible client has been
    explored) the fastest eligible client never selected before. Exploitation: the eligible
    explored client of highest utility (the paper samples among the top utilities; here the
    best one is taken). A client counts as explored once one of its updates has been trained.
    """

    class Params(SelectionParams):
        """Lai et al. 2021: statistical × system utility with a temporal bonus; epsilon-exploration."""

        type: str = "oort"
        epsilon: float = Field(0.1, ge=0, le=1, description="probability of exploring a never-selected client")
        preferred_duration_s: float = Field(
            10.0, gt=0, allow_inf_nan=False, description="T: tasks slower than this are penalized"
        )
        penalty: float = Field(2.0, ge=0, allow_inf_nan=False, description="alpha: exponent of the (T / t) penalty")
        temporal_weight: float = Field(
            0.1, ge=0, allow_inf_nan=False, description="weight c of the bonus sqrt(c ln R / L) for clients unseen for long"
        )
        needs_losses: ClassVar[bool] = True

    observes = True
    observes_results = True

    def __init__(self, params: "Oort.Params") -> None:
        self.spec = params
        self.round = 0
        self._state: dict[str, np.ndarray] | None = None
        self._order: np.ndarray | None = None

    def _arrays(self, server: Server) -> dict[str, np.ndarray]:
        if self._state is None:
            n = server.num_clients
            self._state = {
                "explored": np.zeros(n, dtype=bool),
                "selected": np.zeros(n, dtype=bool),
                "samples": np.zeros(n),
                "loss_rms": np.zeros(n),
                "duration": np.zeros(n),
                "last_round": np.ones(n),
            }
        return self._state

    def utilities(self, server: Server, clients: np.ndarray) -> np.ndarray:
        """Current utility of ``clients`` (explored ones)."""
        s = self._arrays(server)
        return oort_utility(
            s["samples"][clients], s["loss_rms"][clients], s["duration"][clients], s["last_round"][clients],
            self.round, self.spec.preferred_duration_s, self.spec.penalty, self.spec.temporal_weight,
        )

    def select(self, server: Server) -> int | None:
        s = self._arrays(server)
        self.round += 1
        mask = server.eligible_mask()
        explored = np.flatnonzero(mask & s["explored"])
        explore = explored.size == 0 or server.selection_stream.next() < self.spec.epsilon
        if explore:
            fresh = mask & ~s["selected"]
            if fresh.any():
                if self._order is None:
                    self._order = np.argsort(server.expected_task_durations(), kind="stable")
                c = int(self._order[fresh[self._order]][0])
            elif explored.size:
                c = int(explored[np.argmax(self.utilities(server, explored))])
            else:  # everyone eligible was selected but none has reported yet
                candidates = np.flatnonzero(mask)
                if candidates.size == 0:
                    return None
                c = int(candidates[server.selection_stream.index(candidates.size)])
        else:
            c = int(explored[np.argmax(self.utilities(server, explored))])
        s["selected"][c] = True
        s["last_round"][c] = self.round
        return c

    def observe(self, server: Server, task: Task) -> None:
        s = self._arrays(server)
        s["duration"][task.client] = task.end_time - task.dispatch_time

    def observe_result(self, server: Server, task: Task, loss_rms: float, samples: int) -> None:
        """A trained update's statistics (root mean square per-sample loss, samples processed)."""
        s = self._arrays(server)
        s["explored"][task.client] = True
        s["loss_rms"][task.client] = loss_rms
        s["samples"][task.client] = samples
