"""Oort selection (Lai et al. 2021) against the reference's formulas and against starvation."""

import math

import numpy as np
import pytest

import simfl
from simfl.algorithms.sampling import (
    oort_cutoff,
    oort_exploration,
    oort_normalization,
    oort_pacer,
    oort_preferred_duration,
    oort_scores,
    oort_system_factor,
    oort_utility,
)
from simfl.methods.oort import Oort
from tests.conftest import make_config
from tests.engine.helpers import hand_simulation


class LossStub:
    """A trainer whose every update is the zero vector and whose task statistics are
    ``(rms, rms, samples_per_task)`` with ``rms = loss_rms(client)``: Oort's inputs by hand."""

    model_bytes = 4000

    def __init__(self, loss_rms=lambda client: 1.0, samples=200):
        self.loss_rms, self.samples = loss_rms, samples
        self._stats = {}

    def initial_params(self):
        return np.zeros(2)

    def submit(self, job):
        rms = float(self.loss_rms(job.client_id))
        self._stats[job.task_id] = (rms, rms, self.samples)

    def result(self, job):
        return np.zeros(2)

    def results(self, jobs):
        return [np.zeros(2) for _ in jobs]

    def job_stats(self, job):
        return self._stats.pop(job.task_id)

    def cancel(self, job):
        self._stats.pop(job.task_id, None)

    def evaluate(self, params, sim_time_s):
        return {"test_loss": 1.0, "test_accuracy": 0.5}


def _capture_selector(monkeypatch):
    """The run's OortSelector, and the (round, epsilon, threshold, T) after every FedAvg round's selection."""
    seen = {"rounds": []}
    original = Oort.select_round

    def select_round(self, server, m):
        chosen = original(self, server, m)
        seen["selector"] = self
        seen["rounds"].append((self.round, self.epsilon, self.round_threshold, self.preferred_duration_s,
                               self._s.duration.copy(), self.explored.copy()))
        return chosen

    monkeypatch.setattr(Oort, "select_round", select_round)
    return seen


# ---------------------------------------------------------------------- starvation
def test_oort_never_starves_a_client_whose_task_was_lost(monkeypatch):
    # 30 identical clients (iid: equal data, equal losses), 2 s tasks, exponential on/off
    # availability with means a = 5 s online, b = 3 s offline, FedAsync with 3 tasks in flight.
    # A task is lost when the client goes offline within its 2 s: by memorylessness
    # p = 1 - e^(-2/5) = 0.33 for every task, the first one included. A selector that
    # never comes back to a client whose first task was lost leaves Binomial(30, p) clients
    # with exactly one task (mean 9.9, sd 2.6; the old Oort selector left 10-11).
    seen = {}
    original = Oort.select

    def select(self, sim):
        seen["selector"] = self
        return original(self, sim)

    monkeypatch.setattr(Oort, "select", select)
    config = make_config(
        seed=0, data={"num_clients": 30, "partition": "iid"}, train={"enabled": True},
        heterogeneity={"compute": {"seconds_per_sample": 0.01},  # 200 samples x 0.01 s = 2 s
                       "availability": {"type": "onoff", "on_s": {"dist": "exponential", "mean": 5.0},
                                        "off_s": {"dist": "exponential", "mean": 3.0}}},
        algorithm={"type": "fedasync", "concurrency": 3, "selection": {"type": "oort"}},
        stop={"sim_time_s": 400.0},
    )
    df = simfl.run(config, trainer=LossStub(), progress=False).client_updates
    p = 1 - math.exp(-2 / 5)
    lost = df[df.status == "lost_offline"]
    assert abs(len(lost) / len(df) - p) < 4 * math.sqrt(p * (1 - p) / len(df))  # the law holds
    first_lost = df.sort_values("task_id").groupby("client_id").status.first() == "lost_offline"
    assert first_lost.sum() >= 5  # the scenario does produce clients whose first task is lost
    counts = df.groupby("client_id").size().reindex(range(30), fill_value=0)
    # starvation would leave 30p ± 4 sd = 9.9 ± 10.3 clients with a single task: none may
    assert (counts <= 1).sum() <= max(0, math.floor(30 * p - 4 * math.sqrt(30 * p * (1 - p))))
    # the clients whose first task was lost are dispatched again ...
    assert (counts[first_lost[first_lost].index] >= 2).all()
    # ... and so is every client after every loss in the first half of the run (the longest
    # wait after a loss was 76-105 s over seeds 0-7: exploitation favours small L)
    for row in lost[lost.dispatch_time_s < 200].itertuples():
        assert ((df.client_id == row.client_id) & (df.task_id > row.task_id)).any(), row
    # a lost task registers nothing: the selector's result count is the client's applied tasks
    applied = df[df.status == "applied"].groupby("client_id").size().reindex(range(30), fill_value=0)
    np.testing.assert_array_equal(seen["selector"]._s.count, applied.to_numpy())


