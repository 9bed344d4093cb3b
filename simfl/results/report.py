"""``simfl report``: a sweep's paired comparisons (or one run's summary) as text.

A sweep's report (:func:`report_text`), in order: one warning line per user file (plugin, data,
trace) that finished runs used in different versions, read from their manifests; the tuning
protocol, if any; per world, the realised population (mean, median and CV of what the clients
drew; :mod:`simfl.results.population`). Then for each accuracy target: per value of ``by`` and
world (combination of the other swept keys), the runs that reached it (k/n), the Kaplan–Meier
median time to target and the restricted mean time to target within the horizon ``τ`` (runs
that never reached it count, censored at their end; see :mod:`simfl.results.time_to_target`),
then the paired per-seed ratio of times capped at ``τ`` against ``reference``. Then the paired
differences of final accuracy and wasted compute, and the runs not counted. Each block names its
method; a warning marks rows with fewer than :data:`MIN_PAIRS` paired seeds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import pandas as pd

from simfl.errors import SimflError
from simfl.identity.fingerprint import mixed_versions
from simfl.results.paired import paired_comparison
from simfl.results.population import population_block
from simfl.results.retarget import check_targets, retargeted
from simfl.results.rundir import finished_run_manifest, read_manifest, read_parquet_file
from simfl.results.survival import COVERAGE_AT_3, small_sample_note
from simfl.results.summary import summarize_tables, swept_columns, target_column, target_values
from simfl.results.targetrule import SUSTAINED, TargetRule, target_rule_sentence
from simfl.results.time_to_target import (
    COUNTED_STATUSES,
    KM_METHOD,
    NEVER_STATUSES,
    RATIO_METHOD,
    TREND_METHOD,
    paired_time_ratios,
    ratio_trend,
    summarize_time_ratios,
    survival_table,
    with_censoring_times,
)

__all__ = ["report_text", "match_value", "MIN_PAIRS"]

#: Below this many paired seeds, the report and the figures warn that an interval is unreliable.
MIN_PAIRS = 3


def match_value(column: pd.Series, text, by: str):
    """The value of ``column`` that ``text`` names (as text or as a number, so ``--reference 0.5``
    finds 0.5 in a float column); one-line :class:`SimflError` naming the values otherwise."""
    values = list(dict.fromkeys(column.dropna()))
    for value in values:
        if value == text or str(value) == str(text):
            return value
    try:
        number = float(text)
    except (TypeError, ValueError):
        number = None
    for value in values:
        if number is not None and isinstance(value, (int, float)) and not isinstance(value, bool) and value == number:
            return value
    raise SimflError(f"--reference {text}: not a value of {by}; values: {', '.join(map(str, values)) or 'none'}")


def _fmt(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def _run_report(path: Path, targets: Sequence[float] = (), rule: TargetRule = SUSTAINED) -> str:
    from simfl.results.runresult import load_run

    finished_run_manifest(path)  # a running, failed or damaged run is one line, not a traceback
    result = load_run(path)
    row = summarize_tables(result.client_updates, result.evals, result.manifest, targets, rule)
    lines = [f"run {path} ({result.status}, {result.config.algorithm.type}, seed {result.config.seed})"]
    lines += [f"  {k:20s} {_fmt(v) if isinstance(v, float) else v}" for k, v in row.items()]
    lines += [f"  {target_rule_sentence(rule)}"] if targets else []
    return "\n".join(lines)


def _fmt_time(x: float, extent: float) -> str:
    """A time in seconds; NaN or inf as ``>E`` (not within the extent ``E`` of the estimate), or ``∞``
    when the estimate is defined for every time (some runs never reach the target)."""
    if x is None or not math.isfinite(x):
        return f">{extent:.4g}" if math.isfinite(extent) else "∞"
    return f"{x:.4g}"


def _survival_block(summary: pd.DataFrame, target: float, by: str, horizon: float | None, level: float) -> list[str]:
    table = survival_table(summary, target, by=by, horizon=horizon, level=level)
    if table.empty:
        return []
    groups = [c for c in table.columns if c in swept_columns(summary) and c != by]
    show = table[[*groups, by]].copy()
    show["reached"] = [f"{r}/{n}" for r, n in zip(table.n_reached, table.n_runs)]
    show[f"KM median [{level:.0%} CI] (s)"] = [
        f"{_fmt_time(m, f)} [{_fmt_time(lo, f)}, {_fmt_time(hi, f)}]"
        for m, lo, hi, f in zip(table.km_median_s, table.median_ci_low_s, table.median_ci_high_s, table.extent_s)
    ]
    show[f"RMST within τ [{level:.0%} CI] (s)"] = [
        f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]"
        for m, lo, hi in zip(table.rmst_s, table.rmst_ci_low_s, table.rmst_ci_high_s)
    ]
    show["τ (s)"] = table.horizon_s.map(_fmt)
    if table.n_diverged.any():
        show["diverged"] = table.n_diverged
    if table.n_excluded.any():
        show["excluded"] = table.n_excluded
    lines = ["", f"{target_column(target)}: time to {target:g} test accuracy per {by}. Method: {KM_METHOD}.",
             "  >E: not reached by E, the last time observed; ∞: never (runs that never reach it keep it above)"]
    if level == 0.95 and table.n_runs.min() <= 3:
        lines.append(f"  note: {small_sample_note('median', int(table.n_runs.min()))} for the median, "
                     f"{COVERAGE_AT_3['rmst']:.0%} for the restricted mean")
    return lines + [show.to_string(index=False)]


def _ratio_cell(estimate: float, lo: float, hi: float, n_exact: int, n_lower: int, n_upper: int) -> str:
    """``1.93 [1.02, 3.65]``; without an estimate, what the bounds alone say."""
    if math.isfinite(estimate):
        return f"{_fmt(estimate)} [{_fmt(lo)}, {_fmt(hi)}]"
    if n_lower and not n_upper and not n_exact:
        return "no estimate (only lower bounds: other faster in every informative seed)"
    if n_upper and not n_lower and not n_exact:
        return "no estimate (only upper bounds: reference faster in every informative seed)"
    return "no estimate (fewer than 2 seeds where both reached it)"


def _paired_ratio_block(summary, target, by, reference, level) -> list[str]:
    per_seed = paired_time_ratios(summary, target, by=by, reference=reference)
    table = summarize_time_ratios(per_seed, by=by, level=level)
    if table.empty:
        return []
    groups = [c for c in table.columns if c in swept_columns(summary) and c != by]
    show = table[[*groups, by, "statistic"]].copy()
    show[f"ratio [{level:.0%} CI]"] = [_ratio_cell(*r) for r in zip(
        table.estimate, table.ci_low, table.ci_high, table.n_exact, table.n_lower, table.n_upper)]
    show["informative"] = [f"{k} of {n}" for k, n in zip(table.n_informative, table.n_pairs)]
    show["both"] = table.n_exact
    show["only_other"] = table.n_lower
    show["only_reference"] = table.n_upper
    lines = ["", f"{target_column(target)}: time ratio reference / other (> 1: other is faster). Method: {RATIO_METHOD}.",
             "  informative: seeds where at least one of the two reached the target (of all paired seeds); "
             "both / only_other / only_reference: which runs reached it"]
    lines += [show.to_string(index=False)] + _few_pairs(table, by, "n_informative", "informative")
    if table.n_at_start.any():
        lines.append(f"  {int(table.n_at_start.sum())} pair(s) left out: a run reached the target at time 0 "
                     "(its first evaluation, before training), where no ratio of times exists")
    return lines + _trend_lines(per_seed, summary, by, level)


def trend_verdict(row) -> str:
    """``grows`` / ``shrinks`` when the interval of the factor per unit excludes 1, else says it does not."""
    if row["ci_low"] > 1:
        return "grows"
    return "shrinks" if row["ci_high"] < 1 else "no evidence either way (the interval contains 1)"


def _trend_lines(per_seed: pd.DataFrame, summary: pd.DataFrame, by: str, level: float) -> list[str]:
    """Whether the ratio grows with each numeric swept key that has three values or more."""
    lines = []
    for x in (c for c in swept_columns(summary) if c in per_seed.columns and c != by):
        values = pd.to_numeric(per_seed[x], errors="coerce")
        if values.isna().any() or values.nunique() < 3:
            continue
        trend = ratio_trend(per_seed, x, by=by, level=level)
        lines.append(f"  trend over {x}: does the ratio grow with it? Method: {TREND_METHOD}.")
        for row in trend.to_dict("records"):
            pair = f"{row['reference']}/{row[by]}"
            if not math.isfinite(row["slope"]):
                lines.append(f"    {pair}: no estimate ({row['n_informative']} informative pairs)")
                continue
            lines.append(f"    {pair}: ×{row['factor_per_unit']:.3g} per unit of {x} [{row['ci_low']:.3g}, "
                         f"{row['ci_high']:.3g}], {row['n_informative']} informative pairs: {trend_verdict(row)}")
    return lines


def _few_pairs(table: pd.DataFrame, by: str, column: str = "n_pairs", what: str = "paired") -> list[str]:
    few = table[table[column] < MIN_PAIRS]
    if few.empty:
        return []
    return [f"  warning: fewer than {MIN_PAIRS} {what} seeds in {len(few)} row(s) "
            f"({', '.join(sorted(set(map(str, few[by]))))}): the interval is unreliable or missing"]


def _mixed_files(path: Path, summary: pd.DataFrame) -> list[str]:
    """Warnings about user files (plugins, data, traces) the finished runs used in different versions,
    read from their manifests (see :func:`simfl.identity.fingerprint.mixed_versions`)."""
    finished = summary.run_id[summary.status.astype(str).isin(COUNTED_STATUSES + NEVER_STATUSES)]
    manifests = {rid: read_manifest(path / "runs" / str(rid)) for rid in finished}
    return mixed_versions({rid: m for rid, m in manifests.items() if m is not None})


def _tuning_block(path: Path, summary: pd.DataFrame, by: str) -> list[str]:
    """A tuned sweep's protocol in one sentence, the chosen setting per cell, and edge warnings."""
    from simfl.results.tuning import chosen_settings, edge_warnings, protocol_sentence, read_tuning, tuning_record
    from simfl.results.sweepdir import read_sweep_manifest

    manifest = read_sweep_manifest(path)
    record = tuning_record(manifest)
    if record is None:
        return []
    table = read_tuning(path)
    base = (manifest.get("sweep") or {}).get("base") or {}
    fraction = (base.get("data") or {}).get("validation_fraction")
    seeds = sorted(int(s) for s in summary.seed.unique())
    contestants = list(dict.fromkeys(summary[record.get("by", by)].dropna())) if record.get("by", by) in summary else []
    lines = ["", protocol_sentence(record, table, seeds, fraction, contestants)]
    if table is None or table.empty:
        return lines + ["  (no trial has run yet)"]
    chosen = chosen_settings(table, record.get("by", by))
    show = chosen.drop(columns=[c for c in chosen.columns if c.startswith("tuned:")] + ["rung_s"])
    show["criterion"] = show["criterion"].map(_fmt)
    return lines + ["chosen settings (criterion: the chosen setting's score at the last rung it ran):",
                    show.to_string(index=False)] + edge_warnings(record, chosen)


