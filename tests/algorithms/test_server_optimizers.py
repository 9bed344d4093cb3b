"""Server optimizers against Reddi et al. 2021 (Algorithm 2) and Hsu et al. 2019 (FedAvgM).

Hand computations use the paper's sign convention: the server receives the average client
delta ``Δ_t``, the optimizers receive the pseudo-gradient ``g = −Δ_t`` and return ``u`` with
``x_{t+1} = x_t + u``.
"""

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import simfl.registry as registry
from simfl.algorithms.fedopt import ScaleByAdaptiveState, fedadagrad, fedadam, fedyogi
from simfl.algorithms.optim import TraceState, apply_update, chain, fedavgm, sgd
from simfl.errors import PluginError


def server_optimizer(name, **params):
    """The optimizer a config's ``{type: name, **params}`` builds, through the registry."""
    component = registry.resolve("server_optimizer", name)
    return component.build(component.params.model_validate({"type": name, **params}))

DTYPES = [np.float32, np.float64]
# float32 runs are compared with a float64 evaluation of the same formulas: a handful of
# roundings of 2^-24 each; float64 is compared with itself up to reassociation.
RTOL = {np.float32: 1e-6, np.float64: 1e-13}

LR, B1, B2, TAU = 0.1, 0.9, 0.99, 1e-3
# Δ_1 and Δ_2; Δ_2[0]² = 0.0039 < v_1[0] exercises Yogi's "shrink" branch, Δ_2[2] = 0 a frozen m.
D1 = np.array([1.0, -2.0, 0.5])
D2 = np.array([0.0625, -3.0, 0.0])


def _run(opt, deltas, dtype):
    """Feed ``g = −Δ`` for each Δ from a fresh state; return the updates and the final state."""
    state = opt.init(np.zeros(3, dtype))
    updates = []
    for d in deltas:
        u, state = opt.update(-np.asarray(d, dtype), state)
        updates.append(u)
    return updates, state


def _assert_dtype(dtype, *arrays):
    for a in arrays:
        assert a.dtype == dtype


