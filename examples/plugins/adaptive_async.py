"""AdaptiveAsync: asynchronous mixing whose weight adapts to each update's staleness.

FedAsync mixes every arrival with weight α·s(τ) for a fixed function s. Here the weight
compares an update's staleness τ with the staleness the server has been seeing lately:
``w = min(1, α (τ̄ + 1) / (τ + 1))``, with τ̄ a moving average of recent τ. An update as stale
as usual gets α; a fresher one more, a staler one less — whatever the level of staleness
the world produces, so α needs no retuning when concurrency or heterogeneity change.

FedAsync's loop (keep ``concurrency`` tasks in flight, hand each arrival to ``apply`` with its
staleness, then dispatch replacements) comes from :class:`simfl.api.AsyncMethod`.
"""

from simfl.api import AlgorithmParams, AsyncMethod, Field, Server, Task, mix


class AdaptiveAsync(AsyncMethod):
    """FedAsync with the staleness-adaptive weight min(1, alpha (mean tau + 1) / (tau + 1))."""

    class Params(AlgorithmParams):
        concurrency: int = Field(10, ge=1, description="tasks kept in flight")
        alpha: float = Field(0.6, gt=0, le=1, description="weight of an update as stale as the recent ones")
        smoothing: float = Field(0.1, gt=0, le=1, description="weight of the newest tau in the moving average")

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.alpha, self.smoothing = params.alpha, params.smoothing
        self.typical = 0.0  # moving average of the staleness of recent arrivals

    def apply(self, server: Server, task: Task, tau: int) -> None:
        weight = min(1.0, self.alpha * (self.typical + 1.0) / (tau + 1.0))
        self.typical += self.smoothing * (tau - self.typical)
        params = server.params
        if params is not None:  # None in a timing-only dry run
            params = mix(params, server.results([task])[0], weight)
        server.applied(task, weight)
        server.install(params)
