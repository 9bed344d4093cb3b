"""Paired comparisons across seeds: one seed is one world, faced by every algorithm.

Because runs with the same seed (and the same other swept values) share their clients,
links, availability and per-task jitter, the natural comparison is *paired*: per seed, the
ratio (or difference) of a metric between an algorithm and a reference, then a confidence
interval over seeds. Ratios are summarized by their geometric mean with a Student-t interval
on log ratios; differences by their mean with a t interval.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from simfl.results.summary import swept_columns

__all__ = ["paired_comparison", "world_keys", "default_reference"]


def world_keys(summary: pd.DataFrame, by: str) -> list[str]:
    """The swept keys that tell worlds apart when comparing values of ``by``.

    Every swept column except ``by`` itself and those that vary together with it (zipped with
    it: within one value of ``by`` they take a single value).
    """
    return [c for c in swept_columns(summary) if c != by and summary.groupby(by)[c].nunique(dropna=False).max() > 1]


def default_reference(values: Sequence) -> str:
    """``fedavg`` when it is among ``values``, else the first value."""
    values = list(values)
    return "fedavg" if "fedavg" in values else values[0]


def _interval(values: np.ndarray, level: float) -> tuple[float, float, float]:
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half


def paired_comparison(
    summary: pd.DataFrame,
    metric: str,
    by: str = "algorithm.type",
    reference: str | None = None,
    pair_on: Sequence[str] | None = None,
    ratio: bool = True,
    level: float = 0.95,
) -> pd.DataFrame:
    """Compare each value of ``by`` with ``reference`` on ``metric``, pairing runs by seed.

    Args:
        summary: a sweep summary (one row per run; see :mod:`simfl.results.summary`).
        metric: the column to compare (e.g. ``time_to_0.8_s``, ``final_accuracy``).
        by: the column whose values are compared (default: the algorithm).
        reference: the value of ``by`` compared against (default: ``fedavg`` if present, else
            the first value).
        pair_on: columns that identify a world besides the seed; default: every other swept
            column (columns with a dot in their name), so that each combination of the other
            swept values gets its own comparison.
        ratio: True: ``reference / other`` per pair (e.g. the speed-up of ``other`` in time to
            target), summarized by the geometric mean; False: ``other − reference``.
        level: confidence level of the interval.

    Returns:
        One row per (group of ``pair_on`` values, compared value): ``estimate``, ``ci_low``,
        ``ci_high``, ``n_pairs`` (seeds where both are finite), ``n_excluded`` (seeds where
        either is NaN, e.g. a target never reached), and among those ``n_reference_missing``
        (only the reference is NaN: e.g. only the other algorithm reached the target) and
        ``n_other_missing`` (only the other is NaN).
    """
    df = summary[summary.status == "complete"] if "status" in summary else summary
    values, reference = _values_and_reference(df, metric, by, reference)
    if pair_on is None:
        pair_on = world_keys(df, by)
    groups = df.groupby(list(pair_on), dropna=False, sort=False) if pair_on else [((), df)]
    rows = []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        table = group.pivot_table(index="seed", columns=by, values=metric, aggfunc="first", dropna=False)
        for other in values:
            if other == reference or other not in table or reference not in table:
                continue
            rows.append({**dict(zip(pair_on, key)), by: other, "reference": reference, "metric": metric,
                         "statistic": f"{reference}/{other}" if ratio else f"{other}-{reference}",
                         **_paired_estimate(table[reference].to_numpy(float), table[other].to_numpy(float),
                                            ratio, level)})
    return pd.DataFrame(rows)


def _values_and_reference(df: pd.DataFrame, metric: str, by: str, reference: str | None) -> tuple[list, str]:
    """The values of ``by`` (in order of appearance) and the reference, once the columns are checked."""
    if metric not in df:
        raise ValueError(f"no column {metric!r} in the summary; columns: {', '.join(df.columns)}")
    if by not in df:
        raise ValueError(f"no column {by!r} in the summary; columns: {', '.join(df.columns)}")
    values = list(dict.fromkeys(df[by]))
    if reference is None:
        reference = default_reference(values)
    if reference not in values:
        raise ValueError(f"reference {reference!r} is not a value of {by}: {values}")
    return values, reference


def _paired_estimate(ref: np.ndarray, oth: np.ndarray, ratio: bool, level: float) -> dict:
    """The estimate, interval and counts of one comparison from the per-seed values of both sides."""
    ok = np.isfinite(ref) & np.isfinite(oth)
    ref_missing = int((~np.isfinite(ref) & np.isfinite(oth)).sum())
    other_missing = int((np.isfinite(ref) & ~np.isfinite(oth)).sum())
    if ratio:
        ok &= (ref > 0) & (oth > 0)
        logs = np.log(ref[ok] / oth[ok])
        mean, lo, hi = _interval(logs, level)
        estimate, lo, hi = math.exp(mean) if ok.any() else math.nan, math.exp(lo), math.exp(hi)
    else:
        estimate, lo, hi = _interval(oth[ok] - ref[ok], level)
    return {"estimate": estimate, "ci_low": lo, "ci_high": hi, "n_pairs": int(ok.sum()), "n_excluded": int((~ok).sum()),
            "n_reference_missing": ref_missing, "n_other_missing": other_missing}
