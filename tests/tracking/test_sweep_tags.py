"""Sweeps: each run is tracked under its run id and tagged with its swept keys; tracking never changes ids."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import yaml

import simfl
from simfl.config.load import dump_config
from simfl.sweep.spec import run_id_of
from simfl.errors import ConfigError
from simfl.sweep import plan_sweep, run_sweep
from tests.tracking.helpers import tracked_sweep
from tests.tracking.test_tensorboard import hparams_of, read_events, text_of



def test_sweep_runs_are_named_by_run_id_and_tagged_with_their_swept_keys(tmp_path):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(tracked_sweep(f"{{tensorboard: {tmp_path / 'tb'}}}"))
    outcome = run_sweep(sweep, out=tmp_path / "out", workers=1, progress=False)
    df = outcome.summary
    assert len(df) == 4 and (df.status == "complete").all()
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == sorted(df.run_id)
    for row in df.to_dict("records"):
        acc = read_events(tmp_path / "tb" / row["run_id"])
        tags = {"algorithm.concurrency": float(row["algorithm.concurrency"]), "label": row["label"],
                "algorithm.type": row["algorithm.type"], "seed": 0.0}
        if row["label"] == "buff":
            tags["algorithm.buffer_size"] = 2.0
        assert hparams_of(acc) == tags  # TensorBoard's hparams hold numbers as doubles
        # no experiment summary: TensorBoard then lists every run's keys (variants set different ones)
        assert "_hparams_/experiment" not in acc.PluginTagToContent("hparams")
        text = text_of(acc, "run/tags")
        assert row["run_id"] in text and f"| label | {row['label']} |" in text
        run = simfl.load_run(tmp_path / "out" / "runs" / row["run_id"])
        events = acc.Scalars("evals/client_updates")
        assert [e.wall_time for e in events] == run.evals.sim_time_s.tolist()
        assert [e.value for e in events] == [float(np.float32(v)) for v in run.evals.client_updates]


def test_tracking_is_not_part_of_a_run_id(tmp_path):
    with_tb = tmp_path / "a.yaml"
    with_tb.write_text(tracked_sweep(f"{{tensorboard: {tmp_path / 'tb'}}}"))
    without = tmp_path / "b.yaml"
    without.write_text(tracked_sweep("{tensorboard: null}"))
    ids = [[p.run_id for p in plan_sweep(path)[2]] for path in (with_tb, without)]
    assert ids[0] == ids[1] and len(set(ids[0])) == 4
    # the id hashes the resolved config as written without the sections that do not change results
    # (run, limits, tracking: the last ones), so ids are those of configs written before they existed
    config = simfl.config_from_dict({"seed": 2, "tracking": {"tensorboard": "x", "mlflow": {}}})
    text = dump_config(config)
    assert text.endswith("tracking:\n  tensorboard: x\n  mlflow:\n    tracking_uri: null\n    experiment: simfl\n"
                         "  wandb: null\n  callbacks: []\n  timeout_s: 30.0\n")
    before = text[: text.index("run:\n")]
    assert run_id_of(config) == hashlib.sha256(before.encode()).hexdigest()[:12]


@pytest.mark.parametrize("tracking, key", [
    ({"tensorboard": ""}, "tracking.tensorboard"),
    ({"tensorbord": "tb"}, "tracking.tensorbord"),
    ({"mlflow": {"experiment": ""}}, "tracking.mlflow.experiment"),
    ({"mlflow": {"uri": "x"}}, "tracking.mlflow.uri"),
])
def test_bad_tracking_keys_are_named(tracking, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        simfl.config_from_dict({"tracking": tracking})


def test_tracking_round_trips_through_the_run_directory(tmp_path):
    config = simfl.config_from_dict({"train": {"enabled": False}, "stop": {"sim_time_s": 2},
                                     "tracking": {"tensorboard": str(tmp_path / "tb")}})
    simfl.run(config, out=tmp_path / "run", progress=False)
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["tracking"] == {"tensorboard": str(tmp_path / "tb"), "mlflow": None, "wandb": None, "callbacks": [],
                                 "timeout_s": 30.0}
    assert simfl.load_run(tmp_path / "run").config == config
