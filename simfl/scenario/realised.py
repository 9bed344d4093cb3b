"""The realised population of a run: mean, median and CV of what its clients drew.

A configured law says what the clients are drawn from; a run has N of them under one seed.
A run records, in its manifest (``population``), the mean, median and coefficient of variation
(population standard deviation, ddof 0, over the mean) of each client profile column, and a
sweep's summary carries them as flat columns (``seconds_per_sample_mean``, ``..._median``,
``..._cv``), so a reader sees whether two cells of a sweep differ in their mean as well as in
their spread.

Manifests are JSON: an infinite value (a ``.inf`` bandwidth) is written as the string
``"inf"``, an undefined one (the CV of infinite bandwidths or of zero latencies) as null. A
column whose clients all hold one value has that value as mean and median and CV 0 (exactly,
with no rounding of a sum).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

__all__ = ["PROFILE_COLUMNS", "STATISTICS", "population_stats", "population_columns", "column_name"]

#: The per-client profile columns summarized (those of ``clients.parquet``, named like the
#: config keys they are drawn from), each with what it is and its unit.
PROFILE_COLUMNS: dict[str, tuple[str, str]] = {
    "seconds_per_sample": ("seconds per sample", "s"),
    "down_mbps": ("download bandwidth", "Mbit/s"),
    "up_mbps": ("upload bandwidth", "Mbit/s"),
    "latency_s": ("latency", "s"),
}
#: The statistics of each column.
STATISTICS = ("mean", "median", "cv")


def column_name(column: str, statistic: str) -> str:
    """``seconds_per_sample_mean``: a summary column (no dot: dotted columns are swept keys)."""
    return f"{column}_{statistic}"


def _json_number(x: float) -> float | str | None:
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return float(x)


def _stats(values: np.ndarray) -> dict[str, float]:
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return dict.fromkeys(STATISTICS, math.nan)
    if x.min() == x.max():  # a constant: no rounding of sums
        value = float(x[0])
        return {"mean": value, "median": value, "cv": 0.0 if 0 < value < math.inf else math.nan}
    median = float(np.median(x))
    if not np.isfinite(x).all():
        return {"mean": float(x.mean()), "median": median, "cv": math.nan}
    mean = float(x.mean())
    return {"mean": mean, "median": median, "cv": float(x.std()) / mean if mean > 0 else math.nan}


def population_stats(population: Any) -> dict[str, dict[str, float | str | None]]:
    """Mean, median and CV of each profile column, JSON-safe (see the module docstring).

    Args:
        population: a :class:`~simfl.scenario.population.Population`, or a table with the
            columns (``clients.parquet``).
    """
    out = {}
    for column in PROFILE_COLUMNS:
        values = population[column] if isinstance(population, Mapping) else getattr(population, column)
        out[column] = {k: _json_number(v) for k, v in _stats(np.asarray(values)).items()}
    return out


def population_columns(manifest: Mapping[str, Any]) -> dict[str, float]:
    """The flat summary columns of a run manifest's ``population`` (NaN where it has none)."""
    recorded = manifest.get("population") or {}
    row = {}
    for column in PROFILE_COLUMNS:
        stats = recorded.get(column) or {}
        for statistic in STATISTICS:
            value = stats.get(statistic)
            row[column_name(column, statistic)] = math.nan if value is None else float(value)
    return row
