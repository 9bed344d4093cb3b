"""Aggregation arithmetic with a different update per client and unequal client sizes.

Every expected model below is computed by hand (or replayed from docs/architecture.md, "Update rules",
on the run's own event table), so a server that averages with equal weights instead of by
``n_k``, takes FedBuff's delta against the current model instead of the task's start model,
or drops the staleness weight, gets a different number.
"""

import math

import numpy as np
import pytest

import simfl
from tests.conftest import make_config
from tests.engine.helpers import hand_simulation, trace
from tests.engine.stubs import VectorTrainer, sized_simulation

R2, R3 = math.sqrt(2.0), math.sqrt(3.0)

# --------------------------------------------------------------------------- FedAvg

#: three clients of unequal sizes, each with its own update direction
SIZES = [10, 30, 60]
V = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
#: Σ n_k v_k / Σ n_k
V_BAR = (10 * V[0] + 30 * V[1] + 60 * V[2]) / 100  # [0.7, 0.9]


def _half_plus_v(client, start):
    """Local training stub: ``x_k = start / 2 + v_k``."""
    return np.asarray(start) / 2 + V[client]


@pytest.mark.parametrize("lr, x1, x2", [
    # η = 1: x_{t+1} = Σ n_k x_k / Σ n = x_t / 2 + V_BAR
    (1.0, [2.7, -0.1], [2.05, 0.85]),
    # η = 0.5: x_{t+1} = x_t − 0.5 (x_t − x_t/2 − V_BAR) = 0.75 x_t + 0.5 V_BAR
    (0.5, [3.35, -1.05], [2.8625, -0.3375]),
])
def test_fedavg_weights_by_client_size(lr, x1, x2):
    # durations 1, 2, 3 s, K = 3: rounds end at t = 3 and t = 6; x0 = [4, -2].
    trainer = VectorTrainer([4.0, -2.0], _half_plus_v)
    sim = sized_simulation([1.0, 2.0, 3.0], SIZES, trainer,
                           algorithm={"type": "fedavg", "clients_per_round": 3, "server_lr": lr},
                           stop={"sim_time_s": 6.0})
    out = sim.run()
    assert out.aggregations.sim_time_s.tolist() == [3.0, 6.0]
    # the second round's tasks started from x1
    for tid in (3, 4, 5):
        np.testing.assert_allclose(trainer.start_of(tid), x1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.final_params, x2, rtol=0, atol=1e-12)
    applied = out.client_updates[out.client_updates.status == "applied"]
    assert applied.weight.tolist() == pytest.approx([0.1, 0.3, 0.6] * 2, abs=1e-15)  # n_k / Σ n


def _replay_fedavg(res, trainer, lr):
    """Replay FedAvg on the run's table: per round, x ← x − η (x − Σ n_k x_k / Σ n_k)."""
    df, sizes = res.client_updates, res.clients.num_samples.to_numpy()
    x = trainer.x0
    for rnd in res.aggregations["round"]:
        rows = df[(df["round"] == rnd) & (df.status == "applied")]
        n = sizes[rows.client_id.to_numpy()].astype(float)
        for tid in rows.task_id:
            np.testing.assert_allclose(trainer.start_of(int(tid)), x, rtol=1e-12)  # every task starts from x_t
        np.testing.assert_allclose(rows.weight, n / n.sum(), rtol=1e-12)
        updates = np.array([trainer.result_of(int(c), x) for c in rows.client_id])
        x = x - lr * (x - (n[:, None] * updates).sum(axis=0) / n.sum())
    return x


