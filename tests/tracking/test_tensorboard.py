"""``tracking: {tensorboard: DIR}``: the event files, read back, hold the run's tables against simulated time."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util

import simfl
from simfl.sweep.spec import run_id_of
from simfl.tracking.tensorboard_writer import EVENTS_PREFIX
from tests.conftest import make_config
from tests.tracking.helpers import DriftTrainer, Recorder, expected_counts

#: A small trained run (the real trainer: logreg on Synthetic) with losses and stale drops.
TRAINED = {
    "seed": 1,
    "data": {"dataset": "synthetic", "num_clients": 10},
    "train": {"enabled": True, "local_steps": 5, "batch_size": 10},
    "heterogeneity": {
        "compute": {"seconds_per_sample": 0.005, "jitter": {"dist": "exponential", "mean": 1.0}},
        "availability": {"type": "onoff", "on_s": {"dist": "exponential", "mean": 3.0}, "off_s": 1.0},
    },
    "algorithm": {"type": "fedasync", "concurrency": 5, "max_staleness": 2},
    "stop": {"sim_time_s": 12.0},
    "eval": {"every_s": 1.5},
}


def read_events(path) -> EventAccumulator:
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def hparams_of(acc: EventAccumulator) -> dict:
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    values = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    return {k: getattr(v, v.WhichOneof("kind")) for k, v in values.items()}


def text_of(acc: EventAccumulator, tag: str) -> str:
    (event,) = acc.Tensors(f"{tag}/text_summary")
    return tensor_util.make_ndarray(event.tensor_proto).item().decode()


def _f32(x) -> float:
    return float(np.float32(x))


def test_event_files_hold_the_tables_against_simulated_time(tmp_path):
    config = make_config(**TRAINED, tracking={"tensorboard": str(tmp_path / "tb")})
    result = simfl.run(config, out=tmp_path / "runs" / "flagship", progress=False)
    logdir = tmp_path / "tb" / "flagship"  # named by the run directory
    assert len(list(logdir.glob(f"{EVENTS_PREFIX}*"))) == 1
    acc = read_events(logdir)
    evals = result.evals
    n = len(evals)
    assert n == 9 and evals.test_accuracy.notna().all()  # 0, 1.5, ..., 12

    # x-axis: step = evaluation index, wall time = simulated time (a double: exact)
    for column in ("test_accuracy", "test_loss", "sim_time_s", "server_version", "client_updates"):
        events = acc.Scalars(f"evals/{column}")
        assert [e.step for e in events] == list(range(n))
        assert [e.wall_time for e in events] == evals.sim_time_s.tolist()
        assert [e.value for e in events] == [_f32(v) for v in evals[column]]  # scalars are float32

    # the counts at each evaluation are those the tables imply (FedAsync decides at arrival)
    logged = {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"] if tag.startswith("updates/")}
    want = [expected_counts(result.client_updates, result.aggregations, row) for row in evals.to_dict("records")]
    assert logged["updates/applied"] == [_f32(w["applied"]) for w in want]
    assert logged["updates/applied"] == [_f32(w["arrival_applied"]) for w in want]
    assert logged["updates/lost_offline"] == [_f32(w["lost_offline"]) for w in want]
    assert logged["updates/dropped_stale"] == [_f32(w["arrival_dropped_stale"]) for w in want]
    assert logged["updates/in_flight"] == [_f32(w["in_flight"]) for w in want]
    assert logged["updates/buffered"] == logged["updates/discarded_deadline"] == [0.0] * n
    # the mean staleness is left out while no update is applied (nan)
    staleness = [w["arrival_mean_staleness"] for w in want]
    events = acc.Scalars("updates/mean_staleness")
    assert [e.value for e in events] == [_f32(s) for s in staleness if not math.isnan(s)]
    assert [e.wall_time for e in events] == [t for t, s in zip(evals.sim_time_s, staleness) if not math.isnan(s)]
    assert logged["updates/lost_offline"][-1] > 0 and logged["updates/dropped_stale"][-1] > 0

    # the run's tags: seed and run id; its status at the end
    assert hparams_of(acc) == {"seed": 1.0}
    assert run_id_of(config) in text_of(acc, "run/tags")
    assert text_of(acc, "run/status") == "complete (sim_time_s)"


def test_tracking_does_not_change_the_results(tmp_path):
    plain = simfl.run(make_config(**TRAINED), progress=False)
    tracked = simfl.run(make_config(**TRAINED, tracking={"tensorboard": str(tmp_path / "tb")}), progress=False,
                        callbacks=[Recorder()])
    for name in ("client_updates", "aggregations", "evals", "clients"):
        pd.testing.assert_frame_equal(plain.table(name), tracked.table(name), check_exact=True)
    assert np.array_equal(plain.final_params, tracked.final_params)
    assert (tmp_path / "tb" / run_id_of(tracked.config)).is_dir()  # no run directory: named by run id


def test_relative_dir_is_relative_to_the_current_directory_and_a_rerun_replaces_its_events(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = make_config(algorithm={"type": "fedasync", "concurrency": 4}, stop={"sim_time_s": 10.0},
                         eval={"every_s": 2.0}, train={"enabled": True}, tracking={"tensorboard": "tb"})
    for _ in range(2):
        result = simfl.run(config, trainer=DriftTrainer(), out="run", overwrite=True, progress=False)
    logdir = tmp_path / "tb" / "run"
    assert len(list(logdir.glob(f"{EVENTS_PREFIX}*"))) == 1
    events = read_events(logdir).Scalars("evals/test_loss")
    assert [e.value for e in events] == [_f32(v) for v in result.evals.test_loss]


def test_a_dry_run_logs_counts_but_no_accuracy(tmp_path):
    config = make_config(stop={"sim_time_s": 10.0}, eval={"every_s": 2.0}, tracking={"tensorboard": str(tmp_path)})
    result = simfl.run(config, progress=False, out=tmp_path / "dry")
    acc = read_events(tmp_path / "dry")
    tags = acc.Tags()["scalars"]
    assert "evals/test_accuracy" not in tags and "evals/test_loss" not in tags
    assert [e.value for e in acc.Scalars("evals/client_updates")] == [_f32(v) for v in result.evals.client_updates]