def report_text(
    path: str | Path,
    by: str = "algorithm.type",
    reference: str | None = None,
    level: float = 0.95,
    horizon: float | None = None,
    targets: Sequence[float] | None = None,
    rule: TargetRule | None = None,
    relative_targets: Sequence[float] | None = None,
) -> str:
    """Statistics of a sweep directory: time to each target, final accuracy, waste (the blocks: the module docstring).

    Args:
        path: a sweep directory (or a run directory: its summary row).
        by: the compared swept key.
        reference: the value of ``by`` compared against (default: ``fedavg``, else the first).
        level: confidence level of every interval.
        horizon: ``τ`` in simulated seconds (default: per world, the longest time every method's
            Kaplan–Meier curve is defined at, at most the longest run).
        targets: accuracy targets in place of the summary's, their times recomputed from the runs'
            evaluations (:func:`~simfl.results.retarget.summary_with_targets`; nothing is written).
            A run directory reports its time to each.
        rule: the target rule in place of the sweep's (:mod:`simfl.results.targetrule`; times
            recomputed likewise); default: the sweep's own, named in one line (a run directory:
            sustained).
        relative_targets: fractions of the best accuracy a complete run reached in each world
            (:mod:`simfl.results.relative`; columns ``time_to_rel{f}_s``), added to the targets.
    """
    p = Path(path)
    targets = None if targets is None else check_targets(targets, "--targets")
    if (p / "manifest.json").is_file() and read_manifest(p) is not None and not (p / "summary.parquet").exists():
        if relative_targets:
            raise SimflError("--relative-targets: for a sweep directory (relative to the best run of each world)")
        return _run_report(p, targets or (), rule or SUSTAINED)
    if not (p / "summary.parquet").is_file():
        raise SimflError(f"{p}: neither a sweep directory (summary.parquet) nor a run directory (manifest.json)")
    return _sweep_report(p, by, reference, level, horizon, targets, rule, relative_targets)