@pytest.mark.parametrize("lr", [1.0, 0.7])
def test_fedavg_run_with_natural_sizes_replays_the_weighted_average(lr):
    # synthetic natural partition: unequal sizes; losses, over-selection and a deadline decide
    # who is averaged, and the replay must still land on the same model bit for bit (≈ 1e-12)
    rng = np.random.default_rng(7)
    v = rng.normal(size=(16, 3))
    trainer = VectorTrainer(np.array([1.0, -2.0, 0.5]), lambda c, start: 0.5 * start + v[c])
    config = make_config(
        seed=2,
        data={"num_clients": 16, "partition": "natural"},
        train={"enabled": True},
        heterogeneity={
            "compute": {"jitter": {"dist": "exponential", "mean": 1.0}},
            "availability": {"type": "onoff", "on_s": {"dist": "exponential", "mean": 8.0}, "off_s": 2.0},
        },
        algorithm={"type": "fedavg", "clients_per_round": 4, "over_selection": 0.5, "deadline_s": 2.5,
                   "server_lr": lr},
        stop={"sim_time_s": 80.0},
    )
    res = simfl.run(config, trainer=trainer, progress=False)
    assert res.clients.num_samples.nunique() > 5
    assert len(res.aggregations) > 10
    assert {"applied", "lost_offline", "discarded_deadline"} <= set(res.client_updates.status)
    np.testing.assert_allclose(res.final_params, _replay_fedavg(res, trainer, lr), rtol=1e-12)


# --------------------------------------------------------------------------- semi-sync

@pytest.mark.parametrize("staleness, x2", [
    # t=4: Δ = [0.75 (c0, τ 0), −3 (c2, τ 1, late), −0.25 (c1, τ 0)], w = n·s(τ) = [10, 60, 30]
    ({"type": "constant"}, 1.75 - (10 * 0.75 - 60 * 3 - 30 * 0.25) / 100),
    # w = [10, 60/√2, 30]
    ({"type": "polynomial", "a": 0.5}, 1.75 - (10 * 0.75 - 60 / R2 * 3 - 30 * 0.25) / (40 + 60 / R2)),
    # w = [10, 60·2^−2, 30]
    ({"type": "polynomial", "a": 2.0}, 1.75 - (10 * 0.75 - 15 * 3 - 30 * 0.25) / 55),
])
def test_semisync_weights_by_size_times_staleness(staleness, x2):
    # durations 1, 2, 3.5 s, sizes 10, 30, 60; period 2; client c returns [c + 1].
    # t=2: c0 (Δ = 0 − 1) and c1 (Δ = 0 − 2) arrived, w = 10, 30: x1 = 0 − (−10 − 60)/40 = 1.75;
    #      c0 and c1 restart from 1.75, c2 still runs from x0 = 0.
    trainer = VectorTrainer([0.0], lambda c, start: [c + 1.0])
    sim = sized_simulation([1.0, 2.0, 3.5], SIZES, trainer,
                           algorithm={"type": "semisync", "period_s": 2.0, "concurrency": 3, "staleness": staleness},
                           stop={"sim_time_s": 4.0})
    out = sim.run()
    assert out.aggregations.sim_time_s.tolist() == [2.0, 4.0]
    np.testing.assert_allclose(trainer.start_of(3), [1.75], rtol=0, atol=1e-15)
    assert out.final_params[0] == pytest.approx(x2, rel=1e-13)
    df = out.client_updates.set_index("task_id")
    assert df.loc[[0, 1], "weight"].tolist() == pytest.approx([0.25, 0.75], rel=1e-14)  # w / Σ w


# --------------------------------------------------------------------------- FedBuff

