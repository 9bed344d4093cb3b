"""Relative accuracy targets: a fraction of the best accuracy any method reaches in a world.

Worlds differ in difficulty: 0.6 may be easy at one speed spread and out of reach at another.
A relative target ``rel0.9`` asks, for each run, for 90 % of the best accuracy any run of its
world reached (its world: the same seed and the same values of the swept keys other than the
compared one, ``by``; the best over the *complete* runs' ``best_accuracy``: a diverged run
reaches no target, so it sets none either). The absolute target then differs per world, and the
time to it is read from the run's evaluations under the sweep's target rule like any other.

A relative target is a float (the fraction) that formats as ``rel0.9``, so its column is
``time_to_rel0.9_s`` (:func:`~simfl.results.summary.target_column`), :func:`~simfl.results.
summary.target_values` reads it back from a summary, and the statistics and figures take it where
they take an absolute target (figures are named ``km_rel0.9``, captions say "rel0.9"). A world
with no complete run has no best accuracy: its runs' times are NaN.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from simfl.results.paired import world_keys
from simfl.results.summary import RelativeTarget, parse_target, swept_columns, target_column

__all__ = ["RelativeTarget", "parse_target", "world_best", "absolute_targets"]


def world_best(summary: pd.DataFrame, by: str) -> pd.Series:
    """Per run (the summary's index), the best accuracy a complete run of its world reached (NaN: none)."""

    keys = world_keys(summary, by) if by in summary else [c for c in swept_columns(summary) if c != by]
    keys = [*keys, "seed"]
    complete = summary["status"].astype(str).eq("complete")
    best = pd.to_numeric(summary["best_accuracy"], errors="coerce").where(complete)
    # NaN world keys (a swept null) form one world, as in the statistics
    return best.groupby([summary[k].astype(str) for k in keys], dropna=False).transform("max")


def absolute_targets(summary: pd.DataFrame, targets: Sequence[float], by: str) -> pd.DataFrame:
    """The accuracy each run must reach for each target: an absolute target as it is, a
    :class:`RelativeTarget` times :func:`world_best` (NaN for a world with no complete run).

    Returns:
        One row per summary row (same index), one column per target (its ``time_to_{t}_s`` name).
    """

    out = {}
    best = world_best(summary, by) if any(isinstance(t, RelativeTarget) for t in targets) else None
    for t in targets:
        out[target_column(t)] = float(t) * best if isinstance(t, RelativeTarget) else pd.Series(float(t), summary.index)
    return pd.DataFrame(out, index=summary.index, dtype=float) if out else pd.DataFrame(index=summary.index)
