"""The realised population per cell of a sweep: does a cell differ in its mean or its spread?

A sweep's summary carries, per run, the mean, median and CV of what its clients drew
(:mod:`simfl.scenario.realised`). Under one seed the population is the same for every value
of the compared key (``--by``, e.g. the method), so a *cell* (one combination of the other
swept keys, see :func:`~simfl.results.paired.world_keys`) holds one population per seed; the
table gives, per cell, each statistic's mean over seeds with its range ``[min, max]``. Keys
that leave a column as it is (the method, a concurrency; the speed spread for the bandwidths)
are left out of its table, so cells that drew the same clients share one row.
"""

from __future__ import annotations

import pandas as pd

from simfl.results.paired import world_keys
from simfl.scenario.realised import PROFILE_COLUMNS, STATISTICS, column_name

__all__ = ["population_table", "population_block"]

_SHOWN = {"mean": "mean", "median": "median", "cv": "CV"}


def _changes_population(summary: pd.DataFrame, key: str, others: list[str], columns: list[str]) -> bool:
    """Whether runs that differ only in ``key`` (same seed and ``others``) drew different clients."""
    per_seed = summary.groupby([*others, "seed"], dropna=False)[columns].nunique()
    return bool((per_seed > 1).any().any())


def _cell_keys(summary: pd.DataFrame, by: str, columns: list[str]) -> list[str]:
    """The keys telling populations apart: the world keys and ``by`` (e.g. ``--by`` a spread key),
    less those that leave the population as it is (the method, a concurrency)."""
    keys = [*world_keys(summary, by), by]
    for key in list(keys):
        others = [k for k in keys if k != key]
        if not _changes_population(summary, key, others, columns):
            keys = others
    return keys


def population_table(summary: pd.DataFrame, by: str, column: str | None = None) -> pd.DataFrame:
    """Per cell: each population statistic's mean, min and max over seeds, and the seeds counted.

    Args:
        summary: a sweep summary.
        by: the compared key (``--by``).
        column: one profile column (``seconds_per_sample``): its cells are the keys *it*
            changes with; None: all columns, with the keys any of them changes with.

    Returns:
        One row per cell: the cell's keys (a single ``cell`` column reading ``all runs`` when
        none changes the population), ``seeds``, and for each ``{column}_{stat}`` summary
        column its ``_mean``, ``_min`` and ``_max`` over seeds. Empty when no run recorded it.
    """
    names = [column] if column is not None else list(PROFILE_COLUMNS)
    columns = [column_name(c, s) for c in names for s in STATISTICS if column_name(c, s) in summary]
    runs = summary.dropna(subset=columns[:1]) if columns else summary.iloc[:0]
    if runs.empty or "seed" not in runs:
        return pd.DataFrame()
    keys = _cell_keys(runs, by, columns)
    seeds = runs.groupby([*keys, "seed"], dropna=False, sort=True)[columns].first().reset_index()
    grouped = seeds.groupby(keys, dropna=False, sort=True) if keys else seeds.groupby(lambda _: "all runs")
    table = grouped[columns].agg(["mean", "min", "max"])
    table.columns = [f"{c}_{a}" for c, a in table.columns]
    table.insert(0, "seeds", grouped["seed"].nunique())
    return table.reset_index(names=keys or ["cell"])


def _shown(table: pd.DataFrame, column: str) -> bool:
    """Seconds per sample always; another column when its clients differ or its cells do."""
    if column == "seconds_per_sample":
        return True
    return bool((table[f"{column}_cv_max"] > 0).any()) or table[f"{column}_mean_mean"].nunique() > 1


def _cell(mean: float, lo: float, hi: float, seeds: int) -> str:
    if pd.isna(mean):
        return "—"
    return f"{mean:.4g}" if seeds < 2 or lo == hi else f"{mean:.4g} [{lo:.4g}, {hi:.4g}]"


def population_block(summary: pd.DataFrame, by: str) -> list[str]:
    """Report lines: per shown profile column, a table of mean / median / CV per cell."""
    lines = []
    for column, (name, unit) in PROFILE_COLUMNS.items():
        table = population_table(summary, by, column)
        if table.empty or not _shown(table, column):
            continue
        keys = list(table.columns[: list(table.columns).index("seeds")])
        show = table[[*keys, "seeds"]].copy()
        for stat in STATISTICS:
            stem = column_name(column, stat)
            show[_SHOWN[stat] + ("" if stat == "cv" else f" ({unit})")] = [
                _cell(m, lo, hi, n) for m, lo, hi, n in
                zip(table[f"{stem}_mean"], table[f"{stem}_min"], table[f"{stem}_max"], table["seeds"])]
        lines += [f"{name}:", show.to_string(index=False)]
    if not lines:
        return []
    return ["", "realised population per cell (what the clients drew; a cell: the swept keys it changes with): "
            "mean / median / CV over clients, the mean over seeds [min, max]", *lines]
