"""QuantileFastest: dispatch only to clients that are fast enough, uniformly among them.

Fastest-first selection (``fastest``) always picks the single fastest idle client, which
concentrates all training on a few devices and their data. This rule keeps speed in check
without that bias: it draws uniformly among the eligible clients whose expected task time is
in the fastest ``quantile`` of the population, and among all eligible clients when none of
those is free.
"""

import numpy as np

from simfl.api import Field, SelectionParams, Selector, Server


class QuantileFastest(Selector):
    """Uniform among eligible clients in the fastest quantile of expected task time."""

    class Params(SelectionParams):
        quantile: float = Field(0.5, gt=0, le=1, description="share of the population counted as fast")

    def __init__(self, params: Params) -> None:
        self.quantile = params.quantile
        self.fast: np.ndarray | None = None  # per client: among the fastest (fixed during a run)

    def select(self, server: Server) -> int | None:
        if self.fast is None:
            durations = server.expected_task_durations()
            self.fast = durations <= np.quantile(durations, self.quantile)
        eligible = server.eligible_mask()
        candidates = np.flatnonzero(eligible & self.fast)
        if candidates.size == 0:
            candidates = np.flatnonzero(eligible)
        if candidates.size == 0:
            return None
        return int(candidates[server.selection_stream.index(candidates.size)])  # the seed tree's draws
