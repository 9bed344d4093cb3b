"""A sweep streams every run, in its worker process, to an offline W&B folder and to a callback named in YAML."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

import simfl
from simfl.sweep import run_sweep
from tests.tracking.helpers import tracked_sweep
from tests.tracking.wandb_files import offline_runs

#: The callback module beside the sweep file: one JSONL file per run; it marks every import.
REC = '''
import json, os
from pathlib import Path

from pydantic import Field

from simfl.tracking import Callback, CallbackParams

with open(Path(__file__).with_suffix(".imported"), "a") as f:
    f.write(f"{os.getpid()}\\n")


class Rec(Callback):
    class Params(CallbackParams):
        folder: str = Field(description="one JSONL file per run goes here")

    def on_run_start(self, info):
        Path(self.params.folder).mkdir(parents=True, exist_ok=True)
        self.file = open(Path(self.params.folder) / f"{info.run_id}.jsonl", "w")
        self.write(hook="start", name=info.name, tags=dict(info.tags), pid=os.getpid(),
                   group=info.config.tracking.wandb.group)

    def on_evaluation(self, row, updates):
        self.write(hook="evaluation", sim_time_s=row["sim_time_s"], client_updates=row["client_updates"])

    def on_run_end(self, status, manifest):
        self.write(hook="end", status=status)
        self.file.close()

    def write(self, **record):
        self.file.write(json.dumps(record) + "\\n")
'''



def _sweep(tmp_path):
    (tmp_path / "rec_sweep.py").write_text(REC)
    path = tmp_path / "sweep.yaml"
    path.write_text(tracked_sweep(f"{{wandb: {{mode: offline, dir: {tmp_path / 'wb'}, project: sweeps}}, "
                                  f"callbacks: [{{type: rec_sweep:Rec, folder: {tmp_path / 'jsonl'}}}]}}"))
    return path


def _check_every_run_was_streamed(tmp_path, outcome, sweep_name: str, in_workers: bool = True) -> None:
    df = outcome.summary
    assert len(df) == 4 and (df.status == "complete").all()
    runs = offline_runs(tmp_path / "wb", count=4)
    assert [r.name for r in runs] == sorted(df.run_id)  # every run, once, named by its run id
    for row, run in zip(df.sort_values("run_id").to_dict("records"), runs):
        evals = pd.read_parquet(outcome.path / "runs" / row["run_id"] / "evals.parquet")
        tags = {"algorithm.concurrency": row["algorithm.concurrency"], "label": row["label"],
                "algorithm.type": row["algorithm.type"], **({"algorithm.buffer_size": 2} if row["label"] == "buff"
                                                             else {}), "seed": 0}
        assert run.group == sweep_name and run.project == "sweeps" and run.exit_code == 0
        assert sorted(run.tags) == sorted(f"{k}={v}" for k, v in tags.items())
        assert run.config["simfl"]["run_id"] == row["run_id"] and run.config["simfl"]["tags"] == tags
        assert run.series("evals/sim_time_s") == evals.sim_time_s.tolist() == [0.0, 2.0, 4.0, 6.0]
        assert run.series("evals/client_updates") == evals.client_updates.astype(float).tolist()
        lines = [json.loads(x) for x in (tmp_path / "jsonl" / f"{row['run_id']}.jsonl").read_text().splitlines()]
        assert [x["hook"] for x in lines] == ["start", *["evaluation"] * 4, "end"]
        assert lines[0]["tags"] == {k: v for k, v in tags.items() if k != "seed"}  # RunInfo.tags: the swept keys
        assert lines[0]["name"] == row["run_id"] and lines[0]["group"] == sweep_name
        assert (lines[0]["pid"] != os.getpid()) == in_workers  # built and told inside the process that ran it
        assert [x["client_updates"] for x in lines[1:-1]] == evals.client_updates.tolist()
        assert lines[-1]["status"] == "complete"
    assert sorted(p.stem for p in (tmp_path / "jsonl").glob("*.jsonl")) == sorted(df.run_id)


def test_a_two_worker_sweep_streams_every_run_to_wandb_and_a_named_callback(tmp_path, offline_wandb):
    outcome = run_sweep(_sweep(tmp_path), out=tmp_path / "study", workers=2, progress=False)
    _check_every_run_was_streamed(tmp_path, outcome, "study")
    # the callbacks were built in the workers: the module was imported there (and here, to validate the sweep)
    pids = set((tmp_path / "rec_sweep.imported").read_text().split())
    assert str(os.getpid()) in pids and len(pids) >= 2
    # reading the sweep back never imports the callback module
    (tmp_path / "rec_sweep.imported").unlink()
    code = ("import sys, simfl; from simfl.cli import main; simfl.load_run(sys.argv[1] + '/runs/' + sys.argv[2]); "
            "assert main(['report', sys.argv[1]]) == 0; assert 'rec_sweep' not in sys.modules")
    subprocess.run([sys.executable, "-c", code, str(outcome.path), outcome.summary.run_id[0]], check=True,
                   capture_output=True, cwd=tmp_path)
    assert not (tmp_path / "rec_sweep.imported").exists()


def test_a_given_group_is_kept(tmp_path, offline_wandb):
    path = _sweep(tmp_path)
    path.write_text(path.read_text().replace("project: sweeps}", "project: sweeps, group: mine}"))
    outcome = run_sweep(path, out=tmp_path / "study", workers=1, progress=False)
    _check_every_run_was_streamed(tmp_path, outcome, "mine", in_workers=False)


def test_a_dask_sweep_streams_every_run_too(tmp_path, offline_wandb):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        outcome = run_sweep(_sweep(tmp_path), out=tmp_path / "dask", scheduler=cluster.scheduler_address,
                            progress=False)
    _check_every_run_was_streamed(tmp_path, outcome, "dask")


def test_the_sweep_group_leaves_run_ids_alone(tmp_path):
    from simfl.sweep import plan_sweep
    from simfl.sweep.spec import run_id_of
    from simfl.tracking import with_sweep_group

    _, _, runs = plan_sweep(_sweep(tmp_path))
    for planned in runs:
        grouped = with_sweep_group(planned.config, "study")
        assert grouped.tracking.wandb.group == "study" and planned.config.tracking.wandb.group is None
        assert run_id_of(grouped) == planned.run_id and grouped.search_path == planned.config.search_path
    plain = simfl.config_from_dict({"seed": 1})
    assert with_sweep_group(plain, "study") is plain
