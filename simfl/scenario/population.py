"""The population: per-client profiles stored as arrays, and the timing of a client's task.

A client's base compute speed and links are drawn once from the seed tree (one uniform per
client and purpose), its availability comes from a lazy :class:`~simfl.scenario.availability.Timeline`,
and the jitter of its k-th task is drawn when the task is dispatched. Nothing here depends on
the algorithm, so ``clients.parquet`` is identical for every algorithm under one seed.

Timing of client c's k-th task (docs/architecture.md, "Task timing"):
``download = latency_s + model_bytes·8 / (down_mbps·1e6)``,
``compute = samples · seconds_per_sample[c] · jitter[c, k]``,
``upload = latency_s + model_bytes·8 / (up_mbps·1e6)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from simfl.rng import Purpose, SeedTree, client_states, splitmix_ppf_from_state
from simfl.scenario.availability import Timeline
from simfl.scenario.coupling import couple_speeds
from simfl.scenario.speed import build_speed
from simfl.scenario.traces import load_profile_trace
from simfl.scenario.distributions import Distribution

__all__ = ["Population", "build_population", "transfer_seconds", "samples_per_task"]


def transfer_seconds(latency_s: np.ndarray, mbps: np.ndarray, num_bytes: int) -> np.ndarray:
    """Latency plus serialization time of ``num_bytes`` at ``mbps`` (``inf`` Mbit/s costs 0)."""
    return latency_s + (num_bytes * 8.0) / (np.asarray(mbps, dtype=float) * 1e6)


def samples_per_task(train, num_samples: np.ndarray) -> np.ndarray:
    """Samples processed by one local task, per client (int64); the trainer processes exactly these.

    ``local_steps · min(batch_size, n_c)`` (a client with fewer samples than a batch trains on
    all of them at each step), or ``round(local_epochs · n_c)`` (at least 1).
    """
    n = np.asarray(num_samples, dtype=np.int64)
    if train.local_steps is not None:
        return train.local_steps * np.minimum(train.batch_size, n)
    return np.maximum(np.rint(train.local_epochs * n), 1).astype(np.int64)


@dataclass(eq=False)
class Population:
    """Per-client profiles as arrays (index = client id) plus the per-task processes."""

    num_samples: np.ndarray  # int64, training samples per client
    seconds_per_sample: np.ndarray
    latency_s: np.ndarray
    down_mbps: np.ndarray
    up_mbps: np.ndarray
    jitter: Distribution
    timeline: Timeline
    tree: SeedTree
    speed: object | None = None  # a SpeedModel (simfl.scenario.speed); None = constant speed
    extra_columns: dict = field(default_factory=dict)  # more per-client columns for clients.parquet
    names: np.ndarray | None = None  # str per client (the data's own names); None: str(client id)

    @property
    def size(self) -> int:
        """Number of clients."""
        return len(self.num_samples)

    def jitter_of(self, client: int, k: int) -> float:
        """The compute multiplier of ``client``'s ``k``-th task (a pure function of seed, client, k)."""
        return self.jitter_function()(client, k)

    def jitter_streams(self) -> tuple[Callable[[float], float] | None, np.ndarray | float]:
        """What the dispatch hot path needs to draw jitter: ``(ppf, states)``, one stream state per
        client (:func:`~simfl.rng.splitmix_ppf_from_state`), or ``(None, value)`` for a constant."""
        if self.jitter.is_constant:
            return None, float(self.jitter.expected)
        return self.jitter.scalar_ppf(), client_states(self.tree.key(Purpose.JITTER), self.size)

    def jitter_function(self) -> Callable[[int, int], float]:
        """``(client, k) -> jitter`` (:meth:`jitter_of` for many draws)."""
        ppf, states = self.jitter_streams()
        if ppf is None:
            return lambda client, k: states
        return lambda client, k: splitmix_ppf_from_state(ppf, int(states[client]), k)

    def table(self) -> pd.DataFrame:
        """``clients.parquet``: the population only, no per-run outcome; ``client_name`` is the
        data's name of the client (:func:`simfl.data.client_names`), else its id as text."""
        ids = np.arange(self.size, dtype=np.int64)
        return pd.DataFrame(
            {
                "client_id": ids,
                "client_name": self.names if self.names is not None else ids.astype(str).astype(object),
                "num_samples": self.num_samples.astype(np.int64),
                "seconds_per_sample": self.seconds_per_sample,
                "latency_s": self.latency_s,
                "down_mbps": self.down_mbps,
                "up_mbps": self.up_mbps,
                "online_probability": self.timeline.stationary_online_probability(),
                **(self.speed.profile_columns() if self.speed is not None else {}),
                **self.extra_columns,
            },
            copy=False,  # the population's arrays as they are: a copy costs fresh memory at 10^6 clients
        )


def _draw(dist: Distribution, tree: SeedTree, purpose: Purpose, n: int) -> np.ndarray:
    if dist.is_constant:
        return np.full(n, float(dist.expected))
    return np.asarray(dist.ppf(tree.uniforms(purpose, np.arange(n), 0)), dtype=float)


def build_population(
    heterogeneity, num_samples: np.ndarray, tree: SeedTree, label_share: np.ndarray | None = None,
    names: np.ndarray | None = None,
) -> Population:
    """Draw (or read from a trace) every client's profile.

    Args:
        heterogeneity: the ``heterogeneity`` config section.
        num_samples: training samples per client (from the data module).
        tree: the run's seed tree.
        label_share: per client, the share of its samples with the coupled labels (needed
            only for ``coupling.by: label``).
        names: each client's name (``clients.parquet``'s ``client_name``); None: its id as text.
    """
    n = len(num_samples)
    compute, network = heterogeneity.compute, heterogeneity.network
    extra: dict[str, np.ndarray] = {}
    if heterogeneity.profiles is not None:
        trace = load_profile_trace(heterogeneity.profiles, n, tree)
        sps, latency, down, up = (trace[k] for k in ("seconds_per_sample", "latency_s", "down_mbps", "up_mbps"))
        extra["trace_client_id"] = trace["trace_client_id"]
    else:
        sps = _draw(compute.seconds_per_sample, tree, Purpose.COMPUTE, n)
        latency = _draw(network.latency_s, tree, Purpose.LATENCY, n)
        down = _draw(network.down_mbps, tree, Purpose.DOWNLINK, n)
        up = _draw(network.up_mbps, tree, Purpose.UPLINK, n)
    coupling = heterogeneity.coupling
    if coupling is not None:
        quantity = np.asarray(num_samples, dtype=float) if coupling.by == "size" else -np.asarray(label_share)
        sps = couple_speeds(sps, quantity, coupling.strength, tree)
    timeline = heterogeneity.availability.build(tree, n)
    if hasattr(timeline, "trace_client_id"):
        extra["availability_trace_id"] = np.asarray(timeline.trace_client_id)
    speed = build_speed(compute, tree, n)
    return Population(
        num_samples=np.asarray(num_samples, dtype=np.int64),
        seconds_per_sample=sps,
        latency_s=latency,
        down_mbps=down,
        up_mbps=up,
        jitter=compute.jitter,
        timeline=timeline,
        tree=tree,
        speed=speed,
        extra_columns=extra,
        names=None if names is None else np.asarray(names, dtype=object),
    )
