"""Building small simulations by hand: explicit per-client durations, deterministic selection."""

from __future__ import annotations

import numpy as np

from simfl.engine.simulation import Simulation
from simfl.methods.selectors import Uniform
from simfl.rng import SeedTree
from simfl.running.world import build_policy, engine_settings
from simfl.scenario.availability import AlwaysAvailable
from simfl.scenario.distributions import Constant
from simfl.scenario.population import Population
from tests.conftest import make_config


class LowestIdFirst(Uniform):
    """Dispatches to the eligible client with the smallest id: makes hand-computed traces possible."""

    def select(self, server):
        eligible = np.flatnonzero(server.eligible_mask())
        return int(eligible[0]) if eligible.size else None


def hand_population(compute_s, num_samples=100, seed=0) -> Population:
    """Clients whose every task computes for exactly ``compute_s[c]`` seconds (no network), with
    ``num_samples`` samples each (one number, or one per client).

    With ``local_steps = batch_size = 1`` a task processes one sample, so
    ``seconds_per_sample`` is the compute time itself.
    """
    n = len(compute_s)
    return Population(
        num_samples=np.broadcast_to(np.asarray(num_samples, dtype=np.int64), (n,)).copy(),
        seconds_per_sample=np.asarray(compute_s, dtype=float),
        latency_s=np.zeros(n),
        down_mbps=np.full(n, np.inf),
        up_mbps=np.full(n, np.inf),
        jitter=Constant(value=1.0),
        timeline=AlwaysAvailable().build(SeedTree(seed), n),
        tree=SeedTree(seed),
    )


def hand_simulation(compute_s, trainer=None, selector=None, **sections):
    """A simulation of ``hand_population(compute_s)`` under ``make_config(**sections)``."""
    sections.setdefault("train", {})
    sections["train"] = {"local_steps": 1, "batch_size": 1, **sections["train"]}
    sections.setdefault("data", {})
    sections["data"] = {"num_clients": len(compute_s), **sections["data"]}
    config = make_config(**sections)
    population = hand_population(compute_s)
    return Simulation(engine_settings(config, population.num_samples), population, build_policy(config), model_bytes=1000,
                      trainer=trainer, selector=selector if selector is not None else LowestIdFirst(),
                      algorithm=config.algorithm)


def trace(outcome):
    """``[(arrival time, client, staleness)]`` of arrived tasks in the order they were processed."""
    df = outcome.client_updates
    arrived = df[df.arrival_time_s.notna()].sort_values(["arrival_time_s", "task_id"])
    return [(float(r.arrival_time_s), int(r.client_id), int(r.staleness)) for r in arrived.itertuples()]


def run_stopped_after_checkpoints(config, out, monkeypatch, count: int = 1):
    """Run ``config`` into ``out`` and stop it, as Ctrl-C would, right after its ``count``-th
    checkpoint (``run.checkpoint_every_s``); returns ``out``, which then holds that checkpoint."""
    import simfl
    from simfl.running import record

    original, written = record.save_checkpoint, []

    def stopping(*args, **kwargs):
        original(*args, **kwargs)
        written.append(1)
        if len(written) == count:
            raise KeyboardInterrupt

    monkeypatch.setattr(record, "save_checkpoint", stopping)
    try:
        assert simfl.run(config, out=out, progress=False).status == "interrupted"
    finally:
        monkeypatch.setattr(record, "save_checkpoint", original)
    return out
