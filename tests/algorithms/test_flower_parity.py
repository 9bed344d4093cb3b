"""simfl's server optimizers against transcriptions of Flower's strategies (Flower 1.42).

Each ``flower_*`` function below restates, in plain numpy, what the corresponding
``flwr.server.strategy`` class does in ``aggregate_fit`` after its weighted average (``avg``):
``delta = avg − x``, first and second moments starting at zero, then the step. Flower's FedAdam
bias-corrects its rate with ``t = server_round + 1`` (``server_round`` = 1, 2, ...).
"""

import math

import numpy as np
import pytest

from simfl.algorithms.fedopt import (
    AdamSection,
    BiasCorrectionState,
    fedadagrad,
    fedadam,
    fedyogi,
    scale_by_bias_correction,
)
from simfl.algorithms.optim import apply_update, fedavgm

RNG = np.random.default_rng(11)
X0 = RNG.normal(size=5)
AVERAGES = [X0 + RNG.normal(scale=0.3, size=5) * (r + 1) for r in range(6)]  # FedAvg results per round


def _flower_adaptive(kind, eta, beta1, beta2, tau, bias_correction=False):
    x, m, v, out = X0.copy(), np.zeros(5), np.zeros(5), []
    for server_round, avg in enumerate(AVERAGES, start=1):
        avg = x + (avg - X0)  # the clients moved the current model as they moved X0
        delta = avg - x
        m = beta1 * m + (1 - beta1) * delta
        if kind == "adagrad":
            v = v + delta * delta
        elif kind == "adam":
            v = beta2 * v + (1 - beta2) * delta * delta
        else:  # yogi
            v = v - (1.0 - beta2) * delta * delta * np.sign(v - delta * delta)
        rate = eta
        if bias_correction:
            rate = eta * math.sqrt(1 - beta2 ** (server_round + 1.0)) / (1 - beta1 ** (server_round + 1.0))
        x = x + rate * m / (np.sqrt(v) + tau)
        out.append(x)
    return out


def _flower_avgm(lr, momentum):
    x, buf, out = X0.copy(), None, []
    for avg in AVERAGES:
        avg = x + (avg - X0)
        g = x - avg
        if momentum > 0:
            buf = g if buf is None else momentum * buf + g  # round 1: the pseudo-gradient itself
            g = buf
        x = x - lr * g
        out.append(x)
    return out


def _simfl(opt):
    x, state, out = X0.copy(), opt.init(X0), []
    for avg in AVERAGES:
        avg = x + (avg - X0)
        u, state = opt.update(x - avg, state)
        x = apply_update(x, u)
        out.append(x)
    return out


@pytest.mark.parametrize(
    "simfl_opt, flower",
    [
        (fedadagrad(0.1, beta1=0.0, tau=1e-9, initial_accumulator=0.0), ("adagrad", 0.1, 0.0, 0.0, 1e-9)),
        (fedyogi(0.01, beta1=0.9, beta2=0.99, tau=1e-3, initial_accumulator=0.0), ("yogi", 0.01, 0.9, 0.99, 1e-3)),
        (fedadam(0.1, beta1=0.9, beta2=0.99, tau=1e-9, initial_accumulator=0.0), ("adam", 0.1, 0.9, 0.99, 1e-9)),
    ],
    ids=["FedAdagrad", "FedYogi", "FedAdam-uncorrected"],
)
def test_adaptive_matches_flower(simfl_opt, flower):
    np.testing.assert_allclose(_simfl(simfl_opt), _flower_adaptive(*flower), rtol=1e-12, atol=1e-14)


def test_fedadam_bias_correction_offset_one_reproduces_flower():
    ours = fedadam(0.1, beta1=0.9, beta2=0.99, tau=1e-9, initial_accumulator=0.0,
                   bias_correction=True, bias_correction_offset=1)
    np.testing.assert_allclose(_simfl(ours), _flower_adaptive("adam", 0.1, 0.9, 0.99, 1e-9, True),
                               rtol=1e-12, atol=1e-14)
    # Kingma & Ba's count (t = 1 first) differs from Flower's in the first step already
    kb = fedadam(0.1, beta1=0.9, beta2=0.99, tau=1e-9, initial_accumulator=0.0, bias_correction=True)
    assert not np.allclose(_simfl(kb)[0], _flower_adaptive("adam", 0.1, 0.9, 0.99, 1e-9, True)[0])


def test_fedavgm_matches_flower():
    np.testing.assert_allclose(_simfl(fedavgm(0.7, momentum=0.5)), _flower_avgm(0.7, 0.5), rtol=1e-12)


@pytest.mark.parametrize("offset", [0, 1, 3])
def test_bias_correction_factor_is_kingma_ba(offset):
    b1, b2 = 0.9, 0.999
    opt = scale_by_bias_correction(b1, b2, offset)
    state = opt.init(np.zeros(2))
    assert state == BiasCorrectionState(count=0)
    for k in range(1, 6):
        u, state = opt.update(np.ones(2), state)
        t = k + offset
        np.testing.assert_allclose(u, math.sqrt(1 - b2**t) / (1 - b1**t) * np.ones(2), rtol=1e-15)
        assert state.count == k


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_corrected_adam_first_step_by_hand(dtype):
    # t = 1: m = (1-b1)Δ, v = b2·τ² + (1-b2)Δ², u = η·√(1-b2)/(1-b1)·m/(√v + τ) = η·√(1-b2)·Δ/(√v + τ)
    lr, b1, b2, tau = 0.1, 0.9, 0.99, 1e-3
    d = np.array([1.0, -2.0, 0.5], dtype)
    opt = AdamSection(lr=lr, beta1=b1, beta2=b2, tau=tau, bias_correction=True).build()
    u, state = opt.update(-d, opt.init(np.zeros(3, dtype)))
    v = b2 * tau**2 + (1 - b2) * d.astype(float) ** 2
    expected = lr * math.sqrt(1 - b2) * d / (np.sqrt(v) + tau)
    np.testing.assert_allclose(u, expected, rtol=1e-6 if dtype == np.float32 else 1e-13)
    assert u.dtype == dtype


def test_bias_correction_offset_must_be_a_natural_number():
    with pytest.raises(ValueError, match="bias_correction_offset"):
        scale_by_bias_correction(0.9, 0.99, -1)
