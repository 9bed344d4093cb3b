"""A first SIGTERM ends a run whose plugin hook (here the trainer) never returns: ``interrupted`` within a
bounded time, not left ``running`` until the scheduler's SIGKILL (issue 21, item 9)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import simfl
import simfl.engine.simulation as engine
from tests.conftest import make_config
from tests.tracking.helpers import DriftTrainer


class HangsAfter(DriftTrainer):
    """Its 5th job sends this process a SIGTERM, then never returns (a hook stuck on a dead server)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def result(self, job):
        self.calls += 1
        if self.calls == 5:
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
            time.sleep(10**6)
        return super().result(job)


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
def test_a_first_sigterm_ends_a_run_stuck_in_a_hook(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "INTERRUPT_GRACE_S", 0.5)
    config = make_config(seed=1, data={"num_clients": 6}, train={"enabled": True},
                         algorithm={"type": "fedasync", "concurrency": 3}, stop={"sim_time_s": 30.0})
    started = time.monotonic()
    result = simfl.run(config, out=tmp_path / "run", trainer=HangsAfter(), progress=False)
    assert result.status == "interrupted"
    assert simfl.load_run(tmp_path / "run").status == "interrupted"
    assert time.monotonic() - started < 60  # bounded: the grace, not the hook's 10^6 s
