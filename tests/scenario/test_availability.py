"""Availability processes against renewal theory and their own definitions."""

import math

import numpy as np
import pytest

from simfl.rng import SeedTree
from simfl.scenario.availability import AlwaysAvailable, DiurnalAvailability, OnOffAvailability
from tests.conftest import dry_run

N = 20_000

LAWS = {
    "exponential": ({"dist": "exponential", "mean": 5.0}, {"dist": "exponential", "mean": 3.0}),
    "constant": (10.0, 4.0),
    "gamma-uniform": ({"dist": "gamma", "mean": 4.0, "shape": 3.0}, {"dist": "uniform", "low": 1.0, "high": 5.0}),
    "lognormal": ({"dist": "lognormal", "mean": 2.0, "sigma": 1.0}, {"dist": "weibull", "mean": 6.0, "shape": 0.7}),
}


def _timeline(on, off, n=N, seed=0):
    spec = OnOffAvailability(on_s=on, off_s=off)
    return spec, spec.build(SeedTree(seed), n)


@pytest.mark.parametrize("law", sorted(LAWS))
def test_onoff_online_fraction_is_stationary(law):
    # online fraction E[on] / (E[on] + E[off]) at every time, from t = 0 on
    spec, tl = _timeline(*LAWS[law])
    p = spec.on_s.expected / (spec.on_s.expected + spec.off_s.expected)
    tol = 5 * math.sqrt(p * (1 - p) / N)
    for t in (0.0, 0.7, 3.0, 25.0, 400.0):
        assert tl.online_mask(t).mean() == pytest.approx(p, abs=tol), t


@pytest.mark.parametrize("law", sorted(LAWS))
def test_onoff_residual_online_time_has_the_equilibrium_law(law):
    # In stationarity the remaining online time of a client online at t has mean
    # E[on^2] / (2 E[on]) (the equilibrium distribution of the renewal period).
    spec, tl = _timeline(*LAWS[law])
    online = np.flatnonzero(tl.online_mask(0.0))
    residual = np.array([tl.online_until(int(c), 0.0) for c in online])
    on = spec.on_s
    second = on.variance + on.expected**2
    mean = second / (2 * on.expected)
    assert residual.mean() == pytest.approx(mean, abs=5 * residual.std() / math.sqrt(len(residual)))


def test_onoff_long_run_fraction_per_client():
    spec, tl = _timeline(*LAWS["gamma-uniform"], n=200)
    p = spec.on_s.expected / (spec.on_s.expected + spec.off_s.expected)
    horizon = 5000.0
    fractions = [sum(b - a for a, b in tl.intervals(c, horizon)) / horizon for c in range(200)]
    # about horizon / 7 cycles per client: the time-average's sd is ~ 0.3 / sqrt(700)
    assert np.mean(fractions) == pytest.approx(p, abs=0.01)
    assert max(abs(f - p) for f in fractions) < 0.1


def test_intervals_agree_with_lazy_queries():
    spec, tl = _timeline(*LAWS["exponential"], n=50, seed=3)
    _, fresh = _timeline(*LAWS["exponential"], n=50, seed=3)
    for c in range(50):
        intervals = fresh.intervals(c, 200.0)
        for t in np.linspace(0, 199.9, 97):
            inside = any(a <= t < b for a, b in intervals)
            assert tl.is_online(c, float(t)) == inside
            if inside:
                end = next(b for a, b in intervals if a <= t < b)
                if end < 200.0:
                    assert tl.online_until(c, float(t)) == pytest.approx(end)


def test_task_of_fixed_length_survives_with_exponential_probability():
    # Exponential online periods of mean a: a task of fixed length D started online survives
    # with probability e^(-D/a) (memorylessness), independently of when it started.
    a, b, d = 5.0, 3.0, 2.0
    res = dry_run(
        data={"num_clients": 300},
        heterogeneity={
            "compute": {"seconds_per_sample": d / 200},
            "availability": {"type": "onoff", "on_s": {"dist": "exponential", "mean": a},
                             "off_s": {"dist": "exponential", "mean": b}},
        },
        algorithm={"type": "fedasync", "concurrency": 30},
        stop={"sim_time_s": 1500.0},
    )
    df = res.client_updates
    ended = df[df.status != "in_flight"]
    p = math.exp(-d / a)
    frac = (ended.status != "lost_offline").mean()
    assert frac == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / len(ended)))


