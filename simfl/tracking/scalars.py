"""What the built-in writers log: the scalars of an evaluation and the run's tags.

At each evaluation (x-axis: simulated time, see ``docs/tracking.md``):

* ``evals/<column>`` for every numeric column of the ``evals`` row: ``evals/test_accuracy``,
  ``evals/test_loss``, ``evals/sim_time_s``, ``evals/server_version``, ``evals/client_updates``
  (updates received so far) and any extra metric;
* ``updates/<status>``: client tasks by status so far (``updates/applied``,
  ``updates/dropped_stale``, ``updates/lost_offline``, ``updates/discarded_deadline``,
  ``updates/buffered``, ``updates/in_flight``), and ``updates/mean_staleness`` of the applied
  updates.

A value that is nan (a dry run's accuracy, a mean staleness before any update) is left out.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping

import yaml

from simfl.tracking.records import RunInfo, UpdateCounts

__all__ = ["evaluation_scalars", "run_tags", "tag_value"]


def evaluation_scalars(row: Mapping[str, Any], updates: UpdateCounts) -> dict[str, float]:
    """The scalars of one evaluation, by tag (nan values left out)."""
    out: dict[str, float] = {}
    for key, value in row.items():
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
            out[f"evals/{key}"] = float(value)
    for key, value in zip(UpdateCounts._fields, updates):
        if math.isfinite(value):
            out[f"updates/{key}"] = float(value)
    return out


def tag_value(value: Any) -> bool | int | float | str:
    """A tag's value as a number, a bool or a string (mappings and lists as flow YAML)."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, numbers.Real):
        return float(value)
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def run_tags(info: RunInfo) -> dict[str, bool | int | float | str]:
    """The tags a run is logged with: its sweep's swept keys and values, and its seed."""
    return {**{str(k): tag_value(v) for k, v in info.tags.items()}, "seed": info.config.seed}
