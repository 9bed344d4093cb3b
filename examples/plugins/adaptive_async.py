"""AdaptiveAsync: asynchronous mixing whose weight adapts to each update's staleness.

FedAsync mixes every arrival with weight α·s(τ) for a fixed function s. Here the weight
compares an update's staleness τ with the staleness the server has been seeing lately:
``w = min(1, α (τ̄ + 1) / (τ + 1))``, with τ̄ a moving average of recent τ. An update as stale
as usual gets α; a fresher one more, a staler one less — whatever the level of staleness
the world produces, so α needs no retuning when concurrency or heterogeneity change.
"""

from simfl.api import AlgorithmParams, Field, InFlight, Policy, Server, Task, mix


class AdaptiveAsync(Policy):
    """FedAsync with the staleness-adaptive weight min(1, alpha (mean tau + 1) / (tau + 1))."""

    class Params(AlgorithmParams):
        concurrency: int = Field(10, ge=1, description="tasks kept in flight")
        alpha: float = Field(0.6, gt=0, le=1, description="weight of an update as stale as the recent ones")
        smoothing: float = Field(0.1, gt=0, le=1, description="weight of the newest tau in the moving average")

    def __init__(self, params: Params) -> None:
        self.alpha, self.smoothing = params.alpha, params.smoothing
        self.flight = InFlight(params.concurrency)
        self.typical = 0.0  # moving average of the staleness of recent arrivals

    def start(self, server: Server) -> None:
        self.flight.refill(server)

    def on_arrivals(self, server: Server, updates: list[Task]) -> None:
        for task in updates:  # every arrival at this time, in dispatch order
            tau = server.staleness(task)
            weight = min(1.0, self.alpha * (self.typical + 1.0) / (tau + 1.0))
            self.typical += self.smoothing * (tau - self.typical)
            params = server.params
            if params is not None:  # None in a timing-only dry run
                params = mix(params, server.results([task])[0], weight)
            server.applied(task, weight)
            server.install(params)
        self.flight.refill(server)  # replacements start from the model with every arrival in it

    def on_lost(self, server: Server, tasks: list[Task]) -> None:
        self.flight.refill(server)