def test_fedbuff_trace_with_more_tasks_than_the_buffer_by_hand():
    # Durations 1, 2, 3 s, concurrency 3 > K = 2, s(τ) = 1/sqrt(1 + τ), server_lr 1; client c
    # returns [c + 1], x0 = [0]. The event trace (time, client, τ) is test_trace's FedBuff trace.
    # Δ = x_start − x_client, and x_start is the model the task started from, not the current one:
    #   t=1  task 0 (c0, from x0=0, τ0): Δ −1, w 1
    #   t=2  task 1 (c1, from 0, τ0): Δ −2, w 1         → x1 = 0 − (−1 − 2)/2 = 1.5
    #        task 3 (c0, from 0, τ1): Δ −1, w 1/√2
    #   t=3  task 2 (c2, from 0, τ1): Δ −3, w 1/√2      → x2 = 1.5 − (−1 − 3)/(2√2) = 1.5 + √2
    #        task 4 (c0, from x1, τ1): Δ 0.5, w 1/√2
    #   t=4  task 5 (c1, from x1, τ1): Δ −0.5, w 1/√2   → x3 = x2 − 0 = x2
    #        task 6 (c0, from x2, τ1): Δ x2 − 1, w 1/√2
    #   t=5  task 8 (c0, from x3, τ0): Δ x2 − 1, w 1    → x4 = x2 − (x2 − 1)(1/√2 + 1)/2
    #   t=6  task 7 (c2, from x2, τ2): Δ x2 − 3, w 1/√3
    #        task 9 (c1, from x3, τ1): Δ x2 − 2, w 1/√2 → x5 = x4 − ((x2 − 3)/√3 + (x2 − 2)/√2)/2
    #        task 10 (c0, from x4, τ1): stays in the half-full buffer
    x1 = 1.5
    x2 = 1.5 + R2
    x4 = x2 - (x2 - 1) * (1 / R2 + 1) / 2
    x5 = x4 - ((x2 - 3) / R3 + (x2 - 2) / R2) / 2
    trainer = VectorTrainer([0.0], lambda c, start: [c + 1.0])
    sim = hand_simulation([1.0, 2.0, 3.0], trainer=trainer, train={"enabled": True},
                          algorithm={"type": "fedbuff", "concurrency": 3, "buffer_size": 2}, stop={"sim_time_s": 6.0})
    out = sim.run()
    assert trace(out) == [(1.0, 0, 0), (2.0, 1, 0), (2.0, 0, 1), (3.0, 2, 1), (3.0, 0, 1), (4.0, 1, 1),
                          (4.0, 0, 1), (5.0, 0, 0), (6.0, 2, 2), (6.0, 1, 1), (6.0, 0, 1)]
    starts = {tid: float(trainer.start_of(tid)[0]) for tid in range(11)}
    expected_starts = {0: 0, 1: 0, 2: 0, 3: 0, 4: x1, 5: x1, 6: x2, 7: x2, 8: x2, 9: x2, 10: x4}
    assert starts == pytest.approx(expected_starts, rel=1e-14)
    assert out.final_params[0] == pytest.approx(x5, rel=1e-14)
    df = out.client_updates.set_index("task_id")
    assert df.loc[[0, 1, 3, 2, 7], "weight"].tolist() == pytest.approx([1, 1, 1 / R2, 1 / R2, 1 / R3], rel=1e-14)
    assert df.loc[10, "status"] == "buffered"


@pytest.mark.parametrize("lr", [1.0, 0.3])
@pytest.mark.parametrize("staleness", [{"type": "polynomial", "a": 1.5}, {"type": "hinge", "a": 3.0, "b": 1.0}])
def test_fedbuff_replay_on_its_own_trace(lr, staleness):
    # buffer s(τ)·(x_start − x_client), step x ← x − η·mean(buffer) every K arrivals; replayed
    # in processing order from the table, with s recomputed from its closed form
    s = {"polynomial": lambda t: (t + 1.0) ** -1.5,
         "hinge": lambda t: 1.0 if t <= 1 else 1.0 / (3.0 * (t - 1) + 1.0)}[staleness["type"]]
    v = np.array([[1.0, -1.0], [2.0, 0.5], [-1.0, 3.0], [0.0, 2.0]])
    trainer = VectorTrainer([0.5, 0.5], lambda c, start: 0.25 * start + v[c])
    sim = hand_simulation([1.0, 1.5, 2.5, 4.0], trainer=trainer, train={"enabled": True},
                          algorithm={"type": "fedbuff", "concurrency": 4, "buffer_size": 3, "server_lr": lr,
                                     "staleness": staleness},
                          stop={"sim_time_s": 30.0})
    out = sim.run()
    df = out.client_updates
    arrived = df[df.arrival_time_s.notna()].sort_values(["arrival_time_s", "task_id"])
    x, buffer = trainer.x0, []
    for r in arrived.itertuples():
        start = trainer.start_of(r.task_id)
        buffer.append(s(int(r.staleness)) * (start - trainer.result_of(r.client_id, start)))
        if len(buffer) == 3:
            x = x - lr * np.mean(buffer, axis=0)
            buffer = []
    assert len(out.aggregations) > 10 and arrived.staleness.max() >= 2
    np.testing.assert_allclose(out.final_params, x, rtol=1e-12)


