"""FedAvg's minimum reports per round (Bonawitz et al. 2019's goal count)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simfl
from tests.conftest import make_config
from tests.engine.helpers import hand_simulation


def _rounds(min_reports, stop_s=10.0):
    # three clients computing 1, 2 and 4 s; a round selects all three and has a 3 s deadline,
    # so by each deadline exactly two reports have arrived.
    sim = hand_simulation([1.0, 2.0, 4.0], algorithm={"type": "fedavg", "clients_per_round": 3,
                                                       "deadline_s": 3.0, "min_reports": min_reports},
                          stop={"sim_time_s": stop_s})
    return sim.run()


def test_a_round_short_of_min_reports_is_abandoned():
    out = _rounds(min_reports=3)
    # rounds start at 0, 3, 6, 9; each ends at its deadline with 2 < 3 reports
    assert out.aggregations.empty
    assert out.counters["abandoned_rounds"] == 3
    df = out.client_updates
    done = df[df["round"] < 3]
    assert set(done.status.astype(str)) == {"discarded_deadline"}
    # the arrivals of an abandoned round did arrive (1 and 2 s after its start), with weight 0
    arrived = done[done.arrival_time_s.notna()]
    assert (arrived.weight == 0).all()
    np.testing.assert_allclose(arrived.arrival_time_s - arrived.dispatch_time_s, np.tile([1.0, 2.0], 3))
    # the next round is selected at once
    assert sorted(df.groupby("round").dispatch_time_s.min()) == [0.0, 3.0, 6.0, 9.0]


def test_a_round_with_min_reports_aggregates():
    out = _rounds(min_reports=2)
    agg = out.aggregations
    assert agg.sim_time_s.tolist() == [3.0, 6.0, 9.0]
    assert (agg.num_client_updates == 2).all()
    assert out.counters["abandoned_rounds"] == 0


def test_min_reports_above_clients_per_round_is_a_config_error():
    with pytest.raises(simfl.ConfigError, match="algorithm.min_reports"):
        make_config(algorithm={"type": "fedavg", "clients_per_round": 3, "min_reports": 4})


@given(seed=st.integers(0, 10_000), min_reports=st.integers(1, 5), deadline=st.floats(0.5, 3.0))
@settings(max_examples=25, deadline=None)
def test_no_version_aggregates_fewer_than_min_reports(seed, min_reports, deadline):
    config = make_config(
        seed=seed,
        data={"num_clients": 12},
        heterogeneity={"compute": {"jitter": {"dist": "exponential", "mean": 1.0}},
                       "availability": {"type": "onoff", "on_s": {"dist": "exponential", "mean": 5.0}, "off_s": 1.0}},
        algorithm={"type": "fedavg", "clients_per_round": 5, "over_selection": 0.4, "deadline_s": deadline,
                   "min_reports": min_reports},
        stop={"sim_time_s": 30.0},
    )
    res = simfl.run(config, progress=False)
    assert (res.aggregations.num_client_updates >= min_reports).all()
    df = res.client_updates
    # Rounds run one after another, so every round but the last is over. The last one is over
    # too if it was abandoned (at its deadline, or earlier once none of its tasks can still
    # report) while the next round waited for available clients; it is not if a task of it is
    # still running or waiting.
    rounds = sorted(set(df["round"].dropna().astype(int)))
    abandoned = set(rounds[:-1]) - set(res.aggregations["round"].astype(int))
    last = df[df["round"] == rounds[-1]].status.astype(str)
    last_open = bool(last.isin(["in_flight", "buffered"]).any())
    assert res.manifest["abandoned_rounds"] in ({len(abandoned)} if last_open else {len(abandoned), len(abandoned) + 1})
    for r in abandoned:  # nothing of an abandoned round entered the model
        rows = df[df["round"] == r]
        assert set(rows.status.astype(str)) <= {"discarded_deadline", "lost_offline"}
        assert (rows.arrival_time_s.notna().sum()) < min_reports
