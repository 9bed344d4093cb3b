"""The batched executor equals the sequential one (1e-5 in float32, 1e-10 in float64)."""

import numpy as np
import pytest
import torch

from simfl.config.schema import CNNModel, LogRegModel, MLPModel
from simfl.training import SGDConfig, build_model, local_sgd
from simfl.training.batched import local_sgd_batched, step_layout
from tests.training.helpers import train_run

MODELS = [
    (LogRegModel(), (60,)),
    (MLPModel(hidden=[16, 8]), (1, 8, 8)),
    (CNNModel(channels=[3, 4], hidden=8), (1, 8, 8)),
]


@pytest.mark.parametrize("model_cfg, shape", MODELS, ids=lambda v: getattr(v, "type", str(v)))
def test_forward_batched_equals_forward(model_cfg, shape):
    flat = build_model(model_cfg, shape, 10)
    g = torch.Generator().manual_seed(0)
    w = torch.stack([torch.from_numpy(flat.init(np.random.default_rng(k), np.float64)) for k in range(5)])
    x = torch.randn(5, 7, *shape, dtype=torch.float64, generator=g)
    batched = flat.forward_batched(w, x)
    for j in range(5):
        np.testing.assert_allclose(batched[j].numpy(), flat.forward(w[j], x[j]).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("model_cfg, shape", MODELS, ids=lambda v: getattr(v, "type", str(v)))
@pytest.mark.parametrize("sgd", [SGDConfig(0.1), SGDConfig(0.05, momentum=0.9, weight_decay=0.01, prox_mu=0.1)],
                         ids=["plain", "momentum-wd-prox"])
def test_jobs_of_different_shapes_match_sequential(model_cfg, shape, sgd):
    # jobs differ in start model, number of samples (partial last batches, different step
    # counts) and batch size (a client smaller than a batch)
    flat = build_model(model_cfg, shape, 10)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(200, *shape, dtype=torch.float64, generator=g)
    y = torch.randint(0, 10, (200,), generator=g)
    rng = np.random.default_rng(2)
    specs = [(25, 10), (40, 10), (7, 7), (31, 4), (10, 10)]  # (samples processed, batch size)
    plans = [rng.choice(200, size=n) for n, _ in specs]
    starts = torch.stack([torch.from_numpy(flat.init(np.random.default_rng(10 + k), np.float64)) for k in range(5)])
    out = local_sgd_batched(flat, starts, x, y, step_layout(plans, [b for _, b in specs]), sgd)
    for j, (plan, (_, b)) in enumerate(zip(plans, specs)):
        idx = torch.from_numpy(plan)
        ref = local_sgd(flat, starts[j], x[idx], y[idx], b, sgd)
        np.testing.assert_allclose(out[j].numpy(), ref.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("algorithm", ["fedavg", "fedasync", "fedbuff"])
@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-10)])
@pytest.mark.parametrize("model", [{"type": "mlp", "hidden": [16]}, {"type": "cnn", "channels": [4], "hidden": 8}],
                         ids=["mlp", "cnn"])
def test_whole_runs_agree(algorithm, dtype, tol, model):
    kwargs = dict(
        data={"num_clients": 16, "partition": "dirichlet", "quantity_skew": 1.0},
        model=model,
        train={"dtype": dtype, "momentum": 0.5, "local_epochs": 0.5, "local_steps": None},
        heterogeneity={"compute": {"jitter": {"dist": "exponential", "mean": 1.0}}},
        algorithm={"type": algorithm, "fedavg": {"clients_per_round": 8}, "fedasync": {"concurrency": 8},
                   "fedbuff": {"concurrency": 8, "buffer_size": 3}},
        stop={"sim_time_s": 15.0},
        eval={"every_s": 5.0},
    )
    seq = train_run(**{**kwargs, "train": {**kwargs["train"], "executor": "sequential"}})
    bat = train_run(**{**kwargs, "train": {**kwargs["train"], "executor": "batched"}})
    assert len(seq.aggregations) > 5
    np.testing.assert_allclose(bat.final_params, seq.final_params, rtol=0, atol=tol)
    np.testing.assert_allclose(bat.evals.test_loss, seq.evals.test_loss, rtol=0, atol=10 * tol)
    # timing never depends on the executor
    assert bat.client_updates.arrival_time_s.equals(seq.client_updates.arrival_time_s)
