"""Reading results back: a sweep's per-run tables concatenated, and the world's periods and events
(offline, busy, concept drift) recomputed from a config for plots."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from simfl.errors import SimflError
from simfl.results.rundir import read_parquet_file
from simfl.results.summary import swept_columns
from simfl.rng import SeedTree
from simfl.scenario.speed import build_speed

__all__ = ["load_sweep_tables", "offline_intervals", "busy_intervals", "drift_times"]


def load_sweep_tables(
    path: str | Path, tables: Iterable[str] = ("evals",), status: str | None = "complete"
) -> dict[str, pd.DataFrame]:
    """A sweep's ``summary`` plus the named per-run tables, concatenated over runs.

    Each per-run table gains ``run_id``, ``seed`` and one column per swept key, so it can be
    grouped like the summary (e.g. ``evals.groupby("algorithm.type")``).

    Args:
        path: the sweep directory.
        tables: which of ``evals``, ``client_updates``, ``aggregations``, ``clients`` to load.
        status: only runs with this status (None: every run that has the table).
    """
    p = Path(path)
    summary_file = p / "summary.parquet"
    if not summary_file.is_file():
        raise SimflError(f"{p}: no summary.parquet (not a sweep directory)")
    summary = read_parquet_file(summary_file, required=("run_id", "status", "seed"))
    keep = summary if status is None else summary[summary.status == status]
    ident = keep[["run_id", *swept_columns(summary), "seed"]]
    out = {"summary": summary}
    for name in tables:
        parts = []
        for row in ident.itertuples(index=False):
            f = p / "runs" / row.run_id / f"{name}.parquet"
            if f.is_file():
                df = read_parquet_file(f)
                for col, value in zip(ident.columns, row):
                    df[col] = value
                parts.append(df)
        out[name] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return out


def offline_intervals(config, t_end: float, clients: Iterable[int] | None = None) -> pd.DataFrame:
    """Offline periods ``client_id, start_s, end_s`` within ``[0, t_end)`` of a run's clients.

    Recomputed from the config and seed (the availability timeline is a pure function of
    them), so plots can shade them without the run having stored them.
    """

    n = config.data.num_clients
    timeline = config.heterogeneity.availability.build(SeedTree(config.seed), n)
    rows = []
    if not timeline.always_online:
        for c in range(n) if clients is None else clients:
            start = 0.0
            for a, b in timeline.intervals(int(c), t_end):
                if a > start:
                    rows.append((int(c), start, a))
                start = b
            if start < t_end:
                rows.append((int(c), start, t_end))
    return _interval_frame(rows)


def busy_intervals(config, t_end: float, clients: Iterable[int] | None = None) -> pd.DataFrame:
    """Slowdown (busy) periods ``client_id, start_s, end_s`` within ``[0, t_end)`` of a run's clients.

    Recomputed from the config and seed like :func:`offline_intervals` (the speed model is a
    pure function of them); empty when ``heterogeneity.compute.slowdown`` is null.
    """
    rows = []
    if config.heterogeneity.compute.slowdown is not None:
        n = config.data.num_clients
        speed = build_speed(config.heterogeneity.compute, SeedTree(config.seed), n)
        for c in range(n) if clients is None else clients:
            rows.extend((int(c), a, b) for a, b in speed.busy_intervals(int(c), t_end))
    return _interval_frame(rows)


def drift_times(config) -> list[tuple[float, str]]:
    """``(at_s, label)`` of each ``data.drift`` event, sorted by time (list order at equal times).

    Labels are short, for plots: ``label_swap 1↔2 (3 clients)``,
    ``label_permutation (30% of clients)``, ``label_permutation (all clients)``.
    """
    out = []
    for i, ev in sorted(enumerate(config.data.drift), key=lambda p: (p[1].at_s, p[0])):
        what = f"{ev.type} {ev.classes[0]}↔{ev.classes[1]}" if ev.type == "label_swap" else ev.type
        if ev.clients is not None:
            who = f"{len(ev.clients)} client" + ("" if len(ev.clients) == 1 else "s")
        elif ev.fraction >= 1.0:
            who = "all clients"
        else:
            who = f"{ev.fraction * 100:.3g}% of clients"
        out.append((float(ev.at_s), f"{what} ({who})"))
    return out


def _interval_frame(rows: list[tuple[int, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["client_id", "start_s", "end_s"]).astype(
        {"client_id": np.int64, "start_s": float, "end_s": float}
    )
