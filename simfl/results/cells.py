"""Values a parquet table can hold: swept values and tuned settings as cells.

A swept key may take values of several kinds (``latency_s: [0.0, {dist: exponential, mean: 1}]``);
parquet columns hold one type, so mappings and lists are written as YAML flow text, and a column
mixing numbers with text is written as text.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import yaml

__all__ = ["cell_value", "one_kind"]


def cell_value(value: Any) -> Any:
    """A value as a table cell: mappings and lists as YAML flow text, everything else as it is."""
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return value


def one_kind(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every object column that mixes numbers and text turned into text (missing stays missing)."""
    for column in frame.columns:
        values = frame[column]
        if values.dtype != object:
            continue
        kinds = {type(v) for v in values if not _missing(v)}
        if len(kinds) <= 1 or kinds <= {int, float, bool}:
            continue
        frame[column] = values.map(lambda v: None if _missing(v) else str(v))
    return frame


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
