"""Exact event traces of three clients with constant durations 1, 2 and 3 s (computed by hand).

They pin down the rules of docs/architecture.md, "Event order": at one simulated time every arrival is applied,
in dispatch order, before any replacement is dispatched; staleness is the server version at
arrival (before applying) minus the base version.
"""

import math

import pytest

from tests.engine.helpers import hand_simulation, trace

DURATIONS = [1.0, 2.0, 3.0]
STOP = {"sim_time_s": 6.0}


def test_fedasync_trace():
    sim = hand_simulation(
        DURATIONS, algorithm={"type": "fedasync", "concurrency": 3, "alpha": 0.5}, stop=STOP
    )
    out = sim.run()
    # t=2: task 1 (client 1, base 0) precedes task 3 (client 0, base 1) in dispatch order;
    # t=6: tasks 7 (c2, base 5), 9 (c1, base 7), 10 (c0, base 8) arrive together.
    assert trace(out) == [
        (1.0, 0, 0),
        (2.0, 1, 1),
        (2.0, 0, 1),
        (3.0, 2, 3),
        (3.0, 0, 1),
        (4.0, 1, 2),
        (4.0, 0, 1),
        (5.0, 0, 0),
        (6.0, 2, 3),
        (6.0, 1, 2),
        (6.0, 0, 2),
    ]
    df = out.client_updates
    applied = df[df.status == "applied"]
    # FedAsync weight = alpha * (tau + 1)^-0.5
    assert applied.weight.tolist() == pytest.approx([0.5 / math.sqrt(1 + t) for t in applied.staleness])
    # every arrival makes a version; replacements at t start from the version after all arrivals at t
    assert out.aggregations.sim_time_s.tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 6, 6, 6]
    assert df.base_version.tolist()[:11] == [0, 0, 0, 1, 3, 3, 5, 5, 7, 7, 8]
    # the three tasks dispatched at t=6 are still running at the stop
    in_flight = df[df.status == "in_flight"]
    assert in_flight.dispatch_time_s.tolist() == [6.0, 6.0, 6.0]
    assert in_flight.base_version.tolist() == [11, 11, 11]
    assert out.sim_end_s == 6.0


def test_fedbuff_trace():
    sim = hand_simulation(
        DURATIONS, algorithm={"type": "fedbuff", "concurrency": 3, "buffer_size": 2}, stop=STOP
    )
    out = sim.run()
    assert trace(out) == [
        (1.0, 0, 0),
        (2.0, 1, 0),
        (2.0, 0, 1),
        (3.0, 2, 1),
        (3.0, 0, 1),
        (4.0, 1, 1),
        (4.0, 0, 1),
        (5.0, 0, 0),
        (6.0, 2, 2),
        (6.0, 1, 1),
        (6.0, 0, 1),
    ]
    assert out.aggregations.sim_time_s.tolist() == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert out.aggregations.num_client_updates.tolist() == [2, 2, 2, 2, 2]
    df = out.client_updates
    arrived = df[df.arrival_time_s.notna()].sort_values(["arrival_time_s", "task_id"])
    # the last arrival waits in a half-full buffer when the run stops
    assert arrived.status.tolist() == ["applied"] * 10 + ["buffered"]
    assert arrived.weight.tolist() == pytest.approx([1 / math.sqrt(1 + t) for t in arrived.staleness])


def test_fedavg_rounds_trace():
    sim = hand_simulation(DURATIONS, algorithm={"type": "fedavg", "clients_per_round": 2}, stop=STOP)
    out = sim.run()
    # rounds select clients 0 and 1 (lowest ids); each ends with client 1 at +2 s
    assert out.aggregations.sim_time_s.tolist() == [2.0, 4.0, 6.0]
    assert out.aggregations["round"].tolist() == [0, 1, 2]
    assert trace(out) == [(1.0, 0, 0), (2.0, 1, 0), (3.0, 0, 0), (4.0, 1, 0), (5.0, 0, 0), (6.0, 1, 0)]
    df = out.client_updates
    assert df[df.status == "applied"].weight.tolist() == [0.5] * 6  # equal sizes: n_k / sum n


def test_fedavg_over_selection_discards_the_slowest():
    # K=2, o=0.5: select round(3) = 3, keep the first 2 arrivals, abort client 2 at t=2
    sim = hand_simulation(
        DURATIONS, algorithm={"type": "fedavg", "clients_per_round": 2, "over_selection": 0.5}, stop={"sim_time_s": 2.0}
    )
    out = sim.run()
    df = out.client_updates.set_index("task_id")
    assert df.loc[[0, 1, 2], "status"].tolist() == ["applied", "applied", "discarded_deadline"]
    assert df.loc[2, "end_time_s"] == 2.0 and math.isnan(df.loc[2, "arrival_time_s"])
    assert out.aggregations.sim_time_s.tolist() == [2.0]
    # the next round starts at t=2 with all three clients
    assert df.loc[[3, 4, 5], "dispatch_time_s"].tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize(
    "deadline, aggregated, discarded",
    [(1.5, [0], [1, 2]), (2.0, [0, 1], [2])],  # an arrival exactly at the deadline counts
)
def test_fedavg_deadline(deadline, aggregated, discarded):
    sim = hand_simulation(
        DURATIONS,
        algorithm={"type": "fedavg", "clients_per_round": 3, "deadline_s": deadline},
        stop={"sim_time_s": deadline},
    )
    out = sim.run()
    df = out.client_updates.set_index("task_id")
    assert df.loc[aggregated, "status"].eq("applied").all()
    assert df.loc[discarded, "status"].eq("discarded_deadline").all()
    assert df.loc[discarded, "end_time_s"].eq(deadline).all()
    assert out.aggregations.num_client_updates.tolist() == [len(aggregated)]
    assert out.aggregations.sim_time_s.tolist() == [deadline]


def test_fedasync_max_staleness_drops():
    sim = hand_simulation(
        DURATIONS, algorithm={"type": "fedasync", "concurrency": 3, "max_staleness": 2}, stop=STOP
    )
    out = sim.run()
    df = out.client_updates
    dropped = df[df.status == "dropped_stale"]
    # same first arrivals as the FedAsync trace until client 2 arrives with tau = 3 at t=3
    assert dropped.staleness.min() > 2
    assert (df[df.status == "applied"].staleness <= 2).all()
    assert (3.0, 2) in [(float(r.arrival_time_s), int(r.client_id)) for r in dropped.itertuples()]
    assert (dropped.weight == 0).all()
