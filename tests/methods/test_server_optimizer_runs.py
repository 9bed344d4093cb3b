"""Server optimizers inside whole runs."""


import numpy as np
import pytest

import simfl
from tests.engine.test_stub_trainer import FixedTrainer
from tests.conftest import make_config
from tests.training.helpers import train_run


def test_fedavgm_without_momentum_is_fedavg_exactly():
    common = dict(data={"num_clients": 6}, algorithm={"type": "fedavg", "clients_per_round": 3},
                  stop={"server_updates": 5})
    plain = train_run(**common)
    avgm = train_run(**{**common, "algorithm": {**common["algorithm"],
                                                "server_optimizer": {"type": "avgm", "lr": 1.0, "momentum": 0.0}}})
    assert plain.final_params.tobytes() == avgm.final_params.tobytes()


def _fixed_run(algorithm, rounds=2):
    x0, c = np.array([1.0, -1.0]), np.array([3.0, 2.0])
    config = make_config(data={"num_clients": 4}, train={"enabled": True},
                         algorithm=algorithm, stop={"sim_time_s": None, "server_updates": rounds})
    res = simfl.run(config, trainer=FixedTrainer(x0, c), progress=False)
    return res, x0, c


def test_fedadam_steps_by_hand():
    # every client returns c, so each FedAvg round's average is c and g_t = x_t - c (Delta = c - x_t)
    lr, b1, b2, tau = 0.1, 0.9, 0.99, 1e-3
    res, x, c = _fixed_run({"type": "fedavg", "clients_per_round": 2,
                            "server_optimizer": {"type": "adam", "lr": lr, "beta1": b1, "beta2": b2, "tau": tau}})
    m, v = np.zeros(2), np.full(2, tau**2)
    for _ in range(2):
        delta = c - x
        m = b1 * m + (1 - b1) * delta
        v = b2 * v + (1 - b2) * delta**2
        x = x + lr * m / (np.sqrt(v) + tau)
    np.testing.assert_allclose(res.final_params, x, rtol=1e-12)


def test_fedyogi_on_fedbuff_buffers():
    lr, b1, b2, tau = 0.5, 0.9, 0.99, 0.01
    res, x, c = _fixed_run({"type": "fedbuff", "concurrency": 2, "buffer_size": 2, "staleness": {"type": "constant"},
                            "server_optimizer": {"type": "yogi", "lr": lr, "beta1": b1, "beta2": b2, "tau": tau}},
                           rounds=2)
    # two identical 1 s tasks in flight: each buffer holds two updates trained from the same
    # model, so g = mean(x - c) = x - c, exactly as in a FedAvg round
    m, v = np.zeros(2), np.full(2, tau**2)
    for _ in range(2):
        delta = c - x
        m = b1 * m + (1 - b1) * delta
        v = v - (1 - b2) * delta**2 * np.sign(v - delta**2)
        x = x + lr * m / (np.sqrt(v) + tau)
    np.testing.assert_allclose(res.final_params, x, rtol=1e-12)


def test_fedasync_with_sgd_one_is_plain_fedasync():
    common = dict(data={"num_clients": 6}, heterogeneity={"compute": {"jitter": {"dist": "exponential", "mean": 1}}},
                  algorithm={"type": "fedasync", "concurrency": 3, "alpha": 0.5}, stop={"sim_time_s": 20.0})
    plain = train_run(**common)
    opt = train_run(**{**common, "algorithm": {**common["algorithm"], "server_optimizer": {"type": "sgd", "lr": 1.0}}})
    np.testing.assert_allclose(opt.final_params, plain.final_params, rtol=0, atol=1e-12)


@pytest.mark.parametrize("bad, expected", [
    ({"type": "fedat", "server_optimizer": {"type": "adam"}}, "is not a key of fedat"),
    ({"type": "fedavg", "server_lr": 0.5, "server_optimizer": {"type": "sgd"}}, "server_optimizer.lr"),
    ({"type": "fedavg", "server_optimizer": {"type": "adam", "momentum": 0.9}}, "unknown key 'momentum'"),
    ({"type": "fedavg", "server_optimizer": {"type": "nadam"}}, "adagrad, adam, yogi"),
])
def test_bad_server_optimizer(bad, expected):
    with pytest.raises(simfl.ConfigError, match=expected):
        make_config(algorithm=bad)