# --------------------------------------------------------------------------- FedAsync

@pytest.mark.parametrize("alpha, a", [(0.5, 1.5), (0.8, 0.0), (0.3, 3.0)])
def test_fedasync_replay_with_per_client_vectors(alpha, a):
    # x ← x + α (τ + 1)^−a (x_client − x), one version per arrival, in processing order
    v = np.array([[3.0, 0.0], [0.0, -2.0], [1.0, 1.0]])
    trainer = VectorTrainer([0.0, 0.0], lambda c, start: 0.5 * start + v[c])
    sim = hand_simulation([1.0, 2.0, 3.0], trainer=trainer, train={"enabled": True},
                          algorithm={"type": "fedasync", "concurrency": 3, "alpha": alpha,
                                     "staleness": {"type": "polynomial", "a": a}},
                          stop={"sim_time_s": 12.0})
    out = sim.run()
    df = out.client_updates
    arrived = df[df.arrival_time_s.notna()].sort_values(["arrival_time_s", "task_id"])
    x = trainer.x0
    for r in arrived.itertuples():
        w = alpha * (r.staleness + 1.0) ** -a
        assert r.weight == pytest.approx(w, rel=1e-14)
        x = x + w * (trainer.result_of(r.client_id, trainer.start_of(r.task_id)) - x)
    assert arrived.staleness.max() >= 3
    np.testing.assert_allclose(out.final_params, x, rtol=1e-13)


# --------------------------------------------------------------------------- FedAT

def test_fedat_tier_models_weight_by_client_size():
    # tiers {0, 1} (1 s) and {2, 3} (3 s), sizes [10, 30] and [20, 80], client c returns [c + 1]:
    # fast tier model (10·1 + 30·2)/40 = 1.75, slow tier model (20·3 + 80·4)/100 = 3.8.
    # t=1, t=2: the fast tier updates; mirrored weights [T_slow, T_fast]/T = [0, 1] keep x = 0.
    # t=3: slow first: counts [2, 1] → x = 1.75/3 + 2·3.8/3; then fast: counts [3, 1] →
    #      x = 1.75/4 + 3·3.8/4.
    trainer = VectorTrainer([0.0], lambda c, start: [c + 1.0])
    sim = sized_simulation([1.0, 1.0, 3.0, 3.0], [10, 30, 20, 80], trainer,
                           algorithm={"type": "fedat", "tiers": 2, "clients_per_round": 2},
                           stop={"sim_time_s": 3.0}, eval={"every_s": 1.0})
    out = sim.run()
    assert out.aggregations.tier.tolist() == [0, 0, 1, 0]
    assert out.final_params[0] == pytest.approx(1.75 / 4 + 3 * 3.8 / 4, rel=1e-14)
    evals = out.evals.set_index("sim_time_s")
    assert evals.test_loss.loc[2.0] == 0.0
    applied = out.client_updates[out.client_updates.status == "applied"]
    share = {0: 0.25, 1: 0.75, 2: 0.2, 3: 0.8}  # n_k / Σ n within the tier's round
    np.testing.assert_allclose(applied.weight, applied.client_id.map(share), rtol=1e-14)
