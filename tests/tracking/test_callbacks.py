"""Callbacks see exactly the run's tables, in simulated-time order, and never change them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simfl
from simfl.engine.simulation import Simulation
from simfl.engine.tasks import Status, TaskLog
from simfl.running.world import build_policy, engine_settings
from simfl.tracking import Callback, CallbackObserver, TrackingWarning
from tests.conftest import make_config
from tests.engine.helpers import LowestIdFirst, hand_population
from tests.tracking.helpers import DriftTrainer, Recorder, expected_counts

WORLD = {
    "seed": 3,
    "data": {"num_clients": 12},
    "train": {"enabled": True},
    "heterogeneity": {
        "compute": {"jitter": {"dist": "exponential", "mean": 1.0}},
        "availability": {"type": "onoff", "on_s": {"dist": "exponential", "mean": 6.0}, "off_s": 2.0},
    },
    "stop": {"sim_time_s": 60.0},
    "eval": {"every_s": 5.0},
}
FEDASYNC = {"type": "fedasync", "concurrency": 6, "max_staleness": 3}
FEDBUFF = {"type": "fedbuff", "concurrency": 6, "buffer_size": 3}
FEDAVG = {"type": "fedavg", "clients_per_round": 4, "over_selection": 0.5, "deadline_s": 2.5}


def _run(algorithm, callbacks=(), **extra):
    config = make_config(**WORLD, algorithm=algorithm, **extra)
    return simfl.run(config, trainer=DriftTrainer(), progress=False, callbacks=callbacks)


# --------------------------------------------------------------- the engine's hooks
class _Trace:
    """An engine observer writing ``(hook, time, detail)``."""

    def __init__(self):
        self.events = []

    def evaluated(self, sim, row):
        self.events.append(("eval", row["sim_time_s"], row["server_version"]))

    def installed(self, sim, version, t, n, extra):
        self.events.append(("install", t, version))

    def tasks_ended(self, sim, tasks):
        self.events.append(("end", sim.now, [t.client for t in tasks]))

    def finished(self, sim, outcome):
        self.events.append(("finished", outcome.sim_end_s, outcome.stop_reason))


def test_engine_observer_trace_by_hand():
    """Three clients taking 1, 2, 3 s (FedAsync, lowest id first; tests/engine/test_trace.py):
    at each time the installs come first, then the tasks that ended (dispatch order), and the
    evaluation (every 2 s) last; the final evaluation at 6 s is the one already made."""
    config = make_config(data={"num_clients": 3}, train={"local_steps": 1, "batch_size": 1},
                         algorithm={"type": "fedasync", "concurrency": 3}, stop={"sim_time_s": 6.0},
                         eval={"every_s": 2.0})
    population = hand_population([1.0, 2.0, 3.0])
    observer = _Trace()
    sim = Simulation(engine_settings(config, population.num_samples), population, build_policy(config), 1000,
                     selector=LowestIdFirst(), algorithm=config.algorithm, observers=[observer])
    sim.run()
    assert observer.events == [
        ("eval", 0.0, 0),
        ("install", 1.0, 1), ("end", 1.0, [0]),
        ("install", 2.0, 2), ("install", 2.0, 3), ("end", 2.0, [1, 0]),
        ("eval", 2.0, 3),
        ("install", 3.0, 4), ("install", 3.0, 5), ("end", 3.0, [2, 0]),
        ("install", 4.0, 6), ("install", 4.0, 7), ("end", 4.0, [1, 0]),
        ("eval", 4.0, 7),
        ("install", 5.0, 8), ("end", 5.0, [0]),
        ("install", 6.0, 9), ("install", 6.0, 10), ("install", 6.0, 11), ("end", 6.0, [2, 1, 0]),
        ("eval", 6.0, 11),
        ("finished", 6.0, "sim_time_s"),
    ]


def test_a_hook_set_to_none_is_never_called():
    class OnlyEvaluations(_Trace):
        installed = None
        tasks_ended = None
        finished = None

    observer = OnlyEvaluations()
    config = make_config(algorithm={"type": "fedasync", "concurrency": 3}, stop={"sim_time_s": 6.0},
                         eval={"every_s": 2.0})
    population = hand_population([1.0, 2.0, 3.0])
    sim = Simulation(engine_settings(config, population.num_samples), population, build_policy(config), 1000,
                     selector=LowestIdFirst(), algorithm=config.algorithm, observers=[observer])
    out = sim.run()
    assert [e[0] for e in observer.events] == ["eval"] * len(out.evals) and len(out.evals) == 4
    # a callback that overrides nothing gives an observer whose engine hooks are all None
    quiet = CallbackObserver([Callback()])
    assert (quiet.evaluated, quiet.installed, quiet.tasks_ended, quiet.finished) == (None, None, None, None)


# ------------------------------------------------------------- callbacks = tables
def test_callbacks_receive_the_tables_in_order():
    rec = Recorder()
    result = _run(FEDASYNC, [rec])
    hooks = [name for name, _ in rec.calls]
    assert hooks[0] == "start" and hooks[-1] == "end" and hooks.count("start") == hooks.count("end") == 1

    # evaluations: exactly the evals rows
    rows = [row for row, _ in rec.of("evaluation")]
    pd.testing.assert_frame_equal(pd.DataFrame(rows), result.evals, check_exact=True)

    # one call per server version, in order: the aggregations rows
    versions = rec.of("version")
    agg = result.aggregations
    assert [a.server_version for a in versions] == agg.server_version.tolist() == list(range(1, len(agg) + 1))
    assert [a.sim_time_s for a in versions] == agg.sim_time_s.tolist()
    assert [a.num_client_updates for a in versions] == agg.num_client_updates.tolist()

    # one call per task that ended, in time order then dispatch order; FedAsync decides at
    # arrival, so each record equals the task's final row
    tasks = rec.of("task")
    cu = result.client_updates
    ended = cu[cu.end_time_s.notna()].sort_values(["end_time_s", "task_id"], kind="stable")
    assert [t.task_id for t in tasks] == ended.task_id.tolist()
    assert {"applied", "dropped_stale", "lost_offline"} <= set(ended.status.astype(str))
    for t, row in zip(tasks, ended.itertuples()):
        assert (t.client_id, t.task_index, t.base_version) == (row.client_id, row.task_index, row.base_version)
        assert (t.dispatch_time_s, t.end_time_s, t.compute_s) == (row.dispatch_time_s, row.end_time_s, row.compute_s)
        assert t.status == row.status
        assert t.staleness == (None if pd.isna(row.staleness) else row.staleness)
        assert t.weight == row.weight or (math.isnan(t.weight) and math.isnan(row.weight))
        assert t.round is None

    # hooks interleave in simulated time: each record's time is >= the previous one's
    def time_of(name, record):
        if name == "evaluation":
            return record[0]["sim_time_s"]
        return {"version": lambda r: r.sim_time_s, "task": lambda r: r.end_time_s}[name](record)

    times = [time_of(n, r) for n, r in rec.calls if n in ("evaluation", "version", "task")]
    assert times == sorted(times)

    status, manifest = rec.of("end")[0]
    assert status == "complete" and manifest["stop_reason"] == "sim_time_s"
    info = rec.of("start")[0]
    assert info.tags == {} and info.path is None and info.name == info.run_id


@pytest.mark.parametrize("algorithm", [FEDASYNC, FEDBUFF, FEDAVG], ids=["fedasync", "fedbuff", "fedavg"])
def test_update_counts_follow_from_the_tables(algorithm):
    rec = Recorder()
    result = _run(algorithm, [rec])
    evaluations = rec.of("evaluation")
    assert len(evaluations) == len(result.evals) > 5
    for row, u in evaluations:
        want = expected_counts(result.client_updates, result.aggregations, row)
        total = u.applied + u.dropped_stale + u.lost_offline + u.discarded_deadline + u.buffered + u.in_flight
        assert total == want["total"]
        assert u.applied == want["applied"]
        assert u.lost_offline == want["lost_offline"]
        assert u.in_flight == want["in_flight"]
        assert row["client_updates"] == want["received"]
        # an arrival is applied, dropped, held or discarded (no aggregation queue here)
        assert want["received"] == u.applied + u.dropped_stale + u.buffered + want["discarded_after_arrival"]
        if algorithm is FEDASYNC:  # the server decides at arrival
            assert u.applied == want["arrival_applied"] and u.buffered == 0
            assert u.dropped_stale == want["arrival_dropped_stale"]
            assert u.mean_staleness == pytest.approx(want["arrival_mean_staleness"], rel=1e-12, nan_ok=True)
        if algorithm is FEDAVG:  # discarded when the deadline (or the K-th arrival) stops it
            assert u.discarded_deadline == want["discarded_by_end"]
    last = evaluations[-1][1]
    final = result.client_updates.status.astype(str).value_counts()
    assert last.applied == final.get("applied", 0) == result.aggregations.num_client_updates.sum()
    assert last.lost_offline == final.get("lost_offline", 0) > 0
    if algorithm is FEDASYNC:
        assert last.dropped_stale == final.get("dropped_stale", 0) > 0
    if algorithm is FEDAVG:
        assert last.discarded_deadline == final.get("discarded_deadline", 0) > 0
    if algorithm is FEDBUFF:
        assert any(u.buffered > 0 for _, u in evaluations)


def test_fedavg_reports_a_task_stopped_by_the_deadline_when_it_is_stopped():
    rec = Recorder()
    result = _run(FEDAVG, [rec])
    tasks = rec.of("task")
    cu = result.client_updates
    ended = cu[cu.end_time_s.notna()]
    assert sorted(t.task_id for t in tasks) == sorted(ended.task_id)  # each once
    stopped = [t for t in tasks if t.status == "discarded_deadline" and math.isnan(
        cu.arrival_time_s[t.task_id])]
    assert stopped and all(t.round is not None for t in tasks)
    assert all(t.end_time_s == cu.end_time_s[t.task_id] for t in stopped)
    assert [t.end_time_s for t in tasks] == sorted(t.end_time_s for t in tasks)


# ----------------------------------------------------------- observation only
def _assert_same_run(a, b):
    for name in ("client_updates", "aggregations", "evals", "clients"):
        pd.testing.assert_frame_equal(a.table(name), b.table(name), check_exact=True)
    assert np.array_equal(a.final_params, b.final_params)


def test_callbacks_do_not_change_the_run():
    _assert_same_run(_run(FEDBUFF), _run(FEDBUFF, [Recorder()]))


class _Fails(Recorder):
    def __init__(self, hook):
        super().__init__()
        self.hook = hook

    def on_evaluation(self, row, updates):
        super().on_evaluation(row, updates)
        if self.hook == "on_evaluation" and len(self.of("evaluation")) == 3:
            raise RuntimeError("disk full")

    def on_run_start(self, info):
        super().on_run_start(info)
        if self.hook == "on_run_start":
            raise ValueError("no server")


@pytest.mark.parametrize("hook", ["on_evaluation", "on_run_start"])
def test_a_failing_callback_warns_and_the_run_keeps_its_tables(hook, tmp_path):
    failing, healthy = _Fails(hook), Recorder()
    with pytest.warns(TrackingWarning, match=f"_Fails.{hook}\\(\\) raised") as caught:
        result = simfl.run(make_config(**WORLD, algorithm=FEDASYNC), trainer=DriftTrainer(), progress=False,
                           callbacks=[failing, healthy], out=tmp_path / "run")
    assert len([w for w in caught if issubclass(w.category, TrackingWarning)]) == 1
    _assert_same_run(result, _run(FEDASYNC))
    assert result.status == "complete"
    loaded = simfl.load_run(tmp_path / "run")
    pd.testing.assert_frame_equal(loaded.evals, result.evals)
    assert loaded.manifest["tracking_errors"] == [result.manifest["tracking_errors"][0]]
    assert result.manifest["tracking_errors"][0].startswith(f"_Fails.{hook}() raised")
    # the failing callback hears nothing more but the end; the other one hears everything
    told = 3 if hook == "on_evaluation" else 0  # the third evaluation (t = 10 s) raised
    assert len(failing.of("evaluation")) == told
    assert all(t.end_time_s <= 10.0 for t in failing.of("task"))
    assert len(failing.of("task")) < len(healthy.of("task"))
    assert [s for s, _ in failing.of("end")] == ["complete"]
    assert len(healthy.of("evaluation")) == len(result.evals)


def test_a_callback_need_not_subclass_callback():
    class Plain:
        def __init__(self):
            self.rows = []

        def on_evaluation(self, row, updates):
            self.rows.append(row["sim_time_s"])

    plain = Plain()
    result = _run(FEDASYNC, [plain])
    assert plain.rows == result.evals.sim_time_s.tolist()


def test_a_failed_run_is_reported_as_failed():
    class Boom(DriftTrainer):
        def evaluate(self, params, sim_time_s):
            if sim_time_s > 20:
                raise ArithmeticError("nan weights")
            return super().evaluate(params, sim_time_s)

    rec = Recorder()
    with pytest.raises(ArithmeticError):
        simfl.run(make_config(**WORLD, algorithm=FEDASYNC), trainer=Boom(), progress=False, callbacks=[rec])
    status, manifest = rec.of("end")[0]
    assert status == "failed" and manifest["error"] == "ArithmeticError: nan weights"
    assert [row["sim_time_s"] for row, _ in rec.of("evaluation")] == [0.0, 5.0, 10.0, 15.0, 20.0]


# ------------------------------------------------------------------ the tally
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(Status)), st.integers(0, 50)), max_size=300))
def test_tally_counts_the_statuses_of_the_table(rows):
    log = TaskLog()
    for i, (status, staleness) in enumerate(rows):
        log.add(i % 7, 0, -1, 0, 0.0, 0.0, 1.0, 0.0, 10, 1.0)
        if status != Status.IN_FLIGHT:
            log.settle(i, status, staleness, 0.5)
    counts, mean = log.tally()
    for i in range(5000):  # the log still grows past a block: tally pinned no buffer
        log.add(0, 0, -1, 0, 0.0, 0.0, 1.0, 0.0, 10, 1.0)
    assert log.tally() == ([c + 5000 * (s == Status.IN_FLIGHT) for s, c in zip(Status, counts)], pytest.approx(mean, nan_ok=True))
    frame = log.frame().iloc[: len(rows)]
    assert counts == [int((frame.status == s.label).sum()) for s in Status]
    applied = frame.staleness[frame.status == "applied"]
    assert mean == pytest.approx(applied.astype(float).mean(), nan_ok=True)
