"""The richer world in whole runs: time-varying speed, traces, contention, coupling — and CRN."""

import numpy as np
import pandas as pd
import pytest

from simfl.rng import SeedTree
from simfl.scenario.speed import build_speed
from tests.conftest import dry_run, make_config

SLOW = {"normal_s": {"dist": "exponential", "mean": 6.0}, "busy_s": {"dist": "gamma", "mean": 3.0, "shape": 2.0},
        "factor": {"dist": "uniform", "low": 2.0, "high": 5.0}}
DIURNAL_SPEED = {"profile": [1.0, 0.5, 0.25, 0.75], "day_s": 40.0}


def _check_compute_against_model(res, config):
    speed = build_speed(config.heterogeneity.compute, SeedTree(config.seed), config.data.num_clients)
    df = res.client_updates
    done = df[df.arrival_time_s.notna()]
    assert len(done) > 50
    for r in done.itertuples():
        start = r.dispatch_time_s + r.download_s
        assert r.compute_s == pytest.approx(speed.finish_time(int(r.client_id), start, r.compute_work_s) - start, rel=1e-9)
    assert (done.compute_s >= done.compute_work_s * 0.25 - 1e-9).all()
    return done


@pytest.mark.parametrize("contended", [False, True])
def test_slowdown_and_diurnal_speed_stretch_compute(contended):
    sections = dict(
        seed=3, data={"num_clients": 20},
        heterogeneity={"compute": {"jitter": {"dist": "exponential", "mean": 1.0}, "slowdown": SLOW,
                                   "diurnal_speed": DIURNAL_SPEED},
                       "server": {"ingress_mbps": 1e9} if contended else {}},
        algorithm={"type": "fedasync", "concurrency": 6}, stop={"sim_time_s": 150.0},
    )
    res = dry_run(**sections)
    done = _check_compute_against_model(res, make_config(**sections))
    assert (done.compute_s > done.compute_work_s * 1.01).mean() > 0.3
    for col in ("slowdown_factor", "busy_probability", "speed_offset_h", "mean_speed"):
        assert col in res.clients


def test_every_new_process_keeps_common_random_numbers(tmp_path):
    intervals = pd.DataFrame({"client_id": np.repeat(np.arange(30), 2),
                              "start_s": np.tile([0.0, 30.0], 30) + np.repeat(np.arange(30) % 7, 2),
                              "end_s": np.tile([20.0, 55.0], 30) + np.repeat(np.arange(30) % 7, 2)})
    intervals.to_csv(tmp_path / "avail.csv", index=False)
    world = {
        "compute": {"seconds_per_sample": {"dist": "lognormal", "median": 0.005, "sigma": 1.0},
                    "jitter": {"dist": "exponential", "mean": 1.0}, "slowdown": SLOW, "diurnal_speed": DIURNAL_SPEED},
        "network": {"latency_s": 0.02, "down_mbps": 20.0, "up_mbps": 5.0},
        "availability": {"type": "trace", "path": str(tmp_path / "avail.csv"), "wrap_s": 70.0},
        "server": {"ingress_mbps": 2.0, "egress_mbps": 8.0, "aggregation_s_per_update": 0.01},
        "coupling": {"by": "size", "strength": 0.6},
    }
    runs = {}
    for alg in ("fedavg", "fedasync", "fedbuff"):
        sections = dict(seed=5, data={"num_clients": 25}, heterogeneity=world,
                        algorithm={"type": alg, "fedavg": {"clients_per_round": 5}, "fedasync": {"concurrency": 6},
                                   "fedbuff": {"concurrency": 6, "buffer_size": 3}},
                        stop={"sim_time_s": 200.0})
        runs[alg] = dry_run(**sections)
        _check_compute_against_model(runs[alg], make_config(**sections))
    ref = runs["fedavg"].clients
    for alg, res in runs.items():
        pd.testing.assert_frame_equal(res.clients, ref, obj=alg)
        # the jitter (compute work) of a client's k-th task is the algorithm's business no more
        keyed = res.client_updates.set_index(["client_id", "task_index"]).compute_work_s
        base = runs["fedasync"].client_updates.set_index(["client_id", "task_index"]).compute_work_s
        common = keyed.index.intersection(base.index)
        assert len(common) > 30
        pd.testing.assert_series_equal(keyed.loc[common], base.loc[common])
        df = res.client_updates
        assert (df.status == "lost_offline").any()
        assert (df.upload_wait_s > 0).any()  # uploads queued behind each other on the 2 Mbit/s ingress


def test_profiles_from_a_trace_reach_the_clients_table(tmp_path):
    trace = pd.DataFrame({"client_id": [10, 11, 12, 13], "seconds_per_sample": [0.001, 0.002, 0.004, 0.008],
                          "latency_s": [0.1, 0.2, 0.3, 0.4], "down_mbps": [1.0, 2.0, 3.0, 4.0],
                          "up_mbps": [0.5, 1.0, 1.5, 2.0]})
    trace.to_csv(tmp_path / "links.csv", index=False)
    res = dry_run(data={"num_clients": 4}, heterogeneity={"profiles": {"path": str(tmp_path / "links.csv")}},
                  algorithm={"type": "fedasync", "concurrency": 2}, stop={"sim_time_s": 5.0})
    clients = res.clients.set_index("trace_client_id")
    assert sorted(clients.index) == ["10", "11", "12", "13"]
    for row in trace.itertuples():
        got = clients.loc[str(row.client_id)]
        assert (got.seconds_per_sample, got.latency_s, got.down_mbps, got.up_mbps) == (
            row.seconds_per_sample, row.latency_s, row.down_mbps, row.up_mbps)
