"""Accuracy targets chosen after a sweep ran: time to each, recomputed from the stored evaluations.

A sweep's ``summary.parquet`` holds ``time_to_{t}_s`` for the targets of its sweep file only.
Another target, or another target rule (:mod:`simfl.results.targetrule`: sustained or first
crossing), needs no rerun: each run's ``evals.parquet`` holds every evaluation (test accuracy, or
validation accuracy for a run evaluated on its validation rows), and the time to target is read
from them by :func:`~simfl.results.summary.target_times`, the function the sweep itself uses, so
the recomputed times equal, exactly, those of the same sweep run with those targets and that rule
from the start. Without a rule, the sweep's own is kept (its manifest's ``target_rule``; ``first``
for a sweep directory written before simfl had target rules). Relative targets
(:mod:`simfl.results.relative`: a fraction of the best accuracy of each run's world) are
recomputed the same way.
The sweep's rules hold: a ``diverged`` run never reaches a target (NaN, whatever its evaluations
before the divergence say), and a run that did not finish (``failed``, ``interrupted``,
``pending``) has no time to target (NaN; its evaluations are not read, and the statistics of
:mod:`simfl.results.time_to_target` leave it out).

Reading is data only (the summary and ``evals`` parquet tables): nothing named in a run's config
or manifest is imported, and nothing is written.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import pandas as pd

from simfl.errors import SimflError
from simfl.results.rundir import read_parquet_file
from simfl.results.relative import RelativeTarget, absolute_targets
from simfl.results.summary import accuracy_column, target_column, target_values, time_to_accuracy
from simfl.results.targetrule import TargetRule, recorded_target_rule, target_rule_sentence

__all__ = ["check_targets", "summary_with_targets", "sweep_target_rule", "retargeted"]

#: The summary status of the runs whose evaluations are read (a ``diverged`` run's times are NaN).
_READ_STATUS = "complete"


def check_targets(targets: Iterable[float], name: str = "targets") -> tuple[float, ...]:
    """The accuracy targets as floats in their order, repeats dropped (targets that name the same
    ``time_to_{t}_s`` column are one); a :class:`~simfl.results.relative.RelativeTarget` stays one.

    Args:
        targets: test accuracies in (0, 1].
        name: what the error messages call them (``--targets`` on the command line).

    Raises:
        SimflError: one line naming ``name``: no target, or one that is not a number in (0, 1].
    """
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Iterable):
        raise SimflError(f"{name} {targets!r}: expected a list of accuracies in (0, 1], e.g. [0.5, 0.65]")
    out: dict[str, float] = {}
    for t in targets:
        try:
            value = float(t)
        except (TypeError, ValueError):
            value = math.nan
        if isinstance(t, bool) or not 0 < value <= 1:
            raise SimflError(f"{name} {t!r}: an accuracy target must be a number in (0, 1]")
        value = RelativeTarget(value) if isinstance(t, RelativeTarget) else value
        out.setdefault(target_column(value), value)
    if not out:
        raise SimflError(f"{name}: give at least one accuracy target in (0, 1]")
    return tuple(out.values())


def sweep_target_rule(path: str | Path) -> TargetRule:
    """The target rule a sweep directory's summary was computed with (its manifest's ``target_rule``;
    ``first`` when it records none: written before simfl had target rules)."""
    from simfl.results.sweepdir import read_sweep_manifest

    return recorded_target_rule(read_sweep_manifest(path))


def summary_with_targets(
    path: str | Path, targets: Iterable[float], summary: pd.DataFrame | None = None, rule: TargetRule | None = None,
    by: str = "algorithm.type",
) -> pd.DataFrame:
    """A sweep's summary with time to each of ``targets`` recomputed from its runs' evaluations.

    The summary's ``time_to_{t}_s`` columns are replaced by one per given target, in the given
    order, where the old ones stood; every other column is kept. Nothing in the sweep directory
    changes. ``report``, ``survival_table``, ``plot_time_to_target`` and ``sweep_figures`` then
    take the new targets as they would the sweep file's::

        summary = summary_with_targets("sweeps/speed", [0.5, 0.65])
        survival_table(with_censoring_times(summary), 0.65)

    Args:
        path: the sweep directory (``summary.parquet`` and ``runs/<run_id>/evals.parquet``).
        targets: test accuracies in (0, 1], or :class:`~simfl.results.relative.RelativeTarget`
            fractions of the best accuracy of each run's world (columns ``time_to_rel{f}_s``).
        summary: the sweep's summary already read (e.g. ``load_sweep_tables(path)["summary"]``),
            or a subset of its rows; default: read from ``path``.
        rule: when a run counts as having reached a target (default: the sweep's own,
            :func:`sweep_target_rule`).
        by: the compared key; relative targets are relative to the best of the runs that differ
            only in it (and share the seed).

    Returns:
        The summary with the new ``time_to_{t}_s`` columns (NaN: not reached, diverged, or the
        run did not finish).

    Raises:
        SimflError: one line: a bad target, no ``summary.parquet``, or a finished run whose
            ``evals.parquet`` is missing or unreadable (naming the run).
    """
    targets = check_targets(targets)
    p = Path(path)
    rule = sweep_target_rule(p) if rule is None else rule
    if summary is None:
        if not (p / "summary.parquet").is_file():
            raise SimflError(f"{p}: no summary.parquet (not a sweep directory)")
        summary = read_parquet_file(p / "summary.parquet", required=("run_id", "status"))
    absolute = absolute_targets(summary, targets, by).to_dict("records")
    times = pd.DataFrame([_run_times(p, run_id, status, goal, rule)
                          for run_id, status, goal in zip(summary["run_id"], summary["status"], absolute)],
                         index=summary.index, columns=[target_column(t) for t in targets], dtype=float)
    old = [target_column(t) for t in target_values(summary)]
    kept = summary.drop(columns=old)
    # where the sweep writes them: where the old ones began (nothing old before), else before final_accuracy
    if old:
        at = list(summary.columns).index(old[0])
    else:
        at = kept.columns.get_loc("final_accuracy") if "final_accuracy" in kept.columns else kept.shape[1]
    return pd.concat([kept.iloc[:, :at], times, kept.iloc[:, at:]], axis=1)


def _run_times(sweep: Path, run_id: str, status: str, goal: dict[str, float],
               rule: TargetRule) -> dict[str, float]:
    """One run's times to its absolute targets ``goal`` (column -> accuracy; NaN: none) under ``rule``,
    read from its ``evals.parquet`` if the run is complete."""
    if status != _READ_STATUS:
        # diverged: never reaches a target (as summarize_tables says); failed, interrupted, pending: no times
        return dict.fromkeys(goal, math.nan)
    f = sweep / "runs" / str(run_id) / "evals.parquet"
    try:
        evals = read_parquet_file(f, required=("sim_time_s",))
        if accuracy_column(evals) not in evals.columns:
            raise SimflError(f"{f}: not a table simfl wrote (no column {accuracy_column(evals)})")
    except SimflError as exc:
        raise SimflError(f"run {run_id}: cannot recompute its time to target: {exc}") from None
    return {col: time_to_accuracy(evals, t, rule) if math.isfinite(t) else math.nan for col, t in goal.items()}


def retargeted(path: str | Path, summary: pd.DataFrame, targets: Iterable[float] | None = None,
               rule: TargetRule | None = None, relative: Iterable[float] | None = None,
               by: str = "algorithm.type") -> tuple[pd.DataFrame, TargetRule, list[str]]:
    """What ``simfl report`` and ``simfl plot`` read from a sweep: its summary as written when no
    ``targets``, ``rule`` or ``relative`` targets are given (nothing recomputed), else
    :func:`summary_with_targets` with them (the sweep's targets when none are given, its rule when
    no rule is; ``relative``: fractions of each world's best accuracy, added to the targets).

    Returns:
        The summary, the rule its times follow, and lines for a report: what was recomputed, and
        :func:`~simfl.results.targetrule.target_rule_sentence` of the rule.
    """
    from simfl.results.sweepdir import read_sweep_manifest

    manifest = read_sweep_manifest(path)
    recorded = recorded_target_rule(manifest)
    lines, what = [], []
    if targets is not None:
        targets = check_targets(targets, "--targets")
        what.append(f"targets {', '.join(f'{t:g}' for t in targets)}")
    if relative is not None:
        relative = check_targets([RelativeTarget(f) for f in relative], "--relative-targets")
        what.append(f"relative targets {', '.join(f'{t:g}' for t in relative)} (fractions of the best accuracy "
                    f"a complete run reached in each world: same seed, other {by})")
    if rule is not None:
        what.append(f"target rule {rule.label}")
    again = [*(target_values(summary) if targets is None else targets), *(relative or ())]
    if what and again:  # (a sweep with no target has no time to recompute)
        summary = summary_with_targets(path, again, summary, recorded if rule is None else rule, by)
        lines.append(f"{' and '.join(what)}: times recomputed from the runs' evaluations")
    sentence = target_rule_sentence(recorded if rule is None else rule)
    if rule is None and "target_rule" not in ((manifest or {}).get("sweep") or {}):
        sentence += " (the sweep records no rule: written before simfl had target rules)"
    return summary, recorded if rule is None else rule, [*lines, sentence]
