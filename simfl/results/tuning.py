"""Reading a tuned sweep back: its protocol in one sentence, the chosen settings, and warnings.

Data only: ``tuning.parquet`` and the tuning record in ``sweep_manifest.json`` (what the ``tune:``
section said); nothing named in them is imported.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from simfl.results.rundir import read_parquet_file
from simfl.results.targetrule import TargetRule

__all__ = ["TUNED_PREFIX", "read_tuning", "tuning_record", "protocol_sentence", "chosen_settings", "edge_warnings"]

#: Prefix of the columns holding a run's tuned values (``tuned:train.lr``) in summaries and ``tuning.parquet``.
TUNED_PREFIX = "tuned:"
_TUNING_TABLE = "tuning.parquet"
_EDGE_SHARE = 0.1  # a value drawn from a range sits at its edge within this share of the range


def read_tuning(path: str | Path) -> pd.DataFrame | None:
    """``DIR/tuning.parquet`` of a sweep directory, or None for a sweep that was not tuned."""
    f = Path(path) / _TUNING_TABLE
    if not f.is_file():
        return None
    return read_parquet_file(f, required=("setting", "seed", "chosen", "stopped_early"))


def tuning_record(sweep_manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``tune`` record of a sweep manifest (None: not tuned)."""
    return ((sweep_manifest or {}).get("sweep") or {}).get("tune")


def _seeds(seeds: list[int]) -> str:
    seeds = sorted(int(s) for s in seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def _criterion(record: dict[str, Any]) -> str:
    criterion, horizon = record.get("criterion") or {}, record.get("horizon_s")
    if criterion.get("type") == "accuracy_at":
        return f"the validation accuracy after {criterion.get('budget_s'):g} simulated s (mean over tuning seeds)"
    within = f" within τ = {horizon:g} s" if horizon else ""
    # a record written before target rules has no rule: its trials were scored at their first crossing
    rule = TargetRule(type=criterion.get("rule", "first"), window=criterion.get("window"))
    return (f"the restricted mean time to {criterion.get('target'):g} validation accuracy{within} (mean over tuning "
            f"seeds of the time to target capped at τ; {rule.label})")


def protocol_sentence(record: dict[str, Any], table: pd.DataFrame | None, evaluation_seeds: list[int],
                      validation_fraction: float | None, contestants: list[str] = ()) -> str:
    """The tuning protocol in one sentence: keys, settings per contestant, seeds, criterion, halving
    (``contestants``: every value of ``by``, to name those run as given)."""
    by = record.get("by", "algorithm.type")
    space = record.get("space") or {}
    counts = {}
    if table is not None and len(table):
        counts = table.groupby(by, sort=False)["setting_index"].nunique().to_dict()
        counts = {str(k): v for k, v in counts.items()}
    parts = [f"{c}: {', '.join(keys)} ({counts.get(c, '?')} settings)" for c, keys in space.items()]
    search = "grid search" if record.get("search") == "grid" else f"random search ({record.get('trials')} draws)"
    halving = record.get("halving")
    pruning = ""
    if halving:
        pruning = (f", stopping poor settings early by successive halving (first rung {halving['min_s']:g} s, keeping "
                   f"the best 1/{halving['eta']} at each rung)")
    validation = f"data.validation_fraction = {validation_fraction:g}" if validation_fraction else "validation rows"
    untuned = [str(c) for c in contestants if str(c) not in space]
    as_given = f" ({', '.join(untuned)} as given)" if untuned else ""
    return (f"Tuning: per cell and {by}, {search} over {'; '.join(parts) or 'nothing'}{as_given}, each setting run on tuning seeds {_seeds(record.get('tuning_seeds', []))} "
            f"(evaluation seeds {_seeds(evaluation_seeds)}: disjoint) and scored on the clients' validation rows "
            f"({validation}; the test set is never read while tuning) by {_criterion(record)}{pruning}; "
            "the best setting then ran on the evaluation seeds.")


def chosen_settings(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """One row per cell and contestant: the chosen setting, its criterion, settings tried, trials run."""
    tuned = [c for c in table.columns if c.startswith(TUNED_PREFIX)]
    fixed = {"setting_index", "setting", "seed", "run_id", "status", "reached_s", "rung_s", "time_to_target_s",
             "validation_accuracy", "criterion", "stopped_early", "chosen", "error", *tuned}
    cell = [c for c in table.columns if c not in fixed and c != by]
    keys = [*cell, by]
    grouped = table.groupby(keys, sort=False, dropna=False)
    counts = grouped.agg(settings=("setting_index", "nunique"), trials=("run_id", "size")).reset_index()
    chosen = table[table.chosen.astype(bool)].drop_duplicates(keys)[[*keys, "setting", "criterion", "rung_s", *tuned]]
    return counts.merge(chosen, on=keys, how="left")


def _edge_of(value: Any, values: Any) -> str | None:
    """How ``value`` sits at the edge of what was searched (None: inside)."""
    if isinstance(values, list):
        numbers = sorted({float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)})
        if len(numbers) < 2 or not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        if value <= numbers[0]:
            return f"the smallest value tried (of {numbers[0]:g}–{numbers[-1]:g})"
        if value >= numbers[-1]:
            return f"the largest value tried (of {numbers[0]:g}–{numbers[-1]:g})"
        return None
    if isinstance(values, dict) and {"low", "high"} <= set(values):
        low, high, v = float(values["low"]), float(values["high"]), float(value)
        if values.get("log"):
            low, high, v = math.log(low), math.log(high), math.log(max(v, 1e-300))
        share = (v - low) / (high - low)
        if share <= _EDGE_SHARE:
            return f"in the lowest {_EDGE_SHARE:.0%} of its range ({values['low']:g}–{values['high']:g})"
        if share >= 1 - _EDGE_SHARE:
            return f"in the highest {_EDGE_SHARE:.0%} of its range ({values['low']:g}–{values['high']:g})"
    return None


def edge_warnings(record: dict[str, Any], chosen: pd.DataFrame) -> list[str]:
    """One line per chosen value at the edge of its searched values: the best may lie beyond."""
    by = record.get("by", "algorithm.type")
    space = record.get("space") or {}
    lines = []
    for _, row in chosen.iterrows():
        keys = space.get(str(row[by])) or {}
        cell = ", ".join(f"{k}={row[k]}" for k in chosen.columns
                         if k not in (by, "settings", "trials", "setting", "criterion", "rung_s")
                         and not k.startswith(TUNED_PREFIX))
        for key, values in keys.items():
            value = row.get(f"{TUNED_PREFIX}{key}")
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            edge = _edge_of(value, values)
            if edge is not None:
                where = f" at {cell}" if cell else ""
                lines.append(f"  warning: {row[by]}{where}: {key} = {value:g} is {edge}: the best setting may lie "
                             "beyond it; widen the search")
    return lines
