"""FedAT tiers and semi-synchronous periods: hand-computed traces of what the tables record.

Rounds whose tasks arrive at different times, a tier that has to wait for its clients to come
online, period starts with tasks still running, the ``round`` and ``staleness`` columns, and
what a stop leaves behind (``buffered`` arrivals, cancelled jobs).
"""

import math

import numpy as np
import pytest

from simfl.engine.simulation import Simulation
from simfl.rng import SeedTree
from simfl.running.world import build_policy, engine_settings
from simfl.scenario.distributions import Constant
from simfl.scenario.population import Population
from simfl.scenario.trace_timeline import TraceTimeline
from tests.conftest import make_config
from tests.engine.helpers import LowestIdFirst, hand_simulation
from tests.engine.stubs import VectorTrainer

FEDAT = {"type": "fedat", "tiers": 2, "clients_per_round": 2}


def _plus_one():
    return VectorTrainer([0.0], lambda c, start: [c + 1.0])  # client c returns [c + 1]


# ------------------------------------------------------------------------------ FedAT

def test_fedat_rounds_with_arrivals_at_different_times():
    # Durations 1, 2 (fast tier, round index 0 at t=0) and 5, 6 (slow tier, index 1 at t=0).
    # Fast rounds end when their last task arrives: t=2 (index 0), 4 (index 2), 6 (index 3);
    # counts [1, 0] and [2, 0] mirror to weights [0, 1]: x = the slow tier's initial model = 0.
    # t=6: c3 (slow, dispatched first) ends before c1 (fast): the slow round aggregates first,
    #      counts [2, 1] → x = 1.5/3 + 2·3.5/3; then the fast one, counts [3, 1] → x = 1.5/4 + 3·3.5/4 = 3.
    trainer = _plus_one()
    sim = hand_simulation([1.0, 2.0, 5.0, 6.0], trainer=trainer, train={"enabled": True}, algorithm=FEDAT,
                          stop={"sim_time_s": 6.0}, eval={"every_s": 1.0})
    out = sim.run()
    agg = out.aggregations
    assert agg.sim_time_s.tolist() == [2.0, 4.0, 6.0, 6.0]
    assert agg.tier.tolist() == [0, 0, 1, 0]
    assert agg["round"].tolist() == [0, 2, 1, 3]
    assert agg.num_client_updates.tolist() == [2, 2, 2, 2]
    np.testing.assert_allclose(agg.tier_weight, [0.0, 0.0, 2 / 3, 1 / 4], rtol=1e-15)
    assert out.final_params[0] == pytest.approx(3.0, rel=1e-15)
    assert out.evals.set_index("sim_time_s").test_loss.loc[[1.0, 2.0, 5.0]].tolist() == [0.0, 0.0, 0.0]
    df = out.client_updates.set_index("task_id")
    applied = df[df.status == "applied"]
    # round of each task = its tier round; staleness = version at arrival − base version
    assert sorted(zip(applied.client_id, applied["round"], applied.staleness, applied.base_version)) == [
        (0, 0, 0, 0), (0, 2, 0, 1), (0, 3, 0, 2),
        (1, 0, 0, 0), (1, 2, 0, 1), (1, 3, 0, 2),
        (2, 1, 2, 0), (3, 1, 2, 0),
    ]


def test_fedat_stop_leaves_arrivals_of_unfinished_rounds_buffered():
    # as above, stopped at t = 5.5: c0 (fast round 3) and c2 (slow round 1) arrived at t = 5 and
    # wait for their partners; their jobs are cancelled, never fetched
    trainer = _plus_one()
    sim = hand_simulation([1.0, 2.0, 5.0, 6.0], trainer=trainer, train={"enabled": True}, algorithm=FEDAT,
                          stop={"sim_time_s": 5.5})
    out = sim.run()
    df = out.client_updates.set_index("task_id")
    buffered = df[df.status == "buffered"]
    assert sorted(buffered.client_id) == [0, 2]
    assert buffered.arrival_time_s.tolist() == [5.0, 5.0]
    assert buffered.weight.isna().all()
    assert set(buffered.index) <= trainer.cancelled
    assert not set(buffered.index) & set(trainer.fetched)
    assert out.final_params[0] == 0.0


def _trace_population(compute_s, intervals) -> Population:
    """Clients with exact compute times and online intervals ``intervals[c] = [(start, end), ...]``."""
    n = len(compute_s)
    starts = [a for iv in intervals for a, _ in iv]
    ends = [b for iv in intervals for _, b in iv]
    offsets = np.concatenate([[0], np.cumsum([len(iv) for iv in intervals])])
    timeline = TraceTimeline(np.array(starts), np.array(ends), offsets, np.full(n, math.inf), np.arange(n),
                             np.arange(n).astype(str))
    return Population(
        num_samples=np.full(n, 100), seconds_per_sample=np.asarray(compute_s, dtype=float), latency_s=np.zeros(n),
        down_mbps=np.full(n, np.inf), up_mbps=np.full(n, np.inf), jitter=Constant(value=1.0),
        timeline=timeline, tree=SeedTree(0),
    )


