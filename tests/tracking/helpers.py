"""A recording callback, a cheap deterministic trainer, and the counts the tables imply."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simfl.tracking import Callback

#: A dry sweep of four runs (FedAsync and FedBuff, two concurrencies, one seed) in a tiny world;
#: ``{tracking}`` is its base's tracking section, a YAML flow mapping (see :func:`tracked_sweep`).
_SWEEP = """\
base:
  data: {{num_clients: 8}}
  train: {{enabled: false}}
  stop: {{sim_time_s: 6}}
  eval: {{every_s: 2.0}}
  tracking: {tracking}
grid:
  algorithm.concurrency: [2, 4]
variants:
  async: {{algorithm.type: fedasync}}
  buff: {{algorithm.type: fedbuff, algorithm.buffer_size: 2}}
seeds: 1
"""


def tracked_sweep(tracking: str) -> str:
    """The text of the four-run sweep file whose base tracks with ``tracking`` (a YAML flow mapping)."""
    return _SWEEP.format(tracking=tracking)


class Recorder(Callback):
    """Keeps every call, in order: ``calls`` holds ``(hook, record)`` pairs."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def on_run_start(self, info):
        self.calls.append(("start", info))

    def on_evaluation(self, row, updates):
        self.calls.append(("evaluation", (row, updates)))

    def on_server_version(self, aggregation):
        self.calls.append(("version", aggregation))

    def on_task_end(self, task):
        self.calls.append(("task", task))

    def on_run_end(self, status, manifest):
        self.calls.append(("end", (status, manifest)))

    def of(self, hook: str) -> list:
        return [record for name, record in self.calls if name == hook]


class DriftTrainer:
    """Every job moves the model one step toward ``c``: loss and accuracy change at each version."""

    model_bytes = 4000

    def __init__(self, dim: int = 3) -> None:
        self.c = np.arange(1.0, dim + 1)

    def initial_params(self):
        return np.zeros_like(self.c)

    def submit(self, job):
        pass

    def result(self, job):
        return job.start_params + 0.5 * (self.c - job.start_params) + 0.01 * job.client_id

    def results(self, jobs):
        return [self.result(j) for j in jobs]

    def cancel(self, job):
        pass

    def evaluate(self, params, sim_time_s):
        loss = float(np.linalg.norm(params - self.c))
        return {"test_loss": loss, "test_accuracy": 1.0 / (1.0 + loss)}


def expected_counts(client_updates: pd.DataFrame, aggregations: pd.DataFrame, row) -> dict[str, float]:
    """Tasks by status at an evaluation, from the final tables (no aggregation queue).

    * ``applied``: the updates in the evaluated model = Σ ``num_client_updates`` of the
      aggregations up to its version;
    * ``lost_offline``: lost tasks whose end (the client going offline) came by then;
    * ``in_flight``: dispatched by then and not ended by then;
    * every dispatched task is counted once (``total``);
    * ``received`` (the row's ``client_updates``) = arrivals by then;
    * where the server decides at arrival (FedAsync): ``dropped_stale`` and the mean staleness
      of ``applied`` from the tasks that arrived by then (``arrival_*``).
    """
    t, v = row["sim_time_s"], row["server_version"]
    cu = client_updates
    status = cu.status.astype(str)
    dispatched = cu.dispatch_time_s <= t
    ended = cu.end_time_s <= t  # nan (still running at the stop) compares False
    arrived = cu.arrival_time_s <= t
    applied_by_arrival = (status == "applied") & arrived
    return {
        "applied": int(aggregations.num_client_updates[aggregations.server_version <= v].sum()),
        "lost_offline": int(((status == "lost_offline") & ended).sum()),
        "in_flight": int((dispatched & ~ended).sum()),
        "total": int(dispatched.sum()),
        "received": int(arrived.sum()),
        "discarded_after_arrival": int(((status == "discarded_deadline") & arrived).sum()),
        "discarded_by_end": int(((status == "discarded_deadline") & ended).sum()),
        "arrival_applied": int(applied_by_arrival.sum()),
        "arrival_dropped_stale": int(((status == "dropped_stale") & arrived).sum()),
        "arrival_mean_staleness": (
            float(cu.staleness[applied_by_arrival].astype(float).mean()) if applied_by_arrival.any() else math.nan
        ),
    }
