"""Algorithms that must coincide, with real training (float64)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import simfl
from simfl.data import load_data
from simfl.rng import Purpose, SeedTree
from simfl.training import build_model
from tests.training.helpers import train_run


@pytest.mark.parametrize(
    "local", [{"local_steps": 1, "batch_size": 1000}, {"local_epochs": 1.0, "local_steps": None, "batch_size": 480}], ids=["steps", "epochs"]
)
def test_fedavg_full_batch_one_step_is_gradient_descent_on_the_union(local):
    # digits split iid among 3 clients: 599 samples each, 480 for training (equal sizes).
    # One full-batch local step from x, averaged with weights n_k / sum(n) = 1/3 and
    # server_lr 1, is one gradient step on the union's mean loss.
    lr, rounds = 0.5, 6
    res = train_run(
        train={**local, "lr": lr},
        algorithm={"type": "fedavg", "clients_per_round": 3},
        stop={"server_updates": rounds},
    )
    config = res.config
    data = load_data(config.data, SeedTree(config.seed))
    assert (data.client_sizes == 480).all()
    flat = build_model(config.model, data.info.input_shape, data.info.num_classes)
    module = flat.module().double()
    x, y = torch.from_numpy(data.x).double(), torch.from_numpy(data.y)
    w = torch.from_numpy(flat.init(SeedTree(config.seed).generator(Purpose.MODEL_INIT), np.float64))
    for _ in range(rounds):
        torch.nn.utils.vector_to_parameters(w, module.parameters())
        module.zero_grad()
        F.cross_entropy(module(x), y).backward()
        grad = torch.nn.utils.parameters_to_vector(p.grad for p in module.parameters())
        w = w - lr * grad
    np.testing.assert_allclose(res.final_params, w.detach().numpy(), rtol=0, atol=1e-10)
    assert res.aggregations.num_client_updates.tolist() == [3] * rounds
    # a task processes the 480 local samples once: 480 x 0.01 s of compute
    np.testing.assert_allclose(res.client_updates.compute_s, 4.8)


def test_fedbuff_with_everyone_in_the_buffer_is_fedavg():
    # K = C = N with identical deterministic task durations: every buffer holds the N updates
    # trained from the same model, with constant staleness weight, so a server step is a
    # FedAvg round with equal weights; the jobs are identical (same client, same k).
    common = dict(stop={"server_updates": 4})
    buff = train_run(
        algorithm={"type": "fedbuff", "concurrency": 3, "buffer_size": 3, "server_lr": 0.7,
                   "staleness": {"type": "constant"}},
        **common,
    )
    avg = train_run(algorithm={"type": "fedavg", "clients_per_round": 3, "server_lr": 0.7}, **common)
    np.testing.assert_allclose(buff.final_params, avg.final_params, rtol=0, atol=1e-12)
    assert buff.aggregations.sim_time_s.tolist() == avg.aggregations.sim_time_s.tolist()


def test_fedbuff_of_one_is_fedasync_with_constant_alpha():
    # K = C = 1 and server_lr = alpha: x - alpha (x_start - x_client) with x_start = x,
    # i.e. FedAsync's (1 - alpha) x + alpha x_client; one task at a time, same clients.
    world = {"compute": {"seconds_per_sample": {"dist": "lognormal", "mean": 0.01, "sigma": 1.0},
                         "jitter": {"dist": "exponential", "mean": 1.0}}}
    common = dict(data={"num_clients": 6, "partition": "dirichlet"}, heterogeneity=world, stop={"sim_time_s": 30.0})
    alpha = 0.3
    buff = train_run(
        algorithm={"type": "fedbuff", "concurrency": 1, "buffer_size": 1, "server_lr": alpha,
                   "staleness": {"type": "constant"}},
        **common,
    )
    asyn = train_run(
        algorithm={"type": "fedasync", "concurrency": 1, "alpha": alpha, "staleness": {"type": "constant"}}, **common
    )
    assert buff.client_updates.client_id.tolist() == asyn.client_updates.client_id.tolist()
    assert len(asyn.aggregations) > 20
    np.testing.assert_allclose(buff.final_params, asyn.final_params, rtol=0, atol=1e-12)


def test_same_job_same_update_across_algorithms():
    # every algorithm trains client c's k-th task on the same batches: from the same start
    # model the update is identical. At t = 0 all tasks start from the initial model.
    runs = {
        alg: train_run(data={"num_clients": 6},
                       algorithm={"type": alg, "fedavg": {"clients_per_round": 6},
                                  "fedbuff": {"concurrency": 6, "buffer_size": 6, "staleness": {"type": "constant"}}},
                       stop={"server_updates": 1})
        for alg in ("fedavg", "fedbuff")
    }
    np.testing.assert_allclose(runs["fedavg"].final_params, runs["fedbuff"].final_params, atol=1e-13)


def test_model_bytes_are_the_real_parameter_bytes():
    res = train_run(algorithm={"type": "fedasync", "concurrency": 2}, stop={"server_updates": 2},
                    heterogeneity={"network": {"down_mbps": 1.0}})
    # digits logreg: (64 + 1) x 10 float64 parameters at 1 Mbit/s
    assert res.manifest["model_bytes"] == 650 * 8
    assert res.client_updates.download_s.iloc[0] == 650 * 8 * 8 / 1e6
    f32 = train_run(train={"dtype": "float32"}, algorithm={"type": "fedasync", "concurrency": 2},
                    stop={"server_updates": 2})
    assert f32.manifest["model_bytes"] == 650 * 4 and f32.final_params.dtype == np.float32
    assert simfl.running.dry_model_bytes(f32.config) == 650 * 4
