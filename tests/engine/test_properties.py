"""Invariants of any run (hypothesis): clocks never go back, nothing overlaps that must not."""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import dry_run

dists = st.one_of(
    st.floats(0.5, 2.0),
    st.builds(lambda m: {"dist": "exponential", "mean": m}, st.floats(0.2, 2.0)),
    st.builds(lambda m, s: {"dist": "lognormal", "mean": m, "sigma": s}, st.floats(0.2, 2.0), st.floats(0.1, 1.5)),
    st.builds(lambda v: {"dist": "choice", "values": v}, st.lists(st.sampled_from([0.5, 1.0, 3.0]), min_size=1, max_size=3)),
)
availability = st.one_of(
    st.just({"type": "always"}),
    st.builds(
        lambda on, off: {"type": "onoff", "on_s": {"dist": "exponential", "mean": on}, "off_s": off},
        st.floats(1.0, 10.0),
        st.floats(0.5, 5.0),
    ),
    st.builds(lambda p: {"type": "diurnal", "profile": p, "day_s": 30.0}, st.lists(st.floats(0, 1), min_size=2, max_size=6)),
)


@st.composite
def scenarios(draw):
    n = draw(st.integers(2, 12))
    alg = draw(st.sampled_from(["fedavg", "fedasync", "fedbuff"]))
    algorithm = {"type": alg}
    if alg == "fedavg":
        k = draw(st.integers(1, n))
        algorithm |= {"clients_per_round": k, "over_selection": draw(st.sampled_from([0.0, 0.5]))}
        if math.floor(k * (1 + algorithm["over_selection"]) + 0.5) > n:
            algorithm["over_selection"] = 0.0
        algorithm["deadline_s"] = draw(st.sampled_from([None, 0.8, 3.0]))
    else:
        algorithm |= {"concurrency": draw(st.integers(1, n))}
        if alg == "fedbuff":
            algorithm["buffer_size"] = draw(st.integers(1, 4))
        algorithm["max_staleness"] = draw(st.sampled_from([None, 0, 3]))
    return dict(
        seed=draw(st.integers(0, 1000)),
        data={"num_clients": n},
        heterogeneity={
            "compute": {"jitter": draw(dists)},
            "network": {"latency_s": draw(st.sampled_from([0.0, 0.1]))},
            "availability": draw(availability),
        },
        algorithm=algorithm,
        stop={"sim_time_s": 30.0},
        eval={"every_s": 2.5},
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_run_invariants(sc):
    res = dry_run(**sc)
    df, agg, ev = res.client_updates, res.aggregations, res.evals
    arrived = df[df.arrival_time_s.notna()]
    total = df.download_s + df.compute_s + df.upload_s
    # phases are non-negative and an arrival comes exactly after them
    assert (df[["download_s", "compute_s", "upload_s"]] >= 0).all().all()
    np.testing.assert_allclose(arrived.arrival_time_s, (arrived.dispatch_time_s + total[arrived.index]), rtol=1e-12, atol=1e-9)
    # staleness is non-negative and known exactly for arrivals
    assert (arrived.staleness >= 0).all()
    assert df[df.arrival_time_s.isna()].staleness.isna().all()
    # nothing ends before it starts; nothing runs past the stop
    ended = df[df.end_time_s.notna()]
    assert (ended.end_time_s >= ended.dispatch_time_s).all()
    assert (df.dispatch_time_s <= 30.0).all() and (ended.end_time_s <= 30.0).all()
    # lost tasks end before their upload would have
    lost = df[df.status == "lost_offline"]
    assert (lost.end_time_s < lost.dispatch_time_s + total[lost.index] + 1e-9).all()
    # a client runs one task at a time; its k-th task is its k-th dispatch
    for _, rows in df.groupby("client_id"):
        rows = rows.sort_values("task_id")
        assert rows.task_index.tolist() == list(range(len(rows)))
        ends = rows.end_time_s.fillna(np.inf).to_numpy()
        assert (rows.dispatch_time_s.to_numpy()[1:] >= ends[:-1] - 1e-12).all()
    # the server clock and versions only move forward
    assert agg.sim_time_s.is_monotonic_increasing
    assert agg.server_version.tolist() == list(range(1, len(agg) + 1))
    assert ev.sim_time_s.is_monotonic_increasing and ev.server_version.is_monotonic_increasing
    assert (df.dispatch_time_s.diff().dropna() >= 0).all()
    # async runs never exceed their concurrency
    alg = sc["algorithm"]
    if alg["type"] != "fedavg" and len(df):
        times = np.concatenate([df.dispatch_time_s, ended.end_time_s])
        deltas = np.concatenate([np.ones(len(df)), -np.ones(len(ended))])
        order = np.lexsort((deltas, times))  # ends before starts at equal times
        assert np.cumsum(deltas[order]).max() <= alg["concurrency"]
        if alg.get("max_staleness") is not None:
            assert (df[df.status == "applied"].staleness <= alg["max_staleness"]).all()
    # weights: FedAvg's sum to one per round
    applied = df[df.status == "applied"]
    if alg["type"] == "fedavg" and len(applied):
        np.testing.assert_allclose(applied.groupby("round").weight.sum(), 1.0)
    # every version counts the updates it aggregated
    assert agg.num_client_updates.sum() == len(applied)
