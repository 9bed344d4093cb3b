"""Size estimates checked before a run starts, against the config's ``limits`` section.

A careless or hostile config (10^12 clients, hidden layers of 10^5 units, an evaluation every
nanosecond, ``stop.sim_time_s: 1e308`` with nothing else to stop it) would otherwise exhaust
memory or run for centuries before failing. These estimates are coarse but on the safe side:

* **client updates**: ``min(stop.client_updates, stop.sim_time_s × rate, stop.server_updates ×
  in flight)`` with ``rate = tasks in flight / shortest plausible task time`` (the expected
  compute of a task at its client's mean speed, plus latency and transfer times at mean
  bandwidths: by Jensen's inequality a lower bound of the mean task time, so the rate is high);
* **evaluations**: ``stop.sim_time_s / eval.every_s`` (or the updates' duration);
* **memory**: the population (:data:`BYTES_PER_CLIENT`), the task log
  (:data:`BYTES_PER_TASK` per update) and the model copies in flight (the global model, the
  models tasks started from, optimizer state: ``(in flight + 4) × parameters × bytes``).

Each refusal is one line stating the estimate and the limit, and how to raise it.
"""

from __future__ import annotations

import math

from simfl.config.schema import Config
from simfl.errors import ConfigError

__all__ = ["estimate", "check_limits", "BYTES_PER_CLIENT", "BYTES_PER_TASK"]

#: Memory per client: profile arrays, engine arrays, availability state, the clients table.
BYTES_PER_CLIENT = 400
#: Memory per simulated task: its row of the task log (about 20 columns) and the table built from it.
BYTES_PER_TASK = 300


def _task_time_lower(config: Config, model_bytes: int) -> float:
    """A lower bound of the mean task time (s), from the distributions' means."""
    het = config.heterogeneity
    net, compute = het.network, het.compute
    bits = model_bytes * 8.0
    transfer = 0.0
    for bw in (net.down_mbps, net.up_mbps):
        mean = bw.expected
        transfer += 0.0 if not math.isfinite(mean) else bits / (mean * 1e6)
    train = config.train
    samples = train.local_steps * train.batch_size if train.local_steps is not None else 1.0
    work = samples * compute.seconds_per_sample.expected * compute.jitter.expected
    return 2.0 * net.latency_s.expected + transfer + (work if math.isfinite(work) else 0.0)


def estimate(config: Config, num_params: int, model_bytes: int) -> dict[str, float]:
    """The run's estimated client updates, evaluations and peak memory (bytes)."""
    n = config.data.num_clients
    in_flight = max(1, int(config.algorithm.in_flight(n)))
    stop = config.stop
    task_time = _task_time_lower(config, model_bytes)
    rate = in_flight / task_time if task_time > 0 else math.inf
    bounds = []
    if stop.client_updates is not None:
        bounds.append(float(stop.client_updates))
    if stop.sim_time_s is not None:
        bounds.append(stop.sim_time_s * rate)
    if stop.server_updates is not None:
        bounds.append(float(stop.server_updates) * in_flight)
    updates = min(bounds) if bounds else math.inf
    horizon = stop.sim_time_s if stop.sim_time_s is not None else (updates / rate if rate > 0 else math.inf)
    every = config.eval.every_s
    evaluations = 1.0 if every is None else horizon / every + 1
    dtype_bytes = config.train.dtype_bytes
    models = (in_flight + 4) * num_params * dtype_bytes if config.train.enabled else 0
    memory = n * BYTES_PER_CLIENT + updates * BYTES_PER_TASK + models
    return {"updates": updates, "rate": rate, "evaluations": evaluations, "memory": memory, "in_flight": in_flight,
            "models": models}


def check_limits(config: Config, num_params: int, model_bytes: int) -> dict[str, float]:
    """Refuse a run whose estimates exceed ``config.limits`` (one line each); returns the estimates."""
    est = estimate(config, num_params, model_bytes)
    limits = config.limits
    if est["updates"] > limits.events:
        how = "stop.sim_time_s × updates per second" if config.stop.client_updates is None else "stop"
        raise ConfigError(
            f"stop: about {est['updates']:.3g} client updates estimated ({how}, about {est['rate']:.3g} updates "
            f"per simulated second) > limits.events ({limits.events:.3g}): set stop.client_updates or a smaller "
            "stop.sim_time_s, or raise limits.events"
        )
    if est["evaluations"] > limits.evaluations:
        raise ConfigError(
            f"eval.every_s: about {est['evaluations']:.3g} evaluations estimated > limits.evaluations "
            f"({limits.evaluations:.3g}): evaluate less often, or raise limits.evaluations"
        )
    gb = est["memory"] / 1e9
    if gb > limits.memory_gb:
        parts = [f"{config.data.num_clients:,} clients"]
        if est["models"]:
            parts.append(f"{num_params:,} parameters × {est['in_flight'] + 4} model copies")
        parts.append(f"{est['updates']:.3g} task records")
        raise ConfigError(
            f"limits.memory_gb: the run would need about {gb:.3g} GB ({', '.join(parts)}) > {limits.memory_gb:g} GB: "
            "make it smaller, or raise limits.memory_gb"
        )
    return est
