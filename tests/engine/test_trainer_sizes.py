"""A custom trainer that holds its own data sets the clients' sizes (issue: silent mismatch)."""

import numpy as np
import pytest

import simfl
from tests.conftest import make_config

SIZES = np.array([5, 40, 12, 80, 3, 27], dtype=np.int64)


class SizedTrainer:
    """Client c returns the vector [c]; it holds ``SIZES[c]`` samples."""

    model_bytes = 8
    client_sizes = SIZES

    def initial_params(self):
        return np.zeros(1)

    def submit(self, job):
        pass

    def results(self, jobs):
        return [np.array([float(j.client_id)]) for j in jobs]

    def result(self, job):
        return self.results([job])[0]

    def cancel(self, job):
        pass

    def evaluate(self, params, sim_time_s):
        return {"test_loss": float(params[0]), "test_accuracy": 0.0}


def _config(**algorithm):
    return make_config(
        data={"num_clients": len(SIZES)},
        train={"enabled": True, "local_steps": None, "local_epochs": 1.0},
        heterogeneity={"compute": {"seconds_per_sample": 0.01}},
        algorithm={"type": "fedavg", "clients_per_round": 3, **algorithm},
        stop={"sim_time_s": 5.0},
    )


def test_sizes_come_from_the_trainer(tmp_path):
    res = simfl.run(_config(), trainer=SizedTrainer(), out=tmp_path / "run", progress=False)
    np.testing.assert_array_equal(res.clients.num_samples, SIZES)
    df = res.client_updates
    # one local epoch: compute = size × seconds_per_sample
    np.testing.assert_allclose(df.compute_s, SIZES[df.client_id] * 0.01)
    np.testing.assert_array_equal(df.num_samples, SIZES[df.client_id])
    # FedAvg weights n_k / Σ n over each round's applied updates, with the trainer's sizes
    applied = df[df.status == "applied"]
    rounds = list(applied.groupby("round"))
    assert len(rounds) == len(res.aggregations) >= 2
    for _, rows in rounds:
        n = SIZES[rows.client_id]
        np.testing.assert_allclose(rows.weight, n / n.sum())
    # client c returns [c] whatever it started from: the model is the last round's weighted mean
    rows = rounds[-1][1]
    n = SIZES[rows.client_id]
    assert res.final_params[0] == pytest.approx(float((n * rows.client_id).sum() / n.sum()))
    assert res.manifest["client_sizes_from"] == "trainer"
    assert res.manifest["trainer"].endswith(":SizedTrainer")
    loaded = simfl.load_run(tmp_path / "run")
    assert loaded.manifest["client_sizes_from"] == "trainer"
    np.testing.assert_array_equal(loaded.clients.num_samples, SIZES)


def test_trainer_with_other_client_count_is_an_error():
    class Wrong(SizedTrainer):
        client_sizes = SIZES[:4]

    with pytest.raises(simfl.ConfigError, match="client_sizes"):
        simfl.run(_config(), trainer=Wrong(), progress=False)


def test_a_trainer_without_data_keeps_the_config_sizes():
    class NoData(SizedTrainer):
        client_sizes = None

    res = simfl.run(_config(), trainer=NoData(), progress=False)
    assert "client_sizes_from" not in res.manifest
    assert not np.array_equal(res.clients.num_samples, SIZES)
