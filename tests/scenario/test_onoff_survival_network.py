"""Tasks survive an on/off client with probability e^(−(download + compute + upload)/E[on]).

Online periods are exponential (mean a) and the process starts in stationarity, so a task
started while its client is online sees an Exp(a) remaining online time whatever happened
before (memorylessness): it survives iff that time exceeds the whole task, download and
upload included. The existing survival tests have no network (download = upload = 0), so a
loss check that forgot a transfer phase would pass them; here both transfers are long.
"""

import math

import pytest

from tests.conftest import dry_run

A = 5.0  # mean online period (s)
LATENCY, DOWN, UP, MODEL_BYTES = 0.25, 8.0, 2.0, 250_000
DOWNLOAD = LATENCY + MODEL_BYTES * 8 / (DOWN * 1e6)  # 0.25 + 0.25 = 0.5 s
UPLOAD = LATENCY + MODEL_BYTES * 8 / (UP * 1e6)  # 0.25 + 1.0 = 1.25 s
COMPUTE = 1.0  # 20 steps × batch 10 × 0.005 s per sample, jitter 1
HORIZON = 1200.0


@pytest.mark.parametrize("contended", [False, True], ids=["fast-path", "shared-links"])
def test_survival_includes_both_transfers(contended):
    server = {"ingress_mbps": 1e6, "egress_mbps": 1e6} if contended else {}  # finite: the process path
    res = dry_run(
        seed=6,
        data={"num_clients": 300},
        heterogeneity={
            "network": {"latency_s": LATENCY, "down_mbps": DOWN, "up_mbps": UP, "model_bytes": MODEL_BYTES},
            "availability": {"type": "onoff", "on_s": {"dist": "exponential", "mean": A},
                             "off_s": {"dist": "gamma", "mean": 3.0, "shape": 2.0}},
            "server": server,
        },
        algorithm={"type": "fedasync", "concurrency": 30},
        stop={"sim_time_s": HORIZON},
    )
    df = res.client_updates
    d = DOWNLOAD + COMPUTE + UPLOAD
    done = df[df.dispatch_time_s < HORIZON - d]  # every one of these has ended
    survived = done[done.status != "lost_offline"]
    assert (survived.status == "applied").all()
    # the phases are the hand-computed ones, and a survivor arrives d after its dispatch
    assert survived.download_s.to_numpy() == pytest.approx(DOWNLOAD, abs=1e-9)
    assert survived.compute_s.to_numpy() == pytest.approx(COMPUTE, abs=1e-9)
    assert survived.upload_s.to_numpy() == pytest.approx(UPLOAD, abs=1e-9)
    assert (survived.arrival_time_s - survived.dispatch_time_s).to_numpy() == pytest.approx(d, abs=1e-9)
    lost = done[done.status == "lost_offline"]
    assert (lost.end_time_s - lost.dispatch_time_s < d).all()
    p = math.exp(-d / A)  # e^(−2.75/5) ≈ 0.577; without the upload it would be e^(−1.5/5) ≈ 0.741
    n = len(done)
    assert n > 5000
    assert len(survived) / n == pytest.approx(p, abs=4.5 * math.sqrt(p * (1 - p) / n))
    # some tasks are lost in each phase (so each phase's check is exercised)
    into = lost.end_time_s - lost.dispatch_time_s
    assert (into < DOWNLOAD).any() and ((into > DOWNLOAD + COMPUTE) & (into < d)).any()
