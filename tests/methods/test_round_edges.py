"""Edge cases of FedAvg rounds and of FedAsync with a server optimizer, computed by hand."""

import numpy as np
import pytest

from simfl.engine.simulation import Simulation
from simfl.running.world import build_policy, engine_settings
from tests.conftest import make_config
from tests.engine.helpers import LowestIdFirst, hand_simulation
from tests.engine.stubs import VectorTrainer, sized_simulation
from tests.methods.test_tiers_and_periods import _trace_population


def test_fedavg_loss_and_arrival_at_the_same_instant_then_a_wait():
    # c0 (2 s tasks) is online in [0, 1) and from t = 3; c1 (1 s tasks) always; K = 2.
    # t=1: c0's task is lost (offline) and c1's arrives, in that (dispatch) order: round 0 ends
    #      and aggregates c1 alone. Round 1 must wait for c0: it starts at 3 (wait 2 s; the
    #      evaluation at t = 3 happens at the same time) and ends at 5.
    config = make_config(data={"num_clients": 2}, train={"local_steps": 1, "batch_size": 1},
                         algorithm={"type": "fedavg", "clients_per_round": 2},
                         stop={"sim_time_s": 5.0}, eval={"every_s": 1.0})
    population = _trace_population([2.0, 1.0], [[(0, 1.0), (3.0, 100)], [(0, 100)]])
    out = Simulation(engine_settings(config, population.num_samples), population, build_policy(config), algorithm=config.algorithm, model_bytes=1000, selector=LowestIdFirst()).run()
    agg = out.aggregations
    assert agg.sim_time_s.tolist() == [1.0, 5.0]
    assert agg.num_client_updates.tolist() == [1, 2]
    assert agg.round_start_s.tolist() == [0.0, 1.0]
    assert agg.availability_wait_s.tolist() == [0.0, 2.0]
    df = out.client_updates.iloc[:4]  # the round dispatched at t = 5 is still running
    assert df.status.tolist() == ["lost_offline", "applied", "applied", "applied"]
    assert df.end_time_s.tolist() == [1.0, 1.0, 5.0, 4.0]
    assert df.dispatch_time_s.tolist() == [0.0, 0.0, 3.0, 3.0]
    assert out.evals.sim_time_s.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_fedavg_over_selection_discards_arrivals_beyond_k_at_one_instant():
    # K = 2, over-selection 0.5: three clients of sizes 10, 30, 60 selected, all arrive at t = 1.
    # The first two in dispatch order are averaged, (10·1 + 30·2)/40 = 1.75; the third is
    # discarded with weight 0 although it is the largest.
    trainer = VectorTrainer([0.0], lambda c, start: [c + 1.0])
    sim = sized_simulation([1.0, 1.0, 1.0], [10, 30, 60], trainer,
                           algorithm={"type": "fedavg", "clients_per_round": 2, "over_selection": 0.5},
                           stop={"sim_time_s": 1.0})
    out = sim.run()
    df = out.client_updates.iloc[:3]  # the next round starts at t = 1
    assert df.status.tolist() == ["applied", "applied", "discarded_deadline"]
    assert df.weight.tolist() == [0.25, 0.75, 0.0]
    assert df.staleness.tolist() == [0, 0, 0]
    assert out.aggregations.num_client_updates.tolist() == [2]
    assert out.final_params[0] == 1.75
    assert 2 in trainer.cancelled and 2 not in trainer.fetched


def test_fedasync_with_server_momentum_by_hand():
    # FedAsync's pseudo-gradient g = α s(τ) (x − x_client) through FedAvgM (β = 0.5, η = 1):
    # m ← β m − g, x ← x + m. test_trace's FedAsync event trace (durations 1, 2, 3), α = 0.5,
    # s(τ) = (1 + τ)^−0.5; client c returns [c + 1]; replayed in processing order.
    trainer = VectorTrainer([0.0], lambda c, start: [c + 1.0])
    sim = hand_simulation([1.0, 2.0, 3.0], trainer=trainer, train={"enabled": True},
                          algorithm={"type": "fedasync", "concurrency": 3, "alpha": 0.5,
                                     "server_optimizer": {"type": "avgm", "lr": 1.0, "momentum": 0.5}},
                          stop={"sim_time_s": 6.0})
    out = sim.run()
    df = out.client_updates
    arrived = df[df.arrival_time_s.notna()].sort_values(["arrival_time_s", "task_id"])
    x, m = 0.0, 0.0
    model_after = {0.0: 0.0}  # arrival time -> model after every arrival at that time
    for r in arrived.itertuples():
        g = 0.5 * (1 + r.staleness) ** -0.5 * (x - (r.client_id + 1.0))
        m = 0.5 * m - g
        x = x + m
        model_after[r.arrival_time_s] = x
    assert len(arrived) == 11
    # by hand: t=1, c0 (τ 0): g = 0.5·(0 − 1), m = 0.5, x = 0.5
    assert model_after[1.0] == 0.5
    for r in df.itertuples():  # a task dispatched at t starts from the model after t's arrivals
        assert float(trainer.start_of(r.task_id)[0]) == pytest.approx(model_after[r.dispatch_time_s], rel=1e-13)
    assert out.final_params[0] == pytest.approx(x, rel=1e-13)


