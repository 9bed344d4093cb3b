"""``simfl report``: a sweep's paired comparisons (or one run's summary) as text."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from simfl.errors import SimflError
from simfl.results.paired import paired_comparison
from simfl.results.rundir import read_manifest
from simfl.results.summary import summarize_tables, swept_columns

__all__ = ["report_text"]


def _fmt(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def _run_report(path: Path) -> str:
    from simfl.results.runresult import load_run

    result = load_run(path)
    row = summarize_tables(result.client_updates, result.evals, result.manifest)
    lines = [f"run {path} ({result.status}, {result.config.algorithm.type}, seed {result.config.seed})"]
    lines += [f"  {k:20s} {_fmt(v) if isinstance(v, float) else v}" for k, v in row.items()]
    return "\n".join(lines)


def report_text(path: str | Path, by: str = "algorithm.type", reference: str | None = None, level: float = 0.95) -> str:
    """Paired statistics of a sweep directory (time to each target, final accuracy, waste).

    For each metric, each combination of the other swept keys, and each value of ``by``
    against ``reference``: the estimate over seeds with its confidence interval.
    """
    p = Path(path)
    if (p / "manifest.json").is_file() and read_manifest(p) is not None and not (p / "summary.parquet").exists():
        return _run_report(p)
    if not (p / "summary.parquet").is_file():
        raise SimflError(f"{p}: neither a sweep directory (summary.parquet) nor a run directory (manifest.json)")
    summary = pd.read_parquet(p / "summary.parquet")
    counts = summary.status.value_counts().to_dict()
    lines = [f"sweep {p}: {len(summary)} runs ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})"]
    if by not in summary:
        raise SimflError(f"--by {by}: not a swept key of this sweep; swept keys: {', '.join(swept_columns(summary)) or 'none'}")
    metrics = [(c, True, "ratio of times to target (reference / other: > 1 means other is faster)")
               for c in summary.columns if c.startswith("time_to_")]
    metrics += [("final_accuracy", False, "difference in final accuracy (other - reference)"),
                ("wasted_compute_s", False, "difference in wasted compute seconds (other - reference)")]
    for metric, ratio, what in metrics:
        table = paired_comparison(summary, metric, by=by, reference=reference, ratio=ratio, level=level)
        if table.empty:
            continue
        lines.append("")
        lines.append(f"{metric}: {what}, {level:.0%} interval over seeds")
        groups = [c for c in table.columns if c in swept_columns(summary) and c != by]
        show = table[[*groups, by, "statistic", "estimate", "ci_low", "ci_high", "n_pairs"]].copy()
        if metric.startswith("time_to_"):
            show["only_other_reached"] = table["n_reference_missing"]
            show["only_reference_reached"] = table["n_other_missing"]
        for col in ("estimate", "ci_low", "ci_high"):
            show[col] = show[col].map(_fmt)
        lines.append(show.to_string(index=False))
    failed = summary[summary.status == "failed"]
    if len(failed):
        lines.append("")
        lines.append("failed runs:")
        lines += [f"  {r.run_id}: {r.error}" for r in failed.itertuples()]
    return "\n".join(lines)