def _sweep_report(p: Path, by: str, reference: str | None, level: float, horizon: float | None,
                  targets: Sequence[float] | None, rule: TargetRule | None,
                  relative_targets: Sequence[float] | None) -> str:
    """:func:`report_text` of a sweep directory ``p``, its blocks in order."""
    summary = read_parquet_file(p / "summary.parquet", required=("run_id", "status", "seed"))
    counts = summary.status.value_counts().to_dict()
    lines = [f"sweep {p}: {len(summary)} runs ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})"]
    lines += _mixed_files(p, summary)
    reference = _checked_options(summary, by, reference, level, horizon)
    summary, rule, note = retargeted(p, summary, targets, rule, relative_targets, by)
    lines += note
    lines += _tuning_block(p, summary, by)
    summary = with_censoring_times(summary)
    lines += population_block(summary, by)
    for target in target_values(summary):
        lines += _survival_block(summary, target, by, horizon, level)
        lines += _paired_ratio_block(summary, target, by, reference, level)
    lines += _difference_blocks(summary, by, reference, level)
    lines += _not_counted_block(summary)
    return "\n".join(lines)


def _checked_options(summary: pd.DataFrame, by: str, reference: str | None, level: float,
                     horizon: float | None) -> str | None:
    """The reference as the summary spells it, once ``--by``, ``--level`` and ``--horizon`` are checked."""
    if by not in swept_columns(summary):  # seed, run_id, a metric: columns, but not swept keys
        raise SimflError(f"--by {by}: not a swept key of this sweep; swept keys: {', '.join(swept_columns(summary)) or 'none'}")
    if not 0 < level < 1:
        raise SimflError(f"--level {level}: must be a number in (0, 1)")
    if reference is not None:
        reference = match_value(summary[by], reference, by)
    if horizon is not None and not horizon > 0:
        raise SimflError(f"--horizon {horizon}: must be a positive number of simulated seconds")
    return reference