# --------------------------------------------------------------------------- by hand


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_by_hand(dtype):
    (u1, u2), _ = _run(sgd(0.5), [D1, D2], dtype)
    np.testing.assert_allclose(u1, [0.5, -1.0, 0.25], rtol=RTOL[dtype])  # u = −lr·g = lr·Δ_1
    np.testing.assert_allclose(u2, [0.03125, -1.5, 0.0], rtol=RTOL[dtype])
    _assert_dtype(dtype, u1, u2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fedavgm_by_hand(dtype):
    lr, beta = 0.5, 0.9
    (u1, u2), (trace_state, _) = _run(fedavgm(lr, momentum=beta), [D1, D2], dtype)
    m1 = D1  # m_0 = β·0 + Δ_1
    m2 = beta * m1 + D2  # m_1 = β·m_0 + Δ_2 = [0.9625, -4.8, 0.45]
    np.testing.assert_allclose(m2, [0.9625, -4.8, 0.45])
    np.testing.assert_allclose(u1, lr * m1, rtol=RTOL[dtype])  # x_1 = x_0 + η·m_0
    np.testing.assert_allclose(u2, lr * m2, rtol=RTOL[dtype])
    np.testing.assert_allclose(trace_state.m, m2, rtol=RTOL[dtype])
    _assert_dtype(dtype, u1, u2, trace_state.m)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fedadagrad_by_hand(dtype):
    (u1, u2), (st_, _) = _run(fedadagrad(LR, beta1=B1, tau=TAU), [D1, D2], dtype)
    m1 = (1 - B1) * D1  # m_0 = β1·0 + (1 − β1)·Δ_1
    v1 = TAU**2 + D1**2  # v_0 = v_{−1} + Δ_1², v_{−1} = τ²
    m2 = B1 * m1 + (1 - B1) * D2
    v2 = v1 + D2**2
    np.testing.assert_allclose(u1, LR * m1 / (np.sqrt(v1) + TAU), rtol=RTOL[dtype])
    np.testing.assert_allclose(u2, LR * m2 / (np.sqrt(v2) + TAU), rtol=RTOL[dtype])
    np.testing.assert_allclose(st_.m, m2, rtol=RTOL[dtype])
    np.testing.assert_allclose(st_.v, v2, rtol=RTOL[dtype])
    _assert_dtype(dtype, u1, u2, st_.m, st_.v)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fedadagrad_without_momentum_by_hand(dtype):
    """β1 = 0: m_t = Δ_t, the classic Adagrad step (as the reference code's Keras Adagrad)."""
    (u1, u2), _ = _run(fedadagrad(LR, beta1=0.0, tau=TAU), [D1, D2], dtype)
    v1 = TAU**2 + D1**2
    v2 = v1 + D2**2
    np.testing.assert_allclose(u1, LR * D1 / (np.sqrt(v1) + TAU), rtol=RTOL[dtype])
    np.testing.assert_allclose(u2, LR * D2 / (np.sqrt(v2) + TAU), rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_fedadam_by_hand(dtype):
    (u1, u2), (st_, _) = _run(fedadam(LR, beta1=B1, beta2=B2, tau=TAU), [D1, D2], dtype)
    m1 = (1 - B1) * D1
    v1 = B2 * TAU**2 + (1 - B2) * D1**2  # v_0 = β2·v_{−1} + (1 − β2)·Δ_1², no bias correction
    m2 = B1 * m1 + (1 - B1) * D2
    v2 = B2 * v1 + (1 - B2) * D2**2
    # element 0 of the first step written out: 0.1·0.1 / (√(0.99e-6 + 0.01) + 0.001)
    assert u1[0] == pytest.approx(0.1 * 0.1 / (np.sqrt(0.99e-6 + 0.01) + 0.001), rel=RTOL[dtype])
    np.testing.assert_allclose(u1, LR * m1 / (np.sqrt(v1) + TAU), rtol=RTOL[dtype])
    np.testing.assert_allclose(u2, LR * m2 / (np.sqrt(v2) + TAU), rtol=RTOL[dtype])
    np.testing.assert_allclose(st_.m, m2, rtol=RTOL[dtype])
    np.testing.assert_allclose(st_.v, v2, rtol=RTOL[dtype])
    _assert_dtype(dtype, u1, u2, st_.m, st_.v)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fedyogi_by_hand(dtype):
    (u1, u2), (st_, _) = _run(fedyogi(LR, beta1=B1, beta2=B2, tau=TAU), [D1, D2], dtype)
    m1 = (1 - B1) * D1
    v0 = TAU**2
    v1 = v0 - (1 - B2) * D1**2 * np.sign(v0 - D1**2)  # all Δ_1² > τ²: v grows by 0.01·Δ²
    np.testing.assert_allclose(v1, [0.010001, 0.040001, 0.002501])
    m2 = B1 * m1 + (1 - B1) * D2
    v2 = v1 - (1 - B2) * D2**2 * np.sign(v1 - D2**2)
    # Δ_2[0]² = 0.00390625 < v_1[0]: v shrinks; Δ_2[1]² = 9 > v_1[1]: v grows; Δ_2[2] = 0: v stays
    np.testing.assert_allclose(v2, [0.010001 - 0.0000390625, 0.040001 + 0.09, 0.002501])
    np.testing.assert_allclose(u1, LR * m1 / (np.sqrt(v1) + TAU), rtol=RTOL[dtype])
    np.testing.assert_allclose(u2, LR * m2 / (np.sqrt(v2) + TAU), rtol=RTOL[dtype])
    np.testing.assert_allclose(st_.m, m2, rtol=RTOL[dtype])
    np.testing.assert_allclose(st_.v, v2, rtol=RTOL[dtype])
    _assert_dtype(dtype, u1, u2, st_.m, st_.v)


@pytest.mark.parametrize("opt", [fedadagrad, fedadam, fedyogi])
def test_initial_accumulator_default_is_tau_squared(opt):
    (state, _) = opt(LR, tau=0.01).init(np.zeros(4))
    np.testing.assert_array_equal(state.v, np.full(4, 0.01**2))  # v_{−1} = τ², Algorithm 2's bound
    np.testing.assert_array_equal(state.m, np.zeros(4))  # m_{−1} = 0
    (state, _) = opt(LR, initial_accumulator=0.0).init(np.zeros(4))  # the reference code's runs
    np.testing.assert_array_equal(state.v, np.zeros(4))


def test_hyperparameters_as_numpy_float64_keep_float32():
    opt = fedadam(np.float64(0.1), beta1=np.float64(0.9), beta2=np.float64(0.99), tau=np.float64(1e-3))
    (u,), (st_, _) = _run(opt, [D1], np.float32)
    _assert_dtype(np.float32, u, st_.m, st_.v)
    (u,), _ = _run(sgd(np.float64(0.5)), [D1], np.float32)
    assert u.dtype == np.float32


# --------------------------------------------------------------------------- FedAvgM = FedAvg


def test_fedavgm_momentum_zero_lr_one_is_fedavg_by_hand():
    """``x + u`` is the client average exactly when ``g = x − avg`` (here ``avg − x`` is exact)."""
    opt = fedavgm(1.0, momentum=0.0)
    x = np.array([1.0, 2.0, -3.0, 0.1])
    state = opt.init(x)
    for avg in (np.array([1.5, 1.25, -2.0, 0.15]), np.array([2.5, 1.0, -1.5, 0.2])):
        u, state = opt.update(x - avg, state)
        x = apply_update(x, u)
        assert x.tobytes() == avg.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_fedavgm_momentum_zero_lr_one_is_fedavg(dtype, data):
    width = 32 if dtype == np.float32 else 64
    n = data.draw(st.integers(1, 8))
    elems = st.floats(2.0**-10, 2.0**10, width=width)  # bounds exact in float32
    x = data.draw(hnp.arrays(dtype, n, elements=elems))
    sign = data.draw(hnp.arrays(dtype, n, elements=st.sampled_from([-1.0, 1.0])))
    opt = fedavgm(1.0, momentum=0.0)
    x = sign * x
    state = opt.init(x)
    for _ in range(data.draw(st.integers(1, 4))):
        # avg within a factor 2 of x and of the same sign: avg − x is exact (Sterbenz), so
        # x + (avg − x) rounds to avg itself.
        ratio = data.draw(hnp.arrays(dtype, n, elements=st.floats(0.5, 2.0, width=width)))
        avg = x * ratio
        u, state = opt.update(x - avg, state)
        assert u.dtype == dtype
        x = apply_update(x, u)
        assert x.tobytes() == avg.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_fedavgm_momentum_zero_lr_one_update_is_minus_g_bitwise(dtype, data):
    """For any g (and any history), the update is −g bit for bit: the same step as ``sgd(1.0)``."""
    width = 32 if dtype == np.float32 else 64
    vectors = hnp.arrays(dtype, 5, elements=st.floats(-(2.0**20), 2.0**20, width=width))
    gs = data.draw(st.lists(vectors, min_size=1, max_size=4))
    opt, plain = fedavgm(1.0, momentum=0.0), sgd(1.0)
    state = opt.init(np.zeros(5, dtype))
    for g in gs:
        u, state = opt.update(g, state)
        u_plain, _ = plain.update(g, ())
        np.testing.assert_array_equal(u, -g)
        np.testing.assert_array_equal(u, u_plain)
        assert u.dtype == dtype


# --------------------------------------------------------------------------- properties

ALL = {
    "sgd": dict(lr=0.3),
    "avgm": dict(lr=0.3, momentum=0.9),
    "adagrad": dict(lr=0.3),
    "adagrad_b0": dict(lr=0.3, beta1=0.0),
    "adam": dict(lr=0.3),
    "yogi": dict(lr=0.3),
    "yogi_v0": dict(lr=0.3, initial_accumulator=0.0),
}


def _build(key):
    return server_optimizer(key.split("_")[0], **ALL[key])


def _vectors(dtype, n, lo=-1024.0, hi=1024.0):
    width = 32 if dtype == np.float32 else 64
    return hnp.arrays(dtype, n, elements=st.floats(lo, hi, width=width))


def _leaves(state):
    if isinstance(state, np.ndarray):
        return [state]
    if isinstance(state, tuple):
        return [a for s in state for a in _leaves(s)]
    return []


@pytest.mark.parametrize("key", sorted(ALL))
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_update_does_not_mutate_inputs(key, dtype, data):
    opt = _build(key)
    gs = data.draw(st.lists(_vectors(dtype, 4), min_size=2, max_size=4))
    state = opt.init(np.zeros(4, dtype))
    for g in gs:
        g_before, state_before = g.copy(), copy.deepcopy(state)
        u, new_state = opt.update(g, state)
        np.testing.assert_array_equal(g, g_before)
        for a, b in zip(_leaves(state), _leaves(state_before), strict=True):
            np.testing.assert_array_equal(a, b)
        assert not np.shares_memory(u, g)
        for a in _leaves(new_state):
            assert not any(np.shares_memory(a, b) for b in _leaves(state) + [g])
        state = new_state


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_chain_of_sgd_is_sgd(dtype, data):
    g = data.draw(_vectors(dtype, data.draw(st.integers(0, 6)), -(2.0**100), 2.0**100))
    u_chain, _ = chain(sgd(1.0)).update(g, chain(sgd(1.0)).init(g))
    u_sgd, _ = sgd(1.0).update(g, sgd(1.0).init(g))
    np.testing.assert_array_equal(u_chain, u_sgd)
    assert u_chain.dtype == u_sgd.dtype == dtype


@pytest.mark.parametrize("name", ["adagrad", "adam", "yogi"])
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
@settings(deadline=None)
def test_adaptive_step_bounded_by_lr_m_over_tau(name, dtype, data):
    """|u| = η·|m_t|/(√v_t + τ) ≤ η·|m_t|/τ elementwise, since v_t ≥ 0 (also for Yogi)."""
    lr = data.draw(st.floats(1e-3, 10.0))
    tau = data.draw(st.floats(1e-4, 1.0))
    params = dict(lr=lr, tau=tau, beta1=data.draw(st.floats(0.0, 0.99)))
    if name != "adagrad":
        params["beta2"] = data.draw(st.floats(0.0, 0.999))
    if data.draw(st.booleans()):
        params["initial_accumulator"] = 0.0
    opt = server_optimizer(name, **params)
    state = opt.init(np.zeros(5, dtype))
    for g in data.draw(st.lists(_vectors(dtype, 5), min_size=1, max_size=6)):
        u, state = opt.update(g, state)
        m, v = state[0].m, state[0].v
        assert np.all(v >= 0)
        # Rounding is monotone and √v_t + τ ≥ τ, so the bound holds exactly in the same dtype.
        assert np.all(np.abs(u) <= dtype(lr) * (np.abs(m) / dtype(tau)))


@pytest.mark.parametrize("key", sorted(ALL))
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_optimizer_common_checks(key, dtype):
    opt = _build(key)
    # a zero pseudo-gradient from a fresh state moves nothing (m_{−1} = 0)
    u0, _ = opt.update(np.zeros(7, dtype), opt.init(np.zeros(7, dtype)))
    assert u0.shape == (7,) and u0.dtype == dtype
    assert np.all(u0 == 0)
    # several random steps: shape, dtype and finiteness of updates, params and state
    rng = np.random.default_rng(0)
    x = rng.normal(size=7).astype(dtype)
    state = opt.init(x)
    for _ in range(20):
        g = (x - rng.normal(size=7)).astype(dtype)
        u, state = opt.update(g, state)
        assert u.shape == x.shape and u.dtype == dtype
        assert np.all(np.isfinite(u))
        x = apply_update(x, u)
        assert x.dtype == dtype
        for a in _leaves(state):
            assert a.shape == x.shape and a.dtype == dtype and np.all(np.isfinite(a))


def test_state_types():
    assert isinstance(fedavgm(1.0).init(np.zeros(2))[0], TraceState)
    for opt in (fedadagrad, fedadam, fedyogi):
        assert isinstance(opt(1.0).init(np.zeros(2))[0], ScaleByAdaptiveState)


# --------------------------------------------------------------------------- registry


def test_registry_names():
    assert sorted(registry.names("server_optimizer")) == ["adagrad", "adam", "avgm", "sgd", "yogi"]


def test_registry_builds_the_same_optimizer():
    (u_reg,), _ = _run(server_optimizer("yogi", lr=LR, beta2=0.9), [D1], np.float64)
    (u_fn,), _ = _run(fedyogi(LR, beta2=0.9), [D1], np.float64)
    np.testing.assert_array_equal(u_reg, u_fn)


@pytest.mark.parametrize(
    "name, params, match",
    [
        ("rmsprop", dict(lr=1.0), "unknown server_optimizer 'rmsprop'"),
        ("adam", dict(lr=1.0, momentum=0.9), r"momentum\n  Extra inputs are not permitted"),
        ("sgd", dict(lr=1.0, beta1=0.9), r"beta1\n  Extra inputs are not permitted"),
        ("adam", dict(lr=1.0, tau=0.0), "tau"),
        ("yogi", dict(lr=1.0, beta2=1.0), "beta2"),
        ("adagrad", dict(lr=1.0, beta1=-0.1), "beta1"),
        ("adagrad", dict(lr=1.0, initial_accumulator=-1.0), "initial_accumulator"),
        ("avgm", dict(lr=1.0, momentum=1.0), "momentum"),
        ("sgd", dict(lr=-1.0), "lr"),
        ("adam", dict(lr=float("nan")), "lr"),
    ],
)
def test_registry_errors_name_the_key(name, params, match):
    with pytest.raises((ValueError, PluginError), match=match):
        server_optimizer(name, **params)


@pytest.mark.parametrize("factory", [sgd, fedavgm, fedadagrad, fedadam, fedyogi])
def test_factories_require_lr(factory):
    with pytest.raises(TypeError, match="lr"):
        factory()
