"""Successive halving stops poor settings early and changes nothing else: the settings it keeps
and the one it chooses are those computed by hand from trials run to the horizon, with paused
trials' evaluations identical to the full runs' up to the rung."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd

from simfl.sweep.tunespec import TimeToTarget
from simfl.results import read_manifest
from simfl.sweep import run_sweep
from simfl.tuning import ranking_key, score_setting, score_trial

ROOT = Path(__file__).resolve().parents[2]
LRS = [0.003, 0.01, 0.05, 0.3]


def _sweep(path: Path, halving: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "sweep.yaml").write_text(textwrap.dedent(f"""\
        base: {ROOT / 'configs/flagship.yaml'}
        set: {{data.num_clients: 8, data.validation_fraction: 0.2, algorithm.fedasync.concurrency: 3,
               stop.sim_time_s: 24}}
        grid: {{algorithm.type: [fedasync]}}
        seeds: 1
        tune:
          seeds: 2
          criterion: {{type: time_to_target, target: 0.6}}
          space: {{fedasync: {{train.lr: {LRS}}}}}
          {halving}
        """))
    return path / "sweep.yaml"


def _by_hand(full: pd.DataFrame, trial_dirs: Path, rungs: list[float], eta: int) -> dict:
    """Synchronous successive halving computed from trials that ran to the horizon."""
    criterion = TimeToTarget(target=0.6)
    alive = sorted(full.setting_index.unique())
    stopped, last = {}, {}
    for k, rung in enumerate(rungs):
        scores = {}
        for index in alive:
            trials = []
            for run_id in full[full.setting_index == index].run_id:
                evals = pd.read_parquet(trial_dirs / run_id / "evals.parquet")
                trials.append(score_trial(evals, read_manifest(trial_dirs / run_id), criterion, rung))
            scores[index] = score_setting(trials, criterion)
            last[index] = (rung, scores[index].criterion)
        ranked = sorted(alive, key=lambda i: ranking_key(scores[i], i, criterion))
        keep = ranked if k == len(rungs) - 1 else ranked[: max(1, len(ranked) // eta)]
        stopped.update({i: rung for i in ranked[len(keep):]})
        alive = keep
        if len(keep) == 1:
            break
    return {"chosen": alive[0], "stopped": stopped, "last": last}


def test_halving_keeps_and_chooses_what_the_full_trials_say(tmp_path):
    full = run_sweep(_sweep(tmp_path / "full", ""), out=tmp_path / "full" / "out", workers=1, progress=False)
    halved = run_sweep(_sweep(tmp_path / "sh", "halving: {min_s: 6, eta: 2}"), out=tmp_path / "sh" / "out",
                       workers=1, progress=False)
    table_full = pd.read_parquet(tmp_path / "full" / "out" / "tuning.parquet")
    table_sh = pd.read_parquet(tmp_path / "sh" / "out" / "tuning.parquet")
    assert set(table_full.run_id) == set(table_sh.run_id)  # the same trials (halving is not part of a run)
    expected = _by_hand(table_full, tmp_path / "full" / "out" / "tuning", [6.0, 12.0, 24.0], eta=2)
    chosen = table_sh[table_sh.chosen].setting_index.unique().tolist()
    assert chosen == [expected["chosen"]]
    for index, group in table_sh.groupby("setting_index"):
        rung, criterion = expected["last"][index]
        assert (group.rung_s == rung).all() and (group.criterion == criterion).all()
        assert group.stopped_early.all() == (index in expected["stopped"])
        for run_id in group.run_id:  # a paused trial's evaluations are the full trial's, up to where it stopped
            paused = pd.read_parquet(tmp_path / "sh" / "out" / "tuning" / run_id / "evals.parquet")
            whole = pd.read_parquet(tmp_path / "full" / "out" / "tuning" / run_id / "evals.parquet")
            pd.testing.assert_frame_equal(paused, whole[whole.sim_time_s <= paused.sim_time_s.max()], check_exact=True)
    # stopping early saved simulated time: the first rung's losers never ran past it
    reached = table_sh.reached_s.fillna(24.0)
    assert reached.sum() < 24.0 * len(table_sh) and (reached[table_sh.stopped_early & (table_sh.rung_s == 6.0)] == 6.0).all()
    # the evaluation run uses the chosen learning rate
    lr = LRS[expected["chosen"]]
    assert (halved.summary["tuned:train.lr"] == lr).all()
    assert (full.summary["tuned:train.lr"] == LRS[table_full[table_full.chosen].setting_index.iloc[0]]).all()
