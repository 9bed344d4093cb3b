"""Server optimizers: documented defaults, errors that start with the key's name, dtypes.

Complements ``test_server_optimizers.py`` (the update formulas by hand).
"""

import numpy as np
import pytest

from simfl.algorithms.fedopt import (
    fedadagrad,
    fedadam,
    fedyogi,
    scale_by_fedadagrad,
    scale_by_fedadam,
    scale_by_fedyogi,
)
from simfl.algorithms.optim import fedavgm, scale, sgd, trace

DELTAS = [np.array([1.0, -2.0, 0.5]), np.array([0.0625, -3.0, 0.0]), np.array([-0.5, 0.25, 4.0])]


def _updates(opt, dtype=np.float64):
    state = opt.init(np.zeros(3, dtype))
    out = []
    for d in DELTAS:
        u, state = opt.update(-d.astype(dtype), state)
        out.append(u)
    return np.array(out)


@pytest.mark.parametrize("default, explicit", [
    (lambda: fedadagrad(0.1), lambda: fedadagrad(0.1, beta1=0.9, tau=1e-3, initial_accumulator=None)),
    (lambda: fedadam(0.1), lambda: fedadam(0.1, beta1=0.9, beta2=0.99, tau=1e-3, initial_accumulator=None)),
    (lambda: fedyogi(0.1), lambda: fedyogi(0.1, beta1=0.9, beta2=0.99, tau=1e-3, initial_accumulator=None)),
    (lambda: fedavgm(0.1), lambda: fedavgm(0.1, momentum=0.9)),
    (scale_by_fedadagrad, lambda: scale_by_fedadagrad(0.9, 1e-3, None)),
    (scale_by_fedadam, lambda: scale_by_fedadam(0.9, 0.99, 1e-3, None)),
    (scale_by_fedyogi, lambda: scale_by_fedyogi(0.9, 0.99, 1e-3, None)),
], ids=["adagrad", "adam", "yogi", "avgm", "scale_by_adagrad", "scale_by_adam", "scale_by_yogi"])
def test_documented_defaults(default, explicit):
    np.testing.assert_array_equal(_updates(default()), _updates(explicit()))


def test_adaptive_defaults_by_hand():
    # FedAdam with β1 = 0.9, β2 = 0.99, τ = 1e-3, v_{−1} = τ², η = 1: one step from Δ = [1, −2, 0.5]
    d = DELTAS[0]
    m = 0.1 * d
    v = 0.99 * 1e-6 + 0.01 * d**2
    u, _ = fedadam(1.0).update(-d, fedadam(1.0).init(np.zeros(3)))
    np.testing.assert_allclose(u, m / (np.sqrt(v) + 1e-3), rtol=1e-13)


BAD = [
    (sgd, {"lr": -1.0}, "lr"),
    (fedavgm, {"lr": -0.5}, "lr"),
    (fedadagrad, {"lr": -1.0}, "lr"),
    (fedadam, {"lr": float("inf")}, "lr"),
    (fedyogi, {"lr": -1.0}, "lr"),
    (fedavgm, {"lr": 1.0, "momentum": 1.0}, "momentum"),
    (fedavgm, {"lr": 1.0, "momentum": 1.5}, "momentum"),
    (fedavgm, {"lr": 1.0, "momentum": -0.1}, "momentum"),
    (trace, {"momentum": 1.0}, "momentum"),
]
for _factory in (fedadagrad, fedadam, fedyogi):
    BAD += [
        (_factory, {"lr": 1.0, "beta1": 1.0}, "beta1"),
        (_factory, {"lr": 1.0, "beta1": 1.5}, "beta1"),
        (_factory, {"lr": 1.0, "beta1": -0.1}, "beta1"),
        (_factory, {"lr": 1.0, "tau": 0.0}, "tau"),
        (_factory, {"lr": 1.0, "tau": float("nan")}, "tau"),
        (_factory, {"lr": 1.0, "initial_accumulator": -1e-9}, "initial_accumulator"),
    ]
for _factory in (fedadam, fedyogi):
    BAD += [
        (_factory, {"lr": 1.0, "beta2": 1.0}, "beta2"),
        (_factory, {"lr": 1.0, "beta2": 1.5}, "beta2"),
        (_factory, {"lr": 1.0, "beta2": -0.1}, "beta2"),
    ]


@pytest.mark.parametrize("factory, kwargs, key", BAD)
def test_bad_hyperparameter_error_starts_with_its_name(factory, kwargs, key):
    with pytest.raises(ValueError, match=rf"^{key} must be finite and in [\[(]"):
        factory(**kwargs)


@pytest.mark.parametrize("factory, kwargs", [
    (fedavgm, {"lr": 0.0, "momentum": 0.0}),
    (fedadam, {"lr": 0.0, "beta1": 0.0, "beta2": 0.0, "tau": 1e-300, "initial_accumulator": 0.0}),
    (fedyogi, {"lr": 2.0, "beta1": 0.999999, "beta2": 0.999999}),
    (fedadagrad, {"lr": 1.0, "beta1": 0.0}),
])
def test_boundary_hyperparameters_are_accepted(factory, kwargs):
    factory(**kwargs)


# Optimizers are built inside the tests (factories here), so that building them counts as
# part of the test for coverage-based test selection (mutation testing).
@pytest.mark.parametrize("make", [lambda: fedavgm(0.5), lambda: fedadagrad(0.5), lambda: fedadam(0.5),
                                  lambda: fedyogi(0.5), lambda: trace(0.5), scale_by_fedadam],
                         ids=["avgm", "adagrad", "adam", "yogi", "trace", "scale_by_adam"])
def test_update_and_state_stay_in_the_state_dtype(make):
    # float32 params, float64 pseudo-gradient: the update and the state stay float32
    opt = make()
    state = opt.init(np.zeros(3, np.float32))
    u, state = opt.update(np.array([1.0, -2.0, 0.5]), state)
    assert u.dtype == np.float32
    leaves = [a for s in (state if isinstance(state, tuple) else (state,))
              for a in (s if isinstance(s, tuple) else (s,)) if isinstance(a, np.ndarray)]
    assert leaves and all(a.dtype == np.float32 and a.shape == (3,) for a in leaves)


@pytest.mark.parametrize("make", [lambda: trace(0.5), scale_by_fedadagrad, lambda: fedadam(1.0)],
                         ids=["trace", "adagrad", "adam"])
def test_integer_params_make_a_float64_state(make):
    state = make().init(np.array([1, 2, 3]))
    leaves = [a for s in (state if isinstance(state, tuple) else (state,))
              for a in (s if isinstance(s, tuple) else (s,)) if isinstance(a, np.ndarray)]
    assert leaves and all(a.dtype == np.float64 and a.shape == (3,) for a in leaves)


def test_scale_is_stateless_and_keeps_the_dtype():
    opt = scale(-0.5)
    assert opt.init(np.zeros(2)) == ()
    u, state = opt.update(np.array([2.0, -4.0], dtype=np.float32), ())
    assert state == () and u.dtype == np.float32
    np.testing.assert_array_equal(u, np.array([-1.0, 2.0], dtype=np.float32))