def test_fedavg_stop_mid_round_leaves_arrivals_buffered():
    # durations 1 and 2, K = 2, stop at 1.5: c0's update waits for the round (buffered, weight
    # NaN, its job cancelled and never fetched); c1 is still running
    trainer = VectorTrainer([0.0], lambda c, start: [c + 1.0])
    sim = hand_simulation([1.0, 2.0], trainer=trainer, train={"enabled": True},
                          algorithm={"type": "fedavg", "clients_per_round": 2}, stop={"sim_time_s": 1.5})
    out = sim.run()
    df = out.client_updates
    assert df.status.tolist() == ["buffered", "in_flight"]
    assert np.isnan(df.weight.iloc[0]) and df.arrival_time_s.iloc[0] == 1.0
    assert trainer.cancelled == {0, 1} and trainer.fetched == []
    assert len(out.aggregations) == 0


@pytest.mark.parametrize("algorithm", [{"type": "fedasync", "concurrency": 2},
                                       {"type": "fedbuff", "concurrency": 2, "buffer_size": 1}])
def test_async_loss_and_arrival_at_the_same_instant(algorithm):
    # c0 (2 s) goes offline at t = 1 while c1's 1 s task arrives: the loss comes first in
    # dispatch order and the arrival must still be applied (version 1 at t = 1)
    config = make_config(data={"num_clients": 2}, train={"local_steps": 1, "batch_size": 1},
                         algorithm=algorithm, stop={"sim_time_s": 1.0})
    population = _trace_population([2.0, 1.0], [[(0, 1.0), (3.0, 100)], [(0, 100)]])
    out = Simulation(engine_settings(config, population.num_samples), population, build_policy(config), algorithm=config.algorithm, model_bytes=1000, selector=LowestIdFirst()).run()
    df = out.client_updates
    assert df.status.tolist()[:2] == ["lost_offline", "applied"]
    assert out.aggregations.sim_time_s.tolist() == [1.0]


@pytest.mark.parametrize("limit", [0, 1])
def test_max_staleness_keeps_updates_exactly_at_the_limit(limit):
    # test_trace's FedAsync world (durations 1, 2, 3): staleness values 0, 1 and 3 occur; τ = limit is
    # applied, τ > limit dropped
    sim = hand_simulation([1.0, 2.0, 3.0], algorithm={"type": "fedasync", "concurrency": 3, "max_staleness": limit},
                          stop={"sim_time_s": 12.0})
    df = sim.run().client_updates
    arrived = df[df.arrival_time_s.notna()]
    at_limit = arrived[arrived.staleness == limit]
    assert len(at_limit) > 0 and (at_limit.status == "applied").all()
    beyond = arrived[arrived.staleness > limit]
    assert len(beyond) > 0 and (beyond.status == "dropped_stale").all()


def test_throttled_dispatch_wakes_after_task_ends_at_the_same_time():
    # 1 s tasks, concurrency 3, at most 2 dispatches per second: a slot is always free when the
    # next dispatch is allowed, so dispatches happen exactly every 0.5 s. The throttle's wake-up
    # at t = 1, 2, ... coincides with a task end (event order: task ends, then wake-ups).
    sim = hand_simulation([1.0] * 6, algorithm={"type": "fedasync", "concurrency": 3, "max_dispatch_per_s": 2.0},
                          stop={"sim_time_s": 10.0}, eval={"every_s": 1.0})
    df = sim.run().client_updates
    np.testing.assert_allclose(df.dispatch_time_s, 0.5 * np.arange(len(df)), rtol=0, atol=1e-12)
    assert len(df) == 21
