"""Two processes continuing one run directory at once: the second is refused in one line (issue 21, item 9)."""

from __future__ import annotations

import os

import pytest

import simfl
from simfl.errors import RunDirError
from tests.conftest import make_config

fcntl = pytest.importorskip("fcntl")


def test_a_second_resume_of_one_run_is_refused_while_the_first_holds_it(tmp_path):
    config = make_config(seed=2, data={"num_clients": 8}, algorithm={"type": "fedasync", "concurrency": 3},
                         stop={"sim_time_s": 20.0}, run={"checkpoint_every_s": 2.0})
    out = tmp_path / "run"
    assert simfl.run(config, out=out, progress=False, pause_at_s=6.0).status == "paused"
    holder = os.open(out, os.O_RDONLY)  # what a first `simfl run --resume` holds while it computes
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RunDirError, match=r"another simfl process is continuing this run"):
            simfl.run(config, out=out, resume=True, progress=False)
        assert simfl.load_run(out).status == "paused"  # untouched
    finally:
        os.close(holder)
    # once it is released (the first process ended), resuming continues the run to its end
    assert simfl.run(config, out=out, resume=True, progress=False).status == "complete"
    # and a resumed run releases the lock: the next one can take it again
    probe = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(probe)
