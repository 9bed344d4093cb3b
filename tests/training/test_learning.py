"""Learning works, runs are bitwise deterministic, evaluation and its stop criterion."""

import numpy as np
import pandas as pd
import pytest

import simfl
from tests.data.conftest import write_idx_split
from tests.training.helpers import train_run


def test_logreg_on_synthetic_reaches_075():
    config = simfl.load_config(None, ["stop.sim_time_s=160", "eval.every_s=40", "algorithm.type=fedavg"])
    res = simfl.run(config, progress=False)
    assert config.data.dataset == "synthetic" and config.model.type == "logreg"
    assert res.evals.test_accuracy.iloc[-1] >= 0.75


def test_mlp_on_digits_reaches_085():
    res = train_run(
        data={"num_clients": 20},
        model={"type": "mlp", "hidden": [64]},
        train={"dtype": "float32", "local_steps": 20, "lr": 0.1},
        algorithm={"type": "fedbuff", "concurrency": 10, "buffer_size": 5},
        stop={"sim_time_s": 60.0},
        eval={"every_s": 20.0},
    )
    assert res.evals.test_accuracy.iloc[-1] >= 0.85


def test_cnn_trains_on_digits():
    res = train_run(
        data={"num_clients": 10},
        model={"type": "cnn", "channels": [8, 16], "hidden": 32},
        train={"dtype": "float32", "local_steps": 10, "lr": 0.1, "momentum": 0.5},
        algorithm={"type": "fedasync", "concurrency": 5},
        stop={"sim_time_s": 20.0},
        eval={"every_s": 10.0},
    )
    first, last = res.evals.test_accuracy.iloc[[0, -1]]
    assert last > first + 0.3


@pytest.mark.parametrize("algorithm", ["fedavg", "fedasync", "fedbuff"])
def test_runs_with_training_are_bitwise_deterministic(algorithm):
    kwargs = dict(
        data={"num_clients": 8, "partition": "dirichlet"},
        model={"type": "mlp", "hidden": [16]},
        train={"dtype": "float32", "momentum": 0.9, "prox_mu": 0.01},
        heterogeneity={"compute": {"jitter": {"dist": "exponential", "mean": 1.0}}},
        algorithm={"type": algorithm, "fedavg": {"clients_per_round": 4}, "fedasync": {"concurrency": 4},
                   "fedbuff": {"concurrency": 4, "buffer_size": 2}},
        stop={"sim_time_s": 8.0},
        eval={"every_s": 1.0},
    )
    a, b = train_run(**kwargs), train_run(**kwargs)
    assert a.final_params.tobytes() == b.final_params.tobytes()
    for name in ("client_updates", "aggregations", "evals"):
        pd.testing.assert_frame_equal(a.table(name), b.table(name), check_exact=True)


def test_target_accuracy_stops_the_run():
    res = train_run(
        data={"num_clients": 10},
        train={"dtype": "float32", "lr": 0.1},
        algorithm={"type": "fedasync", "concurrency": 5},
        stop={"sim_time_s": 500.0, "target_accuracy": 0.8},
        eval={"every_s": 0.5},
    )
    assert res.stop_reason == "target_accuracy"
    acc = res.evals.test_accuracy.to_numpy()
    assert acc[-1] >= 0.8 and (acc[:-1] < 0.8).all()
    assert res.manifest["sim_end_s"] == res.evals.sim_time_s.iloc[-1] < 500


def test_evaluation_schedule_and_per_client_metrics():
    res = train_run(
        algorithm={"type": "fedasync", "concurrency": 3},
        stop={"sim_time_s": 3.3},
        eval={"every_s": 1.0, "per_client": True},
    )
    ev = res.evals
    assert ev.sim_time_s.tolist() == [0.0, 1.0, 2.0, 3.0, 3.3]  # every 1 s and at the end
    assert (ev.client_accuracy_p10 <= ev.client_accuracy_mean + 1e-12).all()
    # the global test set is the union of the clients' held-out parts; digits split iid in
    # 3 gives parts of 119 samples each, so the mean per-client accuracy is the global one
    sizes = np.diff(simfl.data.load_data(res.config.data, simfl.rng.SeedTree(0)).test_offsets)
    assert sizes.tolist() == [119, 119, 119]
    np.testing.assert_allclose(ev.client_accuracy_mean, ev.test_accuracy, atol=1e-12)
    # an evaluation at time t sees every update that arrived at t
    for row in ev.itertuples():
        done = res.aggregations[res.aggregations.sim_time_s <= row.sim_time_s]
        assert row.server_version == (done.server_version.max() if len(done) else 0)


def test_cnn_on_local_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 120).astype(np.uint8)
    images = (rng.random((120, 28, 28)) * 255).astype(np.uint8)
    images[np.arange(120), labels, labels] = 255  # a learnable mark
    write_idx_split(tmp_path, "train", images, labels)
    res = train_run(
        data={"dataset": "idx", "path": str(tmp_path), "partition": "iid", "num_clients": 4},
        model={"type": "cnn", "channels": [4], "hidden": 16},
        train={"dtype": "float32"},
        algorithm={"type": "fedasync", "concurrency": 2},
        stop={"sim_time_s": 2.0},
    )
    # (1*9+1)*4 conv + (4*14*14+1)*16 dense + (16+1)*10 output parameters, float32
    assert res.manifest["model_bytes"] == 4 * (40 + 785 * 16 + 170)
    assert len(res.aggregations) > 0