def _difference_blocks(summary: pd.DataFrame, by: str, reference: str | None, level: float) -> list[str]:
    """The paired per-seed differences of final accuracy and of wasted compute (a block each, when any)."""
    lines = []
    for metric, what in (("final_accuracy", "difference in final accuracy (other - reference)"),
                         ("wasted_compute_s", "difference in wasted compute seconds (other - reference)")):
        table = paired_comparison(summary, metric, by=by, reference=reference, ratio=False, level=level)
        if table.empty:
            continue
        lines.append("")
        lines.append(f"{metric}: {what}; paired per seed, mean with a Student-t {level:.0%} interval over seeds")
        groups = [c for c in table.columns if c in swept_columns(summary) and c != by]
        show = table[[*groups, by, "statistic", "estimate", "ci_low", "ci_high", "n_pairs"]].copy()
        for col in ("estimate", "ci_low", "ci_high"):
            show[col] = show[col].map(_fmt)
        lines.append(show.to_string(index=False))
        lines += _few_pairs(table, by)
    return lines


def _not_counted_block(summary: pd.DataFrame) -> list[str]:
    """The runs that did not finish (no evidence either way), with their errors; empty when none."""
    unfinished = summary[~summary.status.astype(str).isin(COUNTED_STATUSES + NEVER_STATUSES)]
    if not len(unfinished):
        return []
    lines = ["", f"not counted ({len(unfinished)} run{'s' if len(unfinished) > 1 else ''} that did not finish; "
                 "no evidence either way):"]
    errors = unfinished["error"] if "error" in unfinished.columns else pd.Series(None, unfinished.index)
    return lines + [f"  {run_id}: {status}" + (f": {error}" if isinstance(error, str) else "")
                    for run_id, status, error in zip(unfinished["run_id"], unfinished["status"], errors)]