def test_fedat_tier_waits_until_its_clients_are_online():
    # Slow tier {2, 3} (2 s tasks); client 3 is online in [0, 2.5) and from t = 5 on.
    # t=0 and t=2: both slow clients start a round; c3's second task is lost at 2.5, so the round
    # ends with c2's arrival at 4 and aggregates it alone. At 4 only c2 is online: the tier waits
    # until c3 is back at 5, then runs its next round (ending at 7).
    config = make_config(data={"num_clients": 4}, train={"local_steps": 1, "batch_size": 1}, algorithm=FEDAT,
                         stop={"sim_time_s": 7.0})
    population = _trace_population([1.0, 1.0, 2.0, 2.0], [[(0, 100)], [(0, 100)], [(0, 100)],
                                                         [(0, 2.5), (5, 100)]])
    out = Simulation(engine_settings(config, population.num_samples), population, build_policy(config), algorithm=config.algorithm, model_bytes=1000, selector=LowestIdFirst()).run()
    df = out.client_updates
    slow = df[(df.client_id >= 2) & (df.dispatch_time_s < 7.0)]
    assert sorted(zip(slow.dispatch_time_s, slow.client_id, slow.status)) == [
        (0.0, 2, "applied"), (0.0, 3, "applied"),
        (2.0, 2, "applied"), (2.0, 3, "lost_offline"),
        (5.0, 2, "applied"), (5.0, 3, "applied"),
    ]
    agg = out.aggregations[out.aggregations.tier == 1]
    assert agg.sim_time_s.tolist() == [2.0, 4.0, 7.0]
    assert agg.num_client_updates.tolist() == [2, 1, 2]


# -------------------------------------------------------------------------- semi-sync

def test_semisync_tops_up_to_the_concurrency_and_records_rounds():
    # Durations 1, 3, 3, 3; concurrency 2 of 4 clients; period 2; client c returns [c + 1].
    # t=0: tasks 0 (c0), 1 (c1), round 0. t=1: task 0 arrives. t=2: aggregate {0}: x1 = 0 − (0 − 1)
    #      = 1 (v1, round 0); task 1 still runs, so one task is added: 2 (c0, round 1, from x1).
    # t=3: task 1 (base 0: τ 1) and task 2 (base 1: τ 0) arrive. t=4: aggregate {1, 2}:
    #      x2 = 1 − mean(0 − 2, 1 − 1) = 2 (v2, round 1); tasks 3 (c0), 4 (c1) start (round 2).
    # t=5: task 3 arrives; the run stops at 5.5 with it buffered (its job cancelled, never fetched).
    trainer = _plus_one()
    sim = hand_simulation([1.0, 3.0, 3.0, 3.0], trainer=trainer, train={"enabled": True},
                          algorithm={"type": "semisync", "period_s": 2.0, "concurrency": 2,
                                     "staleness": {"type": "constant"}},
                          stop={"sim_time_s": 5.5})
    out = sim.run()
    df = out.client_updates.set_index("task_id")
    assert df.client_id.tolist() == [0, 1, 0, 0, 1]
    assert df.dispatch_time_s.tolist() == [0.0, 0.0, 2.0, 4.0, 4.0]
    assert df["round"].tolist() == [0, 0, 1, 2, 2]
    assert df.status.tolist() == ["applied", "applied", "applied", "buffered", "in_flight"]
    assert df.staleness.tolist()[:4] == [0, 1, 0, 0]
    assert df.weight.tolist()[:3] == [1.0, 0.5, 0.5]
    assert out.aggregations.sim_time_s.tolist() == [2.0, 4.0]
    assert out.aggregations["round"].tolist() == [0, 1]
    assert out.aggregations.num_client_updates.tolist() == [1, 2]
    assert trainer.fetched == [0, 1, 2]
    assert {3, 4} <= trainer.cancelled
    assert out.final_params[0] == 2.0


def test_semisync_with_server_momentum_by_hand():
    # test_more_methods' semi-sync trace (durations 1, 2, 3.5; period 2; equal sizes; constant s)
    # with FedAvgM (β = 0.5, η = 1): Δ_t = −g_t, m_t = β m_{t−1} + Δ_t, x_{t+1} = x_t + m_t.
    # t=2: g = mean(0 − 1, 0 − 2) = −1.5 → m = 1.5, x1 = 1.5.
    # t=4: g = mean(1.5 − 1, 0 − 3, 1.5 − 2) = −1 → m = 0.75 + 1 = 1.75, x2 = 3.25.
    trainer = _plus_one()
    sim = hand_simulation([1.0, 2.0, 3.5], trainer=trainer, train={"enabled": True},
                          algorithm={"type": "semisync", "period_s": 2.0, "concurrency": 3,
                                     "staleness": {"type": "constant"},
                                     "server_optimizer": {"type": "avgm", "lr": 1.0, "momentum": 0.5}},
                          stop={"sim_time_s": 4.0})
    out = sim.run()
    np.testing.assert_allclose(trainer.start_of(3), [1.5])
    assert out.final_params[0] == pytest.approx(3.25, rel=1e-15)
