"""``DIR/tuning.parquet``: one row per tuning trial, written atomically.

Columns: the cell's swept keys and the contestant (``tune.by``); ``setting_index`` and
``setting`` (``key=value, ...``) with one ``tuned:<key>`` column per tuned key; ``seed`` (a tuning
seed) and ``run_id`` (its directory under ``DIR/tuning/``); ``status`` (``complete``, ``paused``
when it was stopped early and kept its checkpoint, ``diverged``, ``failed``, ...) and
``reached_s`` (where a paused trial stands); ``rung_s`` (the last rung its setting was scored
at), ``time_to_target_s`` (capped at ``rung_s``; NaN for ``accuracy_at``), ``validation_accuracy``
(at ``rung_s``, or at the budget), ``criterion`` (its setting's score there: mean over the tuning
seeds), ``stopped_early``, ``chosen`` and ``error``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from simfl.results.cells import cell_value, one_kind

__all__ = ["TUNING_TABLE", "write_tuning_table"]

TUNING_TABLE = "tuning.parquet"


def write_tuning_table(out: Path, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Write ``out/tuning.parquet`` from the trial rows (atomically) and return it."""
    df = one_kind(pd.DataFrame.from_records([{k: cell_value(v) for k, v in row.items()} for row in rows]))
    path = Path(out) / TUNING_TABLE
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return df