def _dispatch_and_loss_respect_timeline(res, spec, n, seed):
    timeline = spec.build(SeedTree(seed), n)
    df = res.client_updates
    horizon = float(df.dispatch_time_s.max()) + 1000
    for c, rows in df.groupby("client_id"):
        intervals = timeline.intervals(int(c), horizon)
        for r in rows.itertuples():
            # offline clients are never selected
            assert any(a <= r.dispatch_time_s < b for a, b in intervals)
            if r.status == "lost_offline":
                # a lost task ends when its client goes offline, before its upload would end
                assert any(r.end_time_s == pytest.approx(b) for a, b in intervals)
                assert r.end_time_s < r.dispatch_time_s + r.download_s + r.compute_s + r.upload_s


@pytest.mark.parametrize("algorithm", ["fedavg", "fedasync", "fedbuff"])
def test_engine_respects_availability(algorithm):
    avail = {"type": "onoff", "on_s": {"dist": "exponential", "mean": 3.0}, "off_s": {"dist": "gamma", "mean": 2.0, "shape": 2}}
    res = dry_run(
        seed=5,
        data={"num_clients": 40},
        heterogeneity={"compute": {"jitter": {"dist": "exponential", "mean": 1.0}}, "availability": avail},
        algorithm={"type": algorithm, "fedavg": {"clients_per_round": 8}, "fedasync": {"concurrency": 10},
                   "fedbuff": {"concurrency": 10, "buffer_size": 3}},
        stop={"sim_time_s": 200.0},
    )
    assert (res.client_updates.status == "lost_offline").any()
    _dispatch_and_loss_respect_timeline(res, OnOffAvailability(**avail), 40, seed=5)


def test_diurnal_online_fraction_follows_the_profile():
    profile = [0.1, 0.2, 0.9, 0.5, 0.0, 1.0]  # six 4-hour slots
    spec = DiurnalAvailability(profile=profile, day_s=600.0, offset_h=0.0)
    tl = spec.build(SeedTree(0), N)
    slot = 600.0 / len(profile)
    for h, p in enumerate(profile):
        for day in range(2):
            frac = tl.online_mask(day * 600.0 + (h + 0.5) * slot).mean()
            assert frac == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / N) + 1e-12)


def test_diurnal_offsets_shift_the_local_day():
    profile = [0.0] * 12 + [1.0] * 12  # online exactly in the second half of the local day
    spec = DiurnalAvailability(profile=profile, day_s=86400.0)  # offsets ~ uniform(0, 24) hours
    tl = spec.build(SeedTree(1), 500)
    for t in (0.0, 5000.0, 40000.0):
        local_hour = np.mod(t / 3600.0 + tl.offset_h, 24.0)
        np.testing.assert_array_equal(tl.online_mask(t), local_hour >= 12.0)
    # the online periods of a client are exactly its local afternoons
    c = 7
    for a, b in tl.intervals(c, 3 * 86400.0):
        assert b - a == pytest.approx(12 * 3600.0) or a == 0.0 or b == 3 * 86400.0
        assert np.mod(a / 3600.0 + tl.offset_h[c], 24.0) == pytest.approx(12.0) or a == 0.0


def test_diurnal_engine_respects_availability():
    avail = {"type": "diurnal", "profile": [0.2, 0.9, 0.6, 0.3], "day_s": 40.0}
    res = dry_run(
        seed=2,
        data={"num_clients": 60},
        heterogeneity={"compute": {"jitter": {"dist": "exponential", "mean": 1.0}}, "availability": avail},
        algorithm={"type": "fedasync", "concurrency": 10},
        stop={"sim_time_s": 200.0},
    )
    assert (res.client_updates.status == "lost_offline").any()
    _dispatch_and_loss_respect_timeline(res, DiurnalAvailability(**avail), 60, seed=2)


def test_always_available():
    tl = AlwaysAvailable().build(SeedTree(0), 5)
    assert tl.online_mask(123.0).all() and tl.online_until(2, 5.0) == math.inf


def test_fedavg_waits_for_enough_online_clients():
    # 10 clients online 20% of the time; a round of 5 has to wait and records the wait
    avail = {"type": "onoff", "on_s": {"dist": "exponential", "mean": 2.0}, "off_s": {"dist": "exponential", "mean": 8.0}}
    res = dry_run(
        data={"num_clients": 10},
        heterogeneity={"availability": avail},
        algorithm={"type": "fedavg", "clients_per_round": 5},
        stop={"sim_time_s": 3000.0},
    )
    agg = res.aggregations
    assert (agg.availability_wait_s > 0).mean() > 0.5
    df = res.client_updates
    # every round dispatched its 5 tasks at once, after the wait
    first = df.groupby("round").dispatch_time_s.agg(["min", "max", "size"])
    assert (first["min"] == first["max"]).all() and (first["size"] == 5).all()
    starts = agg.round_start_s + agg.availability_wait_s
    np.testing.assert_allclose(first.loc[agg["round"].to_numpy(), "min"].to_numpy(), starts.to_numpy())
