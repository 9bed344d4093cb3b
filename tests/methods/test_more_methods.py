"""FedAT and semi-synchronous aggregation on tiny cases computed by hand."""

import math

import numpy as np
import pytest

from simfl.algorithms.aggregation import fedat_tier_weights
from tests.engine.helpers import hand_simulation


class PerClientTrainer:
    """Client c always returns the 1-d model [c + 1]; the start model is [0]."""

    model_bytes = 8

    def initial_params(self):
        return np.zeros(1)

    def submit(self, job):
        pass

    def results(self, jobs):
        return [np.array([job.client_id + 1.0]) for job in jobs]

    def result(self, job):
        return self.results([job])[0]

    def cancel(self, job):
        pass

    def evaluate(self, params, sim_time_s):
        return {"test_loss": float(params[0]), "test_accuracy": 0.0}


def test_fedat_weights_mirror_the_update_counts():
    np.testing.assert_allclose(fedat_tier_weights([5, 3, 2]), [2 / 10, 3 / 10, 5 / 10])
    np.testing.assert_allclose(fedat_tier_weights([0, 0]), [0.5, 0.5])
    assert fedat_tier_weights([7, 1, 4]).sum() == pytest.approx(1.0)


def test_fedat_trace():
    # tiers by speed: {0, 1} take 1 s, {2, 3} take 3 s; K = 2 per tier round.
    # t=1, t=2: the fast tier's model is 1.5 but, mirrored, its weight is T_slow / T = 0: x = 0.
    # t=3: the slow tier (its tasks have the smaller ids) aggregates first: w_slow = 3.5,
    #      weights [1/3, 2/3] -> x = 1.5/3 + 2*3.5/3 = 17/6; then the fast tier: weights
    #      [1/4, 3/4] -> x = 1.5/4 + 3*3.5/4 = 3.
    sim = hand_simulation([1.0, 1.0, 3.0, 3.0], trainer=PerClientTrainer(),
                          algorithm={"type": "fedat", "tiers": 2, "clients_per_round": 2},
                          stop={"sim_time_s": 3.0}, train={"enabled": True})
    out = sim.run()
    agg = out.aggregations
    assert agg.sim_time_s.tolist() == [1.0, 2.0, 3.0, 3.0]
    assert agg.tier.tolist() == [0, 0, 1, 0]
    np.testing.assert_allclose(agg.tier_weight, [0.0, 0.0, 2 / 3, 1 / 4])
    assert out.final_params[0] == pytest.approx(3.0)
    evals = out.evals.set_index("sim_time_s")
    assert evals.test_loss.loc[3.0] == pytest.approx(3.0)


@pytest.mark.parametrize("staleness, expected", [
    ({"type": "constant"}, 2.5),
    # weights 1, 1/sqrt(2), 1 for c0 (tau 0), c2 (tau 1), c1 (tau 0)
    ({"type": "polynomial", "a": 0.5},
     1.5 - (0.5 - 3 / math.sqrt(2) - 0.5) / (2 + 1 / math.sqrt(2))),
])
def test_semisync_trace(staleness, expected):
    # durations 1, 2, 3.5; period 2; three in flight.
    # t=2: c0 (at 1) and c1 (at 2) arrived from x=0: deltas -1, -2 -> x = 1.5 (version 1);
    #      c0 and c1 start again from 1.5 (c2 still runs from version 0).
    # t=4: c0 (at 3, delta 1.5-1), c2 (at 3.5, late: delta 0-3, tau 1), c1 (at 4, delta 1.5-2).
    sim = hand_simulation([1.0, 2.0, 3.5], trainer=PerClientTrainer(),
                          algorithm={"type": "semisync", "period_s": 2.0, "concurrency": 3, "staleness": staleness},
                          stop={"sim_time_s": 4.0}, train={"enabled": True})
    out = sim.run()
    assert out.aggregations.sim_time_s.tolist() == [2.0, 4.0]
    assert out.aggregations.num_client_updates.tolist() == [2, 3]
    df = out.client_updates.set_index("task_id")
    assert df.loc[2, "staleness"] == 1 and df.loc[2, "arrival_time_s"] == 3.5  # late, not wasted
    assert df.loc[2, "status"] == "applied"
    assert out.final_params[0] == pytest.approx(expected)
    period_two = df[df.aggregated_time_s.notna() & (df.arrival_time_s > 2)]
    assert period_two.weight.sum() == pytest.approx(1.0)


def test_fedat_smoothed_weights_start_every_count_at_one():
    np.testing.assert_allclose(fedat_tier_weights([1, 0, 0], smoothed=True), [1 / 4, 1 / 4, 2 / 4])
    np.testing.assert_allclose(fedat_tier_weights([5, 3, 2], smoothed=True), [3 / 13, 4 / 13, 6 / 13])
    # as printed, the fastest tier weighs nothing until the slowest has reported
    assert fedat_tier_weights([4, 2, 0])[0] == 0.0


@pytest.mark.parametrize(
    "weighting, times, tiers, weights, params",
    [
        # as printed: the fast tier's first two versions equal the initial model [0]
        ("paper", [1, 2, 3, 3], [0, 0, 1, 0], [0, 0, 2 / 3, 1 / 4], [0.0, 0.0, 17 / 6, 3.0]),
        # counts + 1: t=1 [2,1] -> fast weighs 1/3: x = 1.5/3; t=2 [3,1] -> 1/4: x = 1.5/4;
        # t=3 slow [3,2] -> slow weighs 3/5: x = 1.5·2/5 + 3.5·3/5; fast [4,2] -> 1/3: x = 1.5/3 + 3.5·2/3
        ("smoothed", [1, 2, 3, 3], [0, 0, 1, 0], [1 / 3, 1 / 4, 3 / 5, 1 / 3],
         [0.5, 0.375, 2.7, 1.5 / 3 + 3.5 * 2 / 3]),
    ],
)
def test_fedat_cold_start_trace(weighting, times, tiers, weights, params):
    sim = hand_simulation([1.0, 1.0, 3.0, 3.0], trainer=PerClientTrainer(),
                          algorithm={"type": "fedat", "tiers": 2, "clients_per_round": 2,
                                     "fedat_weighting": weighting},
                          stop={"sim_time_s": 3.0}, train={"enabled": True}, eval={"every_s": 1.0})
    out = sim.run()
    agg = out.aggregations
    assert agg.sim_time_s.tolist() == times
    assert agg.tier.tolist() == tiers
    np.testing.assert_allclose(agg.tier_weight, weights)
    assert out.final_params[0] == pytest.approx(params[-1])
    # the model each version installed, seen by the evaluation that follows it (EVAL runs last)
    evals = out.evals.drop_duplicates("sim_time_s", keep="last").set_index("sim_time_s").test_loss
    np.testing.assert_allclose([evals.loc[1.0], evals.loc[2.0], evals.loc[3.0]], [params[0], params[1], params[3]])
