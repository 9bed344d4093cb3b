"""A run paused at a simulated time and resumed (to a later pause or to its end) has, at the
end, the tables of a run that was never stopped, bit for bit; a paused run's tables hold
exactly what happened up to the pause."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simfl
from simfl.running.checkpoint import CHECKPOINT
from simfl.errors import ConfigError
from simfl.results import read_manifest

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("client_updates", "aggregations", "evals", "clients")

CASES = {
    # trained FedBuff with a server optimizer state and a half-full buffer at the pauses
    "fedbuff-trained": ("configs/fedyogi_buff.yaml", ["stop.sim_time_s=24"], (5.0, 11.5)),
    # FedAvg rounds with deadlines: round timers pending at the pause; pauses off the eval grid
    "fedavg-deadline": ("configs/flagship.yaml", ["algorithm.type=fedavg", "algorithm.fedavg.deadline_s=3",
                                                   "stop.sim_time_s=30"], (7.3, 19.0)),
    # a dry FedAsync run with periodic checkpoints besides the pauses
    "fedasync-dry-periodic": ("configs/flagship.yaml", ["train.enabled=false", "stop.sim_time_s=200",
                                                        "run.checkpoint_every_s=13"], (50.0, 100.0, 150.0)),
}


@pytest.fixture(autouse=True)
def _private_key(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SIMFL_CHECKPOINT_KEY", raising=False)


@pytest.mark.parametrize("name", list(CASES))
def test_paused_and_resumed_runs_equal_the_uninterrupted_run(name, tmp_path):
    path, overrides, pauses = CASES[name]
    config = simfl.load_config(ROOT / path, overrides)
    reference = simfl.run(config, out=tmp_path / "reference", progress=False)
    out = tmp_path / "paused"
    for i, pause in enumerate(pauses):
        part = simfl.run(config, out=out, overwrite=True, resume=i > 0, progress=False, pause_at_s=pause)
        manifest = read_manifest(out)
        assert part.status == "paused" and manifest["status"] == "paused"
        assert manifest["paused_at_s"] == pause and (out / CHECKPOINT).is_file()
        # what happened up to the pause, and nothing after it
        expected = reference.evals[reference.evals.sim_time_s <= pause].reset_index(drop=True)
        pd.testing.assert_frame_equal(part.evals.reset_index(drop=True), expected, check_exact=True)
        assert (part.aggregations.sim_time_s <= pause).all()
        assert part.aggregations.server_version.tolist() == \
            reference.aggregations.server_version[reference.aggregations.sim_time_s <= pause].tolist()
    final = simfl.run(config, out=out, overwrite=True, resume=True, progress=False)
    assert final.status == "complete" and not (out / CHECKPOINT).exists()
    assert "paused_at_s" not in read_manifest(out)
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(final, table), getattr(reference, table), check_exact=True)
    if reference.final_params is not None:
        np.testing.assert_array_equal(final.final_params, reference.final_params)


def test_a_pause_after_the_end_changes_nothing(tmp_path):
    config = simfl.load_config(ROOT / "configs/flagship.yaml", ["train.enabled=false", "stop.sim_time_s=20"])
    reference = simfl.run(config, progress=False)
    late = simfl.run(config, out=tmp_path / "late", progress=False, pause_at_s=25.0)
    assert late.status == "complete" and not (tmp_path / "late" / CHECKPOINT).exists()
    pd.testing.assert_frame_equal(late.client_updates, reference.client_updates, check_exact=True)


def test_pausing_needs_a_run_directory():
    config = simfl.load_config(ROOT / "configs/flagship.yaml", ["train.enabled=false", "stop.sim_time_s=20"])
    with pytest.raises(ConfigError, match="pause_at_s"):
        simfl.run(config, progress=False, pause_at_s=5.0)
