"""One summary row per run: time to accuracy targets, final accuracy, update counts, waste.

Definitions (the columns of a sweep's ``summary.parquet``):

* ``time_to_{t}_s``: the evaluation time at which test accuracy reached t under the sweep's
  target rule (:mod:`simfl.results.targetrule`; default sustained: the first evaluation after
  which accuracy stays ≥ t for the rest of the run; ``first``: the first evaluation ≥ t); NaN if
  never; resolution = ``eval.every_s``.
* ``final_accuracy`` / ``best_accuracy``: at the last evaluation / the best one (a ``diverged`` run has
  no final accuracy and reaches no target: ``time_to_*`` is NaN).
* ``applied_updates``, ``lost_updates`` (``lost_offline``), ``dropped_updates``
  (``dropped_stale``), ``discarded_updates`` (``discarded_deadline``): task counts by status.
* ``wasted_compute_s``: simulated compute seconds spent on tasks that will never be applied
  (lost, dropped or discarded), counting only the compute that happened before the task ended.
  Tasks still running or buffered at the stop are not counted.
* ``mean_staleness``: mean staleness of the updates the server received.
* ``{column}_mean``, ``{column}_median``, ``{column}_cv`` for ``seconds_per_sample``,
  ``down_mbps``, ``up_mbps`` and ``latency_s``: the realised population of the run (what its
  clients drew; :mod:`simfl.scenario.realised`), NaN for a run that recorded none.
* ``files_fingerprint``: 12 hex digits summing up the SHA-256 of the user files the run used
  (plugins, data, traces; :func:`simfl.identity.fingerprint.combined_fingerprint` of the manifest's
  ``fingerprints``); null when it used none. Runs of one point that differ here used different
  versions of a file.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from simfl.scenario.realised import population_columns
from simfl.identity.fingerprint import combined_fingerprint
from simfl.results.targetrule import SUSTAINED, TargetRule, reached_index

__all__ = [
    "RelativeTarget",
    "parse_target",
    "time_to_accuracy",
    "target_times",
    "wasted_compute_s",
    "summarize_tables",
    "target_column",
    "target_values",
    "swept_columns",
    "value_at",
    "accuracy_column",
]


_PREFIX = "rel"


class RelativeTarget(float):
    """A fraction of the best accuracy of the run's world (:mod:`simfl.results.relative`); ``f"{t:g}"``
    is ``rel0.9``."""

    def __format__(self, spec: str) -> str:
        return _PREFIX + float.__format__(float(self), spec)

    def __repr__(self) -> str:
        return f"RelativeTarget({float(self)!r})"

    def __str__(self) -> str:
        return format(self, "g")


def parse_target(text: str) -> float:
    """``0.6`` -> 0.6, ``rel0.9`` -> ``RelativeTarget(0.9)`` (the part of a ``time_to_{t}_s`` column)."""
    return RelativeTarget(float(text[len(_PREFIX):])) if text.startswith(_PREFIX) else float(text)



def target_column(target: float) -> str:
    """``time_to_0.8_s`` for target 0.8."""
    return f"time_to_{target:g}_s"


def target_values(summary: pd.DataFrame) -> list[float]:
    """The accuracy targets of a sweep summary, from its ``time_to_{t}_s`` columns (column order;
    ``time_to_rel0.9_s`` gives a :class:`RelativeTarget`)."""
    columns = [c for c in summary.columns if c.startswith("time_to_") and c.endswith("_s")]
    return [parse_target(c[len("time_to_"):-len("_s")]) for c in columns]


def swept_columns(summary: pd.DataFrame) -> list[str]:
    """The swept keys of a sweep summary: columns named by dotted config paths, and ``label``
    (not the ``tuned:<key>`` columns of a tuned sweep: a tuned value is part of a method, not of a world)."""
    return [c for c in summary.columns if ("." in c and not c.startswith(("time_to_", "tuned:"))) or c == "label"]


def accuracy_column(evals: pd.DataFrame) -> str:
    """The accuracy column of an evals table: ``test_accuracy``, or ``validation_accuracy`` for a run
    evaluated on its validation rows (``eval.split: validation``, e.g. a tuning trial)."""
    return "validation_accuracy" if "validation_accuracy" in evals and "test_accuracy" not in evals else "test_accuracy"


def time_to_accuracy(evals: pd.DataFrame, target: float, rule: TargetRule = SUSTAINED) -> float:
    """The ``sim_time_s`` at which accuracy (:func:`accuracy_column`) reached ``target`` under ``rule``
    (:func:`~simfl.results.targetrule.reached_index`: by default the first evaluation after which it
    stays ``>= target``; ``FIRST``: the first evaluation ``>= target``); NaN if never."""
    at = reached_index(pd.to_numeric(evals[accuracy_column(evals)], errors="coerce"), target, rule)
    return math.nan if at is None else float(evals["sim_time_s"].iloc[at])


def target_times(evals: pd.DataFrame, targets: Sequence[float], diverged: bool = False,
                 rule: TargetRule = SUSTAINED) -> dict[str, float]:
    """``{time_to_{t}_s: time}`` per target: :func:`time_to_accuracy` under ``rule``, NaN for every
    target when ``diverged``."""
    # a diverged run never reaches a target, whatever its evaluations before the divergence say
    return {target_column(t): math.nan if diverged else time_to_accuracy(evals, t, rule) for t in targets}


def wasted_compute_s(client_updates: pd.DataFrame) -> float:
    """Compute seconds spent on lost, dropped and discarded tasks before they ended."""
    df = client_updates
    wasted = df.status.isin(["lost_offline", "dropped_stale", "discarded_deadline"])
    w = df[wasted]
    spent = (w.end_time_s - w.dispatch_time_s - w.download_s).clip(lower=0.0)
    return float(np.minimum(spent, w.compute_s).sum())


def summarize_tables(
    client_updates: pd.DataFrame, evals: pd.DataFrame, manifest: dict[str, Any], targets: Sequence[float] = (),
    rule: TargetRule = SUSTAINED,
) -> dict[str, Any]:
    """The summary metrics of one run from its tables and manifest (time to ``targets`` under ``rule``)."""
    status = client_updates.status.astype(str)
    counts = status.value_counts()
    arrived = client_updates.staleness.dropna()
    acc = evals[accuracy_column(evals)] if len(evals) else pd.Series(dtype=float)
    diverged = manifest.get("status") == "diverged"
    # a diverged run never reaches a target, and has no final model to score
    row: dict[str, Any] = target_times(evals, targets, diverged, rule)
    row.update(
        final_accuracy=float(acc.iloc[-1]) if len(acc) and not diverged else math.nan,
        best_accuracy=float(acc.max()) if len(acc) else math.nan,
        applied_updates=int(counts.get("applied", 0)),
        lost_updates=int(counts.get("lost_offline", 0)),
        dropped_updates=int(counts.get("dropped_stale", 0)),
        discarded_updates=int(counts.get("discarded_deadline", 0)),
        wasted_compute_s=wasted_compute_s(client_updates),
        mean_staleness=float(arrived.astype(float).mean()) if len(arrived) else math.nan,
        client_updates=int(manifest.get("client_updates", 0)),
        server_updates=int(manifest.get("server_updates", 0)),
        sim_end_s=float(manifest.get("sim_end_s", math.nan)),
        stop_reason=manifest.get("stop_reason"),
        host_seconds=float(manifest.get("host_seconds", math.nan)),
        files_fingerprint=combined_fingerprint(manifest.get("fingerprints")),
    )
    row.update(population_columns(manifest))
    return row


def value_at(evals: pd.DataFrame, time_s: float, column: str = "test_accuracy", unit: str = "run_id") -> pd.Series:
    """Each run's ``column`` at its last evaluation at or before ``time_s`` (the model it had then).

    Args:
        evals: ``evals`` tables concatenated, one row per (run, evaluation).
        time_s: the time budget (simulated s).
        column: the evaluated quantity.
        unit: the column naming runs.

    Returns:
        One value per run (indexed by ``unit``); NaN for a run with no finite value by ``time_s``.
    """
    d = evals[[unit, "sim_time_s", column]]
    d = d[(d["sim_time_s"] <= time_s) & pd.to_numeric(d[column], errors="coerce").notna()]
    last = d.sort_values([unit, "sim_time_s"], kind="stable").groupby(unit, sort=True).tail(1)
    out = last.set_index(unit)[column].astype(float).reindex(pd.unique(evals[unit]))
    return out.rename(f"{column}_at_{time_s:g}s")
