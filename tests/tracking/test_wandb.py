"""``tracking: {wandb: {...}}``: offline W&B runs, read back, hold the run's tables against simulated time."""

from __future__ import annotations

import math

import pytest
import yaml

import simfl
from simfl.sweep.spec import run_id_of
from simfl.tracking.wandb_writer import MAX_TAG, X_AXIS, wandb_tags
from tests.conftest import make_config
from tests.tracking.helpers import DriftTrainer, expected_counts
from tests.tracking.test_tensorboard import TRAINED
from tests.tracking.wandb_files import offline_runs

WORLD = {"data": {"num_clients": 6}, "stop": {"sim_time_s": 6.0}, "eval": {"every_s": 1.5},
         "train": {"enabled": True}, "algorithm": {"type": "fedasync", "concurrency": 3}}


def test_an_offline_run_holds_the_tables_against_simulated_time(tmp_path, offline_wandb):
    wb = tmp_path / "wb"
    config = make_config(**TRAINED, name="flagship-study", tracking={"wandb": {"project": "stragglers", "dir": str(wb)}})
    result = simfl.run(config, out=tmp_path / "runs" / "flagship", progress=False)
    (run,) = offline_runs(wb)
    evals = result.evals
    n = len(evals)
    assert n == 9 and evals.test_accuracy.notna().all()
    assert (run.name, run.project, run.group) == ("flagship", "stragglers", "")  # named by its run directory
    assert run.tags == ["seed=1"]
    # the config as config.yaml holds it, and simfl's own keys
    saved = yaml.safe_load((tmp_path / "runs" / "flagship" / "config.yaml").read_text())
    assert {k: v for k, v in run.config.items() if k not in ("_wandb", "simfl")} == saved
    assert run.config["simfl"] == {"run_id": run_id_of(config), "name": "flagship-study", "tags": {"seed": 1}}
    # history: step = evaluation index; every value a double, read back exactly
    assert run.series("_step") == list(range(n))
    for column in ("test_accuracy", "test_loss", "sim_time_s", "server_version", "client_updates"):
        assert run.series(f"evals/{column}") == evals[column].astype(float).tolist()
    want = [expected_counts(result.client_updates, result.aggregations, row) for row in evals.to_dict("records")]
    assert run.series("updates/applied") == [w["applied"] for w in want]
    assert run.series("updates/lost_offline") == [w["lost_offline"] for w in want]
    assert run.series("updates/in_flight") == [w["in_flight"] for w in want]
    assert want[-1]["lost_offline"] > 0
    # the x-axis of every metric is simulated time
    assert run.step_metrics == {"*": X_AXIS}
    # summary: the final evaluation, and how the run ended
    last = evals.iloc[-1]
    assert run.summary["evals/test_accuracy"] == last.test_accuracy
    assert run.summary["evals/test_loss"] == last.test_loss
    assert run.summary["simfl/status"] == "complete"
    assert run.summary["simfl/stop_reason"] == result.manifest["stop_reason"]
    assert run.summary["simfl/sim_end_s"] == result.manifest["sim_end_s"]
    assert run.exit_code == 0
    assert "tracking_errors" not in result.manifest


def test_tracking_does_not_change_the_results(tmp_path, offline_wandb):
    tracked = simfl.run(make_config(**TRAINED, tracking={"wandb": {"dir": str(tmp_path)}}), progress=False)
    plain = simfl.run(make_config(**TRAINED), progress=False)
    for table in ("client_updates", "aggregations", "evals"):
        assert tracked.table(table).equals(plain.table(table))


def test_a_dry_run_logs_counts_but_no_accuracy(tmp_path, offline_wandb):
    result = simfl.run(make_config(stop={"sim_time_s": 6.0}, eval={"every_s": 2.0},
                                   tracking={"wandb": {"dir": str(tmp_path)}}), progress=False)
    (run,) = offline_runs(tmp_path)
    assert run.name == run_id_of(result.config)  # no run directory: named by its run id
    assert run.series("evals/sim_time_s") == result.evals.sim_time_s.tolist() == [0.0, 2.0, 4.0, 6.0]
    assert all("evals/test_accuracy" not in row and "evals/test_loss" not in row for row in run.history)
    assert math.isnan(result.evals.test_accuracy.iloc[0])


def test_a_failed_run_ends_with_exit_code_1(tmp_path, offline_wandb):
    class Boom(DriftTrainer):
        def evaluate(self, params, sim_time_s):
            if sim_time_s > 3:
                raise ArithmeticError("nan weights")
            return super().evaluate(params, sim_time_s)

    config = make_config(**WORLD, tracking={"wandb": {"dir": str(tmp_path), "group": "g1"}})
    with pytest.raises(ArithmeticError):
        simfl.run(config, trainer=Boom(), progress=False)
    (run,) = offline_runs(tmp_path)
    assert run.exit_code == 1 and run.summary["simfl/status"] == "failed" and run.group == "g1"
    assert run.series("evals/sim_time_s") == [0.0, 1.5, 3.0]


def test_mode_disabled_writes_nothing(tmp_path, offline_wandb):
    result = simfl.run(make_config(**WORLD, tracking={"wandb": {"dir": str(tmp_path / "wb"), "mode": "disabled"}}),
                       trainer=DriftTrainer(), progress=False)
    assert result.status == "complete" and "tracking_errors" not in result.manifest
    assert not (tmp_path / "wb" / "wandb").exists()


def test_tags_are_key_value_and_at_most_64_characters():
    long = "x" * 70
    assert wandb_tags({"algorithm.type": "fedbuff", "seed": 3, "label": long}) == [
        "algorithm.type=fedbuff", "seed=3", ("label=" + long)[: MAX_TAG - 1] + "…"]
    assert all(len(t) == MAX_TAG for t in wandb_tags({"k": "v" * 100}))


@pytest.mark.parametrize("wandb, key", [
    ({"mode": "onlin"}, "tracking.wandb.mode"),
    ({"project": ""}, "tracking.wandb.project"),
    ({"entity": "me"}, "tracking.wandb.entity"),
])
def test_bad_wandb_keys_are_named(wandb, key):
    with pytest.raises(simfl.ConfigError, match=f"^{key}"):
        simfl.config_from_dict({"tracking": {"wandb": wandb}})
