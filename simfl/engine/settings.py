"""What the engine is given and what it returns: its settings and a finished run's outcome.

A leaf of the engine (plain data): the simulation, its parts and the runner read these without
importing one another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["EngineSettings", "SimulationOutcome"]


@dataclass(frozen=True)
class EngineSettings:
    """What the engine needs to know of a run's config.

    Attributes:
        samples_per_task: samples one task of each client processes (int array; its compute).
        stop_sim_time_s, stop_client_updates, stop_server_updates, stop_target_accuracy: stop
            criteria (None: not used); the run ends at the first that holds.
        eval_every_s: simulated seconds between evaluations (None: only at the end).
        eval_split: what the trainer evaluates on, ``test`` or ``validation``: the evals columns
            are ``{eval_split}_loss`` and ``{eval_split}_accuracy`` (what the trainer returns).
        eval_divergence_factor: a loss above this multiple of the first evaluation's (the initial
            model's) ends the run as diverged, as NaN does (None: only NaN or inf).
        client_cooldown_s: a client is not eligible until this long after its task ended.
        egress_mbps, ingress_mbps: the server's shared links (inf: unlimited).
        aggregation_s_per_update: server time to aggregate one update (0: none).
        checkpoint_every_s: simulated seconds between checkpoints (None: none); the run calls
            ``checkpoint(sim)`` with the state after every event up to each multiple.
        max_events_per_instant: events at one simulated time beyond which the run stops with
            ``no_progress`` (time would not advance: a guard against zero-duration loops).
    """

    samples_per_task: np.ndarray
    stop_sim_time_s: float | None = None
    stop_client_updates: int | None = None
    stop_server_updates: int | None = None
    stop_target_accuracy: float | None = None
    eval_every_s: float | None = None
    eval_split: str = "test"
    eval_divergence_factor: float | None = None
    client_cooldown_s: float = 0.0
    egress_mbps: float = math.inf
    ingress_mbps: float = math.inf
    aggregation_s_per_update: float = 0.0
    checkpoint_every_s: float | None = None
    max_events_per_instant: int = 10_000_000

    @property
    def contended(self) -> bool:
        """True when a server link is finite (transfers then share it)."""
        return math.isfinite(self.ingress_mbps) or math.isfinite(self.egress_mbps)


@dataclass
class SimulationOutcome:
    """Everything a finished (or interrupted) simulation recorded."""

    client_updates: pd.DataFrame
    aggregations: pd.DataFrame
    evals: pd.DataFrame
    stop_reason: str
    sim_end_s: float
    final_params: np.ndarray | None
    counters: dict = field(default_factory=dict)
