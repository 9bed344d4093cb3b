"""Scoring tuning trials on their validation evaluations, and ranking settings.

A trial is scored at a rung time ``r`` from the evaluations it recorded up to ``r`` (a trial paused
at ``r`` and one that ran on give the same score: a resumed run equals an uninterrupted one):

* its validation accuracy at ``r``: the last evaluation at or before ``r`` (0 if the trial diverged
  by ``r`` — NaN or inf in its model —, or has no evaluation);
* its time to the target under the criterion's rule (:mod:`simfl.results.targetrule`; default
  sustained: the first evaluation after which accuracy stays at or above it up to ``r``, or for
  ``window`` evaluations up to ``r``; ``first``: the first evaluation at or above it), capped at
  ``r`` (``r`` when it never got there; a trial that diverged by ``r`` never gets there, as in run
  summaries). Only evaluations up to ``r`` are read (a paused trial and one that ran on score
  the same), so a sustained time may move later at a later rung, when accuracy fell back after ``r``.

A setting's score is the mean over its tuning seeds: for ``time_to_target``, the mean of the
capped times is the restricted mean time to target within ``r`` (every trial is observed up to
``r``, so censoring happens only there and this equals the Kaplan–Meier RMST); for
``accuracy_at``, the mean accuracy at ``min(r, budget_s)``. A setting with a failed trial ranks
last. Ties go to the higher mean accuracy, then to the earlier setting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd

from simfl.sweep.tunespec import AccuracyAt, TimeToTarget
from simfl.results.targetrule import reached_index

__all__ = ["TrialScore", "SettingScore", "score_trial", "score_setting", "ranking_key"]

_ACCURACY = "validation_accuracy"


@dataclass(frozen=True)
class TrialScore:
    """One trial at one rung: its time to target (capped at the rung; NaN for accuracy_at) and
    its validation accuracy at the rung (or at the budget), or why it has none."""

    time_s: float
    accuracy: float
    failed: bool = False


@dataclass(frozen=True)
class SettingScore:
    """A setting at one rung: the criterion (mean over seeds) and the mean validation accuracy."""

    criterion: float
    accuracy: float
    failed: bool


def score_trial(evals: pd.DataFrame | None, manifest: dict[str, Any] | None,
                criterion: TimeToTarget | AccuracyAt, rung_s: float) -> TrialScore:
    """Score one trial at ``rung_s`` (see the module docstring); ``evals`` None: it failed."""
    status = (manifest or {}).get("status")
    if evals is None or status == "failed":
        return TrialScore(math.nan, math.nan, failed=True)
    until = rung_s if isinstance(criterion, TimeToTarget) else min(rung_s, criterion.budget_s)
    diverged_at = (manifest or {}).get("diverged_at_s") if status == "diverged" else None
    if diverged_at is not None and diverged_at <= until:  # as in run summaries: it never reaches a target
        return TrialScore(math.nan if isinstance(criterion, AccuracyAt) else float(rung_s), 0.0)
    seen = evals[evals.sim_time_s <= until]
    finite = seen[_ACCURACY].dropna()
    accuracy = float(finite.iloc[-1]) if len(finite) else 0.0
    if isinstance(criterion, AccuracyAt):
        return TrialScore(math.nan, accuracy)
    at = reached_index(seen[_ACCURACY], criterion.target, criterion.target_rule)
    return TrialScore(float(rung_s) if at is None else float(seen["sim_time_s"].iloc[at]), accuracy)


def score_setting(trials: Sequence[TrialScore], criterion: TimeToTarget | AccuracyAt) -> SettingScore:
    """Mean over a setting's trials (a failed trial makes the setting fail)."""
    if not trials or any(t.failed for t in trials):
        return SettingScore(math.nan, math.nan, failed=True)
    accuracy = sum(t.accuracy for t in trials) / len(trials)
    if isinstance(criterion, AccuracyAt):
        return SettingScore(accuracy, accuracy, failed=False)
    return SettingScore(sum(t.time_s for t in trials) / len(trials), accuracy, failed=False)


def ranking_key(score: SettingScore, index: int, criterion: TimeToTarget | AccuracyAt) -> tuple:
    """Sort key: best first (failed last; ties to the higher accuracy, then the earlier setting)."""
    if score.failed:
        return (1, 0.0, 0.0, index)
    primary = score.criterion if isinstance(criterion, TimeToTarget) else -score.criterion
    return (0, primary, -score.accuracy, index)
