"""Running the contests: rung by rung, every surviving setting's trials, then the choice.

At each rung time every contest with more than one setting left runs those settings' trials up to
the rung (a trial not yet there resumes from its checkpoint, paused at the rung unless the rung is
the horizon); the settings are scored (:mod:`simfl.tuning.criteria`) and each contest keeps its
best ``max(1, n // eta)``; a contest with one setting left has chosen it. The trials of one rung,
across every contest, form one batch for the workers. Everything is derived from the trial
directories (``DIR/tuning/<run_id>/``), so an interrupted sweep resumes where it stopped and a
rerun computes nothing twice; the choice depends only on the trials' tables, never on the order
or the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from simfl.config.load import dump_config
from simfl.sweep.tunespec import TuneSpec
from simfl.errors import SimflError
from simfl.identity.fingerprint import FileFingerprints, stale_reason
from simfl.results.rundir import read_manifest, read_parquet_file
from simfl.tuning.criteria import SettingScore, TrialScore, ranking_key, score_setting, score_trial
from simfl.tuning.plan import Contest, Trial
from simfl.tuning.space import Setting
from simfl.tuning.table import write_tuning_table
from simfl.sweep.workers import Job, Workers

__all__ = ["TuningOutcome", "run_tuning", "TUNING_DIR"]

#: Folder of a sweep directory holding the trials, one run directory each.
TUNING_DIR = "tuning"
_FINAL = ("complete", "diverged", "failed")


@dataclass
class Standing:
    """Where one setting of one contest stands: its last rung, scores, and whether it was stopped."""

    rung_s: float | None = None
    score: SettingScore | None = None
    trials: list[TrialScore] = field(default_factory=list)
    stopped_at_s: float | None = None
    chosen: bool = False


@dataclass
class TuningOutcome:
    """The chosen setting of every contest (None: its tuning failed, with the reason in ``errors``)."""

    choices: dict[tuple, Setting | None]
    errors: dict[tuple, str]
    table: pd.DataFrame
    ran: int = 0  #: trial runs computed by this invocation (a paused trial resumed counts again)


def _trial_state(manifest: dict[str, Any] | None) -> tuple[str | None, float | None]:
    """A trial's status and, when paused, the time it reached, from its manifest (None: not started)."""
    if manifest is None:
        return None, None
    return manifest.get("status"), manifest.get("paused_at_s")


def _needs_run(run_dir: Path, rung_s: float, fingerprints: dict[str, Any] | None = None) -> bool:
    """True unless the trial already reached ``rung_s`` (or ended for good) with the user files
    ``fingerprints`` (a trial whose files changed since runs again from the start)."""
    manifest = read_manifest(run_dir)
    status, paused_at = _trial_state(manifest)
    if status is not None and stale_reason(manifest, fingerprints) is not None:
        return True
    if status in _FINAL:
        return False
    return not (status == "paused" and paused_at is not None and paused_at >= rung_s)


def _score(run_dir: Path, tune: TuneSpec, rung_s: float) -> tuple[TrialScore, str | None]:
    """A trial's score at ``rung_s`` from its directory, and its error if it failed."""
    manifest = read_manifest(run_dir)
    if manifest is None or manifest.get("status") == "failed":
        return score_trial(None, manifest, tune.criterion, rung_s), (manifest or {}).get("error") or "did not run"
    try:
        evals = read_parquet_file(run_dir / "evals.parquet", required=("sim_time_s", "validation_accuracy"))
    except SimflError as exc:
        return score_trial(None, None, tune.criterion, rung_s), str(exc)
    return score_trial(evals, manifest, tune.criterion, rung_s), None


