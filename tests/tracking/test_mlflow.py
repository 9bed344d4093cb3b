"""``tracking: {mlflow: ...}``: one MLflow run per simfl run, read back through MLflow's client."""

from __future__ import annotations

import pytest

import simfl
from simfl.sweep.spec import run_id_of
from tests.conftest import make_config
from tests.tracking.helpers import DriftTrainer, expected_counts

pytest.importorskip("mlflow", reason="the optional extra simfl[mlflow] is not installed")
from mlflow.tracking import MlflowClient  # noqa: E402

WORLD = {
    "train": {"enabled": True},
    "heterogeneity": {
        "compute": {"jitter": {"dist": "exponential", "mean": 1.0}},
        "availability": {"type": "onoff", "on_s": {"dist": "exponential", "mean": 4.0}, "off_s": 1.0},
    },
    "algorithm": {"type": "fedasync", "concurrency": 4},
    "stop": {"sim_time_s": 12.0},
    "eval": {"every_s": 1.5},
}


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A local file store (MLflow 3 asks for this variable to accept one)."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return (tmp_path / "mlruns").as_uri()


def test_one_mlflow_run_per_simfl_run(tmp_path, store):
    config = make_config(**WORLD, tracking={"mlflow": {"tracking_uri": store, "experiment": "stragglers"}})
    tags = {"algorithm.type": "fedasync", "heterogeneity.compute.jitter": {"dist": "exponential", "mean": 1.0}}
    result = simfl.run(config, trainer=DriftTrainer(), out=tmp_path / "r1", progress=False, tags=tags)

    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("stragglers")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "r1" and run.info.status == "FINISHED" and run.data.tags["simfl.status"] == "complete"
    assert run.data.params == {"algorithm.type": "fedasync", "heterogeneity.compute.jitter": "{dist: exponential, mean: 1.0}",
                               "seed": "0"}
    assert run.data.tags["simfl.run_id"] == run_id_of(config)

    evals = result.evals

    def history(key):
        return sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)

    for column in ("test_accuracy", "test_loss", "sim_time_s", "server_version"):
        metrics = history(f"evals/{column}")
        assert [m.step for m in metrics] == list(range(len(evals)))
        assert [m.timestamp for m in metrics] == [round(t * 1000) for t in evals.sim_time_s]  # simulated ms
        assert [m.value for m in metrics] == evals[column].tolist()  # doubles: exact
    want = [expected_counts(result.client_updates, result.aggregations, row) for row in evals.to_dict("records")]
    assert [m.value for m in history("updates/applied")] == [w["applied"] for w in want]
    assert [m.value for m in history("updates/lost_offline")] == [w["lost_offline"] for w in want]
    assert want[-1]["lost_offline"] > 0


def test_a_failed_run_is_marked_failed(tmp_path, store):
    class Boom(DriftTrainer):
        def evaluate(self, params, sim_time_s):
            if sim_time_s > 3:
                raise ArithmeticError("nan weights")
            return super().evaluate(params, sim_time_s)

    config = make_config(**WORLD, tracking={"mlflow": {"tracking_uri": store}})
    with pytest.raises(ArithmeticError):
        simfl.run(config, trainer=Boom(), progress=False)
    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name("simfl").experiment_id])
    assert run.info.status == "FAILED"
    assert [m.value for m in client.get_metric_history(run.info.run_id, "evals/sim_time_s")] == [0.0, 1.5, 3.0]
