"""FedBuff's three normalisations of the buffered step, replayed from the tables.

Client c's update is always ``Δ_c = d_c`` (its result is ``x_start − d_c``), so the model after
every server step follows from the ``client_updates`` table alone: the K applied updates of a
step, their clients and their weights ``s(τ)``.
"""

import numpy as np
import pytest

import simfl
from tests.conftest import make_config

DELTAS = np.random.default_rng(7).normal(size=(8, 3))


class DeltaTrainer:
    """Client c returns its start model minus ``DELTAS[c]``."""

    model_bytes = 24

    def initial_params(self):
        return np.zeros(3)

    def submit(self, job):
        pass

    def results(self, jobs):
        return [job.start_params - DELTAS[job.client_id] for job in jobs]

    def result(self, job):
        return self.results([job])[0]

    def cancel(self, job):
        pass

    def evaluate(self, params, sim_time_s):
        return {"test_loss": 0.0, "test_accuracy": 0.0}


@pytest.mark.parametrize("normalization", ["count", "weight", "sum"])
def test_fedbuff_step_is_the_normalised_buffer(normalization):
    config = make_config(
        seed=3,
        data={"num_clients": 8},
        train={"enabled": True},
        heterogeneity={"compute": {"jitter": {"dist": "exponential", "mean": 1.0}}},
        algorithm={"type": "fedbuff", "concurrency": 6, "buffer_size": 3, "server_lr": 0.7,
                   "staleness": {"type": "polynomial", "a": 1.0}, "buffer_normalization": normalization},
        stop={"sim_time_s": 20.0},
    )
    res = simfl.run(config, trainer=DeltaTrainer(), progress=False)
    applied = res.client_updates[res.client_updates.status == "applied"].sort_values("aggregated_time_s", kind="stable")
    weights = applied.weight.to_numpy()
    np.testing.assert_allclose(weights, 1.0 / (1.0 + applied.staleness.to_numpy(dtype=float)))  # s(τ) = (1+τ)^-1
    assert (applied.staleness > 0).any()  # staleness actually reweights something
    x = np.zeros(3)
    steps = len(res.aggregations)
    assert steps >= 10 and len(applied) == 3 * steps
    for k in range(steps):
        rows = applied.iloc[3 * k: 3 * k + 3]
        w = rows.weight.to_numpy()
        total = (w[:, None] * DELTAS[rows.client_id.to_numpy()]).sum(axis=0)
        g = {"count": total / 3, "weight": total / w.sum(), "sum": total}[normalization]
        x = x - 0.7 * g
    np.testing.assert_allclose(res.final_params, x, rtol=1e-12, atol=1e-12)