def test_oort_selects_again_clients_cut_by_over_selection_or_a_deadline(monkeypatch):
    # FedAvg K = 5 of M = 8 (over-selection 0.6) with a 1.5 s deadline; identical clients with
    # exponential jitter on a 1 s task, so which tasks are cut is chance. A cut task registers the
    # round's mean utility and its planned duration (as the reference's over-committed
    # stragglers), so a slow draw is penalised by (T/t)^2 until the pacer relaxes T.
    # Pacer law here: every round from round 1 exploits at least one client (ε ≤ 0.855 so
    # ⌊8(1 − ε)⌋ ≥ 1) whose result has the same utility u (equal data, constant loss), so the
    # per-round history is 0, 0, u, u, ... (rounds 1 and 2 follow rounds with no exploitation).
    # At round 40 the windows sum to 18u and 20u: |2u| > 0.1·18u, no change; from round 60 on
    # they are equal: +5 every 20 rounds, so round_threshold = min(100, 10 + 5⌊(R − 40)/20⌋)
    # for R ≥ 60 and T = ∞ (no penalty) from round 400. Then the temporal bonus favours the
    # clients unseen longest: every client cut before round 400 is dispatched again by round 480
    # (without the fix, a client whose first task was cut was never dispatched again).
    seen = _capture_selector(monkeypatch)
    config = make_config(
        seed=0, data={"num_clients": 30, "partition": "iid"}, train={"enabled": True},
        heterogeneity={"compute": {"seconds_per_sample": 0.005, "jitter": {"dist": "exponential", "mean": 1.0}}},
        algorithm={"type": "fedavg", "clients_per_round": 5, "over_selection": 0.6, "deadline_s": 1.5,
                   "selection": {"type": "oort"}},
        stop={"sim_time_s": None, "server_updates": 480},
    )
    df = simfl.run(config, trainer=LossStub(), progress=False).client_updates
    assert df.groupby("round").size().eq(8).all()  # M = round(5 × 1.6) = 8
    for r, _, threshold, T, durations, _ in seen["rounds"]:
        assert threshold == (10 if r < 60 else min(100, 10 + 5 * ((r - 40) // 20))), r
        assert T == oort_preferred_duration(durations, threshold)
    T_of = {r: T for r, _, _, T, *_ in seen["rounds"]}
    assert T_of[399] < math.inf and T_of[400] == math.inf
    cut = df[(df.status == "discarded_deadline") & (df["round"] < 400)]
    assert len(cut) > 1000
    later = df.groupby("client_id")["round"].max()
    assert (later[cut.client_id].to_numpy() > cut["round"].to_numpy()).all()


def test_a_cut_task_registers_the_rounds_mean_utility_and_its_planned_duration(monkeypatch):
    # 8 clients, 1 s tasks (20 steps x 10 samples x 0.005 s), FedAvg K = 2 of M = 4: all four
    # arrive at t = 1 s; the first two by task id are aggregated, the other two discarded. The
    # next round's selection (made right after the aggregation) registers the discarded ones.
    seen = _capture_selector(monkeypatch)
    rms = lambda c: 0.5 + 0.1 * c  # noqa: E731
    config = make_config(
        seed=3, data={"num_clients": 8, "partition": "iid"}, train={"enabled": True},
        algorithm={"type": "fedavg", "clients_per_round": 2, "over_selection": 1.0, "selection": {"type": "oort"}},
        stop={"sim_time_s": None, "server_updates": 1},
    )
    res = simfl.run(config, trainer=LossStub(rms, samples=200), progress=False)
    first = res.client_updates[res.client_updates["round"] == 0]
    applied = first[first.status == "applied"].client_id.tolist()
    cut = first[first.status == "discarded_deadline"].client_id.tolist()
    assert len(applied) == 2 and len(cut) == 2 and (first.arrival_time_s == 1.0).all()
    size = res.clients.num_samples.to_numpy()
    a = seen["selector"]._s
    assert seen["selector"].round == 2
    rewards = [min(200, size[c]) * rms(c) for c in applied]  # |B| = min(samples, data size)
    for c, r in zip(applied, rewards):
        assert a.count[c] == 1 and a.last_round[c] == 1 and a.reward[c] == pytest.approx(r)
    for c in cut:  # explored with the mean of round 1's trained utilities and their planned 1 s
        assert a.count[c] == 1 and a.last_round[c] == 1
        assert a.reward[c] == pytest.approx(np.mean(rewards))
        assert a.duration[c] == pytest.approx(1.0)
    never = sorted(set(range(8)) - set(first.client_id))
    assert not a.count[never].any()  # the rest are still unexplored, with their priors
    np.testing.assert_allclose(a.reward[never], np.minimum(size[never], 200))


# ------------------------------------------------------------------------ utility
def test_normalisation_is_min_max_over_positive_rewards_with_a_clipped_top():
    rewards = np.array([3.0, 100.0, 1.0, 2.0, 4.0, 0.0])  # the 0 is left out
    clip, low, span = oort_normalization(rewards, clip_bound=0.6)
    # positive sorted: 1 2 3 4 100; clip at index min(floor(5 × 0.6), 4) = 3 -> 4
    assert clip == 4.0 and low == 0.999 and span == pytest.approx(100 - 0.999)
    assert oort_normalization(np.array([5.0, 5.0]), 0.98) == (5.0, 4.995, pytest.approx(0.005))
    assert oort_normalization(np.array([0.05]), 0.98)[2] == 1e-4  # 0.05 − 0.04995 < 1e-4: floored
    assert oort_normalization(np.zeros(3), 0.98) == (0.0, 0.0, 1.0)


def test_scores_by_hand():
    reward = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    duration = np.array([1.0, 1.0, 4.0, 1.0, 1.0])
    last = np.array([1.0, 2.0, 5.0, 9.0, 9.0])
    R, T, alpha, c = 10, 2.0, 2.0, 0.1
    got = oort_scores(reward, duration, last, R, T, alpha, c, clip_bound=0.6)
    low, span = 0.999, 100 - 0.999
    statistical = (np.minimum(reward, 4.0) - low) / span  # the 100 is clipped to 4
    bonus = np.sqrt(c * math.log(R) / last)
    penalty = np.array([1, 1, (T / 4.0) ** alpha, 1, 1])  # only t = 4 > T is penalised
    np.testing.assert_allclose(got, (statistical + bonus) * penalty, rtol=1e-12)
    assert got[3] == pytest.approx(got[4])  # clipping: 4 and 100 score alike
    # R = 1: ln 1 = 0, no bonus; T = inf: no penalty
    np.testing.assert_allclose(oort_scores(reward, duration, last, 1, math.inf, alpha, c, 0.6), statistical)
    # the public utility of (samples, loss_rms) is the score of r = samples × loss_rms
    np.testing.assert_allclose(
        oort_utility(np.array([10.0, 20, 30, 40, 1000]), np.full(5, 0.1), duration, last, R, T, alpha, c, 0.6), got)


def test_system_factor_by_hand():
    f = oort_system_factor(np.array([0.5, 2.0, 4.0, 8.0]), 2.0, 3.0)
    np.testing.assert_allclose(f, [1.0, 1.0, (2 / 4) ** 3, (2 / 8) ** 3])
    np.testing.assert_allclose(oort_system_factor(np.array([5.0]), 2.0, 0.0), [1.0])  # α = 0: no penalty


def test_the_temporal_bonus_lifts_a_client_unseen_for_long():
    # equal statistical utility: the client last seen at round 1 outranks the one seen at round 9
    s = oort_scores(np.array([5.0, 5.0]), np.ones(2), np.array([1.0, 9.0]), 10, math.inf, 2.0, 0.1)
    assert s[0] - s[1] == pytest.approx(math.sqrt(0.1 * math.log(10)) * (1 - 1 / 3))


# ------------------------------------------------------------------ exploitation
def test_cutoff_keeps_utilities_at_least_cut_off_times_the_one_below_the_slots():
    scores = np.array([0.5, 3.0, 1.0, 2.0, 0.69, 0.7])
    # k = 2 slots: rank 2 in decreasing order is 1.0, bar 0.7
    assert oort_cutoff(scores, 2, 0.7).tolist() == [1, 3, 2, 5]
    assert oort_cutoff(scores, 99, 0.7).tolist() == [1, 3, 2, 5, 4, 0]  # rank clamped to the last
    assert oort_cutoff(scores, 0, 1.0).tolist() == [1]


def _oort_on_hand_sim(n=6, concurrency=2, **spec):
    oort = Oort(Oort.Params(type="oort", **spec))
    sim = hand_simulation([1.0] * n, selector=oort, train={"enabled": True},
                          algorithm={"type": "fedasync", "concurrency": concurrency, "selection": {"type": "oort"}})
    oort._arrays(sim.server)
    return oort, sim.server


def test_exploitation_draws_above_the_cut_off_proportionally_to_utility():
    oort, sim = _oort_on_hand_sim(n=6)
    a = oort._s
    a.count[:] = 1  # all explored
    a.reward[:] = [1.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    a.last_round[:] = 1
    oort.round, oort.preferred_duration_s = 1, math.inf  # ln 1 = 0: no bonus, no penalty
    scores = oort.utilities(sim, np.arange(6))
    candidates = oort_cutoff(scores, 2, 0.7)  # 2 slots
    assert sorted(candidates.tolist()) == [3, 4, 5]  # ≥ 0.7 × the 3rd best
    n = 30_000
    draws = np.array([oort._choose(sim, 1, 1, 2)[0] for _ in range(n)])
    assert set(draws) <= set(candidates.tolist())
    p = scores[candidates] / scores[candidates].sum()
    freq = np.array([(draws == c).mean() for c in candidates])
    assert np.abs(freq - p).max() < 5 * np.sqrt(p * (1 - p) / n).max()
    # two slots: both distinct, both candidates
    pairs = [oort._choose(sim, 2, 2, 2) for _ in range(200)]
    assert all(len(set(x)) == 2 and set(x) <= set(candidates.tolist()) for x in pairs)


def test_exploration_draws_unexplored_clients_within_the_window_proportionally_to_prior():
    oort, sim = _oort_on_hand_sim(n=6, sample_window=2.0)
    a = oort._s
    a.reward[:] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # priors (all unexplored)
    oort.round, oort.preferred_duration_s = 1, math.inf
    n = 30_000
    draws = np.array([oort._choose(sim, 1, 0, 0)[0] for _ in range(n)])
    # one slot, window 2 × 1: the two largest priors, 6 and 5, drawn 6:5
    p = np.array([6.0, 5.0]) / 11
    assert set(draws) == {4, 5}
    freq = np.array([(draws == 5).mean(), (draws == 4).mean()])
    assert np.abs(freq - p).max() < 5 * np.sqrt(p * (1 - p) / n).max()
    # the system penalty scales the weights: prior 6 at 4 × T counts 6/16 < 1 (now out of the window)
    a.duration[5], oort.preferred_duration_s = 4.0, 1.0
    assert set(oort._choose(sim, 1, 0, 0)[0] for _ in range(200)) == {3, 4}


# ------------------------------------------------------------------- ε and rounds
def test_epsilon_decays_per_round_to_its_floor_then_zero_once_everyone_is_explored(monkeypatch):
    # 60 clients, 2 per round: ε > 0.5 (rounds 1-11) leaves ⌊2(1 − ε)⌋ = 0 exploitation slots,
    # then one slot explores per round, so somebody stays unexplored past round 30 (ε's floor)
    seen = _capture_selector(monkeypatch)
    config = make_config(
        seed=1, data={"num_clients": 60, "partition": "iid"}, train={"enabled": True},
        algorithm={"type": "fedavg", "clients_per_round": 2, "selection": {"type": "oort"}},
        stop={"sim_time_s": None, "server_updates": 70},
    )
    simfl.run(config, trainer=LossStub(), progress=False)
    # (captured after each round's selection) the first round that found nobody unexplored
    done = next(r for r, *_, explored in seen["rounds"] if explored.all())
    assert 30 < done < 70
    for r, eps, *_ in seen["rounds"]:
        if r < done:
            assert eps == pytest.approx(oort_exploration(r, 0.9, 0.95, 0.2), rel=1e-12), r
        else:  # that round set ε (and its floor) to 0 for good
            assert eps == 0.0
    assert oort_exploration(29, 0.9, 0.95, 0.2) > 0.2 == oort_exploration(30, 0.9, 0.95, 0.2)


def test_an_asynchronous_round_is_concurrency_picks(monkeypatch):
    rounds = []
    original = Oort.select

    def select(self, server):
        chosen = original(self, server)
        rounds.append((self.round, self.epsilon))
        return chosen

    monkeypatch.setattr(Oort, "select", select)
    config = make_config(
        seed=2, data={"num_clients": 20, "partition": "iid"}, train={"enabled": True},
        algorithm={"type": "fedasync", "concurrency": 4, "selection": {"type": "oort"}},
        stop={"sim_time_s": None, "client_updates": 40},
    )
    simfl.run(config, trainer=LossStub(), progress=False)
    assert len(rounds) > 40
    for i, (r, eps) in enumerate(rounds):
        assert r == i // 4 + 1  # picks 1-4 are round 1, 5-8 round 2, ...
        if not (eps == 0.0):
            assert eps == pytest.approx(oort_exploration(r, 0.9, 0.95, 0.2), rel=1e-12)


# -------------------------------------------------------------------------- pacer
def test_pacer_by_hand():
    step, delta = 20, 5.0
    history = [1.0] * 40
    assert oort_pacer(history[:39], 10.0, 39, step, delta) == 10.0  # not a decision round
    assert oort_pacer(history, 10.0, 40, step, delta) == 15.0  # |20 − 20| ≤ 0.1·20: relax
    assert oort_pacer(history[:20], 10.0, 20, step, delta) == 10.0  # decisions start at 2·step
    history += [10.0] * 20  # windows 20 and 200: |180| ≥ 5·20, tighten
    assert oort_pacer(history, 15.0, 60, step, delta) == 10.0
    assert oort_pacer(history, 5.0, 60, step, delta) == 5.0  # never below delta
    history += [12.0] * 20  # 200 -> 240: 20 < 40 < 1000, unchanged
    assert oort_pacer(history, 10.0, 80, step, delta) == 10.0
    assert oort_pacer([1.0] * 40, 98.0, 40, step, delta) == 100.0  # capped at 100
    assert oort_pacer([1.0] * 40, 10.0, 40, step, 0.0) == 10.0  # delta 0: no pacer


def test_preferred_duration_is_the_threshold_percentile_of_durations():
    d = np.array([5.0, 1.0, 4.0, 2.0, 3.0, 9.0, 8.0, 7.0, 6.0, 10.0])
    assert oort_preferred_duration(d, 10.0) == 2.0  # index ⌊10 × 0.1⌋ = 1 of the sorted
    assert oort_preferred_duration(d, 0.0) == 1.0
    assert oort_preferred_duration(d, 95.0) == 10.0  # index 9
    assert oort_preferred_duration(d, 99.99) == 10.0  # clamped to the last
    assert oort_preferred_duration(d, 100.0) == math.inf


def test_a_fixed_preferred_duration_switches_the_pacer_off(monkeypatch):
    seen = _capture_selector(monkeypatch)
    config = make_config(
        seed=0, data={"num_clients": 10, "partition": "iid"}, train={"enabled": True},
        algorithm={"type": "fedavg", "clients_per_round": 3,
                   "selection": {"type": "oort", "preferred_duration_s": 0.7, "pacer_step": 2}},
        stop={"sim_time_s": None, "server_updates": 12},
    )
    simfl.run(config, trainer=LossStub(), progress=False)
    assert all(T == 0.7 and thr == 10.0 for _, _, thr, T, *_ in seen["rounds"])


def test_the_blacklist_excludes_clients_with_the_most_results(monkeypatch):
    oort, sim = _oort_on_hand_sim(n=10, blacklist_rounds=2, blacklist_max_len=0.2)
    a = oort._s
    a.count[:] = [3, 5, 1, 4, 0, 0, 0, 0, 3, 0]
    oort._begin_round(sim)
    assert oort.blacklist.tolist() == [1, 3]  # > 2 results, most first, at most ⌊0.2 × 10⌋
    for _ in range(100):
        assert not {1, 3} & set(oort._choose(sim, 5, 3, 3))