class _Tuner:
    """The state of one tuning pass over every contest (see the module docstring)."""

    def __init__(self, contests: list[Contest], tune: TuneSpec, horizon: float, out: Path, name: str,
                 by: str, progress: bool | None) -> None:
        self.contests = [c for c in contests if c.tuned]
        self.tune, self.horizon, self.out, self.name, self.by, self.progress = tune, horizon, out, name, by, progress
        self.alive = {c.key: [s.index for s in c.settings] for c in self.contests}
        self.standing = {(c.key, s.index): Standing() for c in self.contests for s in c.settings}
        self.choices: dict[tuple, Setting | None] = {c.key: c.settings[0] for c in contests if not c.tuned}
        self.errors: dict[tuple, str] = {}
        self.trial_errors: dict[str, str] = {}
        self.ran = 0
        self.files = FileFingerprints()  # the trials' user files, each hashed once

    def trial_dir(self, trial: Trial) -> Path:
        return self.out / TUNING_DIR / trial.run_id

    def run(self, workers: Workers) -> TuningOutcome:
        rungs = self.tune.rungs(self.horizon)
        try:
            for k, rung in enumerate(rungs):
                open_contests = [c for c in self.contests if c.key not in self.choices]
                if not open_contests:
                    break
                self._run_rung(open_contests, k, rungs, workers)
                for contest in open_contests:
                    self._judge(contest, rung, last=k == len(rungs) - 1)
        finally:
            table = write_tuning_table(self.out, self.rows())
        return TuningOutcome(self.choices, self.errors, table, self.ran)

    def _run_rung(self, contests: list[Contest], k: int, rungs: list[float], workers: Workers) -> None:
        rung = rungs[k]
        pause = None if rung >= self.horizon else rung
        jobs = [Job(dump_config(trial.config), str(self.trial_dir(trial)), trial.config.search_path, (),
                    None, pause)
                for contest in contests for index in self.alive[contest.key] for trial in contest.trials[index]
                if _needs_run(self.trial_dir(trial), rung, self.files(trial.config))]
        if not jobs:
            return
        self.ran += len(jobs)
        desc = f"{self.name}: tuning, rung {k + 1}/{len(rungs)} ({rung:g} s)"
        bar = tqdm(total=len(jobs), unit="trial", desc=desc, disable=None if self.progress is None else not self.progress)

        def on_done(job: Job, row: dict[str, Any]) -> None:
            if row.get("error"):
                self.trial_errors[Path(job.run_dir).name] = str(row["error"])

        try:
            workers.run(jobs, on_done, bar)
        finally:
            bar.close()

    def _judge(self, contest: Contest, rung: float, last: bool) -> None:
        """Score the contest's settings at ``rung`` and keep the best (choose at the end)."""
        alive = self.alive[contest.key]
        for index in alive:
            scored = [_score(self.trial_dir(t), self.tune, rung) for t in contest.trials[index]]
            for trial, (_, error) in zip(contest.trials[index], scored):
                if error is not None:
                    self.trial_errors.setdefault(trial.run_id, error)
            trials = [s for s, _ in scored]
            self.standing[(contest.key, index)] = Standing(rung, score_setting(trials, self.tune.criterion), trials)
        ranked = sorted(alive, key=lambda i: ranking_key(self.standing[(contest.key, i)].score, i, self.tune.criterion))
        keep = ranked if last else ranked[: max(1, len(ranked) // self.tune.halving.eta)]
        for index in ranked[len(keep):]:
            self.standing[(contest.key, index)].stopped_at_s = rung
        self.alive[contest.key] = keep
        if last or len(keep) == 1:
            self._choose(contest, keep[0])

    def _choose(self, contest: Contest, index: int) -> None:
        standing = self.standing[(contest.key, index)]
        if standing.score is None or standing.score.failed:
            first = next((self.trial_errors.get(t.run_id) for t in contest.trials[index]
                          if t.run_id in self.trial_errors), "no trial finished")
            self.choices[contest.key] = None
            self.errors[contest.key] = f"every setting failed (e.g. {first})"
            return
        standing.chosen = True
        self.choices[contest.key] = contest.settings[index]

    def rows(self) -> list[dict[str, Any]]:
        """One row per trial started (see :func:`simfl.tuning.table.write_tuning_table`)."""
        rows = []
        for contest in self.contests:
            for setting in contest.settings:
                standing = self.standing[(contest.key, setting.index)]
                for i, trial in enumerate(contest.trials[setting.index]):
                    status, paused_at = _trial_state(read_manifest(self.trial_dir(trial)))
                    if status is None and standing.rung_s is None:
                        continue  # never started
                    score = standing.trials[i] if i < len(standing.trials) else None
                    rows.append({
                        **contest.cell, self.by: contest.point[self.by], "setting_index": setting.index,
                        "setting": setting.text, **{f"tuned:{k}": v for k, v in setting.values.items()},
                        "seed": trial.seed, "run_id": trial.run_id, "status": status,
                        "reached_s": paused_at if status == "paused" else None,
                        "rung_s": standing.rung_s,
                        "time_to_target_s": score.time_s if score is not None else None,
                        "validation_accuracy": score.accuracy if score is not None else None,
                        "criterion": standing.score.criterion if standing.score is not None else None,
                        "stopped_early": standing.stopped_at_s is not None,
                        "chosen": standing.chosen,
                        "error": self.trial_errors.get(trial.run_id),
                    })
        return rows


def run_tuning(contests: list[Contest], tune: TuneSpec, horizon: float, out: Path, workers: Workers, name: str,
               by: str, progress: bool | None = None) -> TuningOutcome:
    """Tune every contest (see the module docstring); ``tuning.parquet`` is written even when
    interrupted, with what is known so far.

    Raises:
        KeyboardInterrupt, SweepIncomplete: as :meth:`Workers.run`; rerunning resumes.
    """
    return _Tuner(contests, tune, horizon, out, name, by, progress).run(workers)
