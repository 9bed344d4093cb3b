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


def _hold(path):
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def test_overwriting_a_run_another_process_is_writing_is_refused_and_changes_nothing(tmp_path):
    config = make_config(seed=3, data={"num_clients": 8}, algorithm={"type": "fedasync", "concurrency": 3},
                         stop={"sim_time_s": 10.0})
    out = tmp_path / "run"
    simfl.run(config, out=out, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    holder = _hold(out)  # a first `simfl run --out run --overwrite` still computing
    try:
        with pytest.raises(RunDirError, match=r"^--out .*: another simfl process is writing a run into this folder"):
            simfl.run(config.model_copy(update={"seed": 4}), out=out, overwrite=True, progress=False)
    finally:
        os.close(holder)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_two_fresh_runs_into_one_new_folder_the_second_is_refused(tmp_path, monkeypatch):
    """Both made the (new, empty) folder before either wrote a file: the lock taken right after
    decides, and the loser writes nothing."""
    from simfl.results import rundir

    config = make_config(seed=5, data={"num_clients": 8}, algorithm={"type": "fedasync", "concurrency": 3},
                         stop={"sim_time_s": 10.0})
    out = tmp_path / "new"
    create, held = rundir.RunDir.create.__func__, []

    def create_then_lose_the_race(cls, path, overwrite=False, resume=False):
        made = create(cls, path, overwrite, resume)
        held.append(_hold(path))  # the other process locks first
        return made

    monkeypatch.setattr(rundir.RunDir, "create", classmethod(create_then_lose_the_race))
    try:
        with pytest.raises(RunDirError, match="another simfl process is writing a run into this folder"):
            simfl.run(config, out=out, progress=False)
    finally:
        for fd in held:
            os.close(fd)
    assert list(out.iterdir()) == []
