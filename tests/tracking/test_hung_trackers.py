"""A tracker that hangs, is slow or cannot reach its server never holds up a run: it is told off the
simulation's thread, waited for at most ``tracking.timeout_s`` at the end, and named in the manifest."""

from __future__ import annotations

import threading
import warnings

import pytest

import simfl
from simfl.tracking import Callback, TrackingWarning
from tests.conftest import make_config
from tests.tracking.helpers import DriftTrainer

WORLD = {
    "seed": 3,
    "data": {"num_clients": 8},
    "train": {"enabled": True},
    "algorithm": {"type": "fedasync", "concurrency": 4},
    "stop": {"sim_time_s": 20.0},
    "eval": {"every_s": 2.0},
}


class _Hangs(Callback):
    """Blocks in ``hook`` until released (as an unreachable server that retries for minutes)."""

    def __init__(self, hook: str) -> None:
        self.release = threading.Event()
        self.seen: list[str] = []
        self.hook = hook

    def _maybe_hang(self, hook: str) -> None:
        self.seen.append(hook)
        if hook == self.hook:
            self.release.wait()

    def on_run_start(self, info):
        self._maybe_hang("on_run_start")

    def on_evaluation(self, row, updates):
        self._maybe_hang("on_evaluation")

    def on_run_end(self, status, manifest):
        self._maybe_hang("on_run_end")


def _run_bounded(config, callbacks, tmp_path, limit_s: float = 60.0):
    """The run, on a thread we can give up on: a hang fails the test instead of hanging it."""
    box = {}

    def target():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            box["result"] = simfl.run(config, out=tmp_path / "run", trainer=DriftTrainer(), progress=False,
                                      callbacks=callbacks)
        box["warnings"] = [w for w in caught if issubclass(w.category, TrackingWarning)]

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit_s)
    assert not thread.is_alive(), "the run waited for a hung tracker"
    return box["result"], box["warnings"]


@pytest.mark.parametrize("hook", ["on_run_start", "on_evaluation", "on_run_end"])
def test_a_hung_tracker_is_named_and_left_behind(hook, tmp_path):
    config = make_config(**WORLD, tracking={"timeout_s": 0.5})
    hung = _Hangs(hook)
    try:
        result, caught = _run_bounded(config, [hung], tmp_path)
        plain = simfl.run(make_config(**WORLD), trainer=DriftTrainer(), progress=False)
    finally:
        hung.release.set()
    assert result.status == "complete"
    assert result.evals.equals(plain.evals)  # the simulation never waited: same results as without it
    if hook != "on_run_end":  # the manifest is final before on_run_end; a hang there only delays the end
        errors = result.manifest["tracking_errors"]
        assert len(errors) == 1 and "_Hangs did not catch up within tracking.timeout_s = 0.5 s" in errors[0]
        assert len(caught) == 1 and "the run goes on without it" in str(caught[0].message)
        loaded = simfl.load_run(tmp_path / "run")
        assert loaded.manifest["tracking_errors"] == errors
    # nothing after the hang was delivered while it hung, and the end was still bounded
    assert hung.seen.count(hook) == 1


def test_a_slow_tracker_still_gets_every_record_in_order(tmp_path):
    class Slow(Callback):
        def __init__(self):
            self.times = []

        def on_evaluation(self, row, updates):
            threading.Event().wait(0.01)
            self.times.append(row["sim_time_s"])

    slow = Slow()
    result, caught = _run_bounded(make_config(**WORLD), [slow], tmp_path)
    assert slow.times == result.evals["sim_time_s"].tolist() and not caught
    assert "tracking_errors" not in result.manifest


def test_an_unreachable_mlflow_server_does_not_hang_the_run(tmp_path):
    pytest.importorskip("mlflow")
    config = make_config(**WORLD, tracking={"timeout_s": 1.0, "mlflow": {"tracking_uri": "http://127.0.0.1:9"}})
    result, caught = _run_bounded(config, [], tmp_path, limit_s=120.0)
    assert result.status == "complete"
    assert any("MlflowWriter" in e for e in result.manifest["tracking_errors"])
    assert caught


@pytest.mark.parametrize("bad", [0, -1, 1e6, "soon"])
def test_a_bad_timeout_is_a_one_line_error(bad):
    with pytest.raises(simfl.ConfigError, match="tracking.timeout_s"):
        make_config(tracking={"timeout_s": bad})
