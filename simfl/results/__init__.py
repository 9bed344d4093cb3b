"""Run directories, result tables, summaries, paired statistics and censoring-aware time to target."""

from simfl.results.fairness import gini, jain_index
from simfl.results.paired import paired_comparison, world_keys
from simfl.results.survival import KaplanMeier, kaplan_meier
from simfl.results.time_to_target import (
    km_curves,
    paired_time_ratios,
    summarize_time_ratios,
    survival_table,
    target_events,
    with_censoring_times,
)
from simfl.results.rundir import MANIFEST, TABLES, RunDir, read_manifest, run_status, versions
from simfl.results.tables import busy_intervals, drift_times, load_sweep_tables, offline_intervals
from simfl.results.summary import (
    summarize_tables,
    swept_columns,
    target_column,
    target_values,
    time_to_accuracy,
    value_at,
    wasted_compute_s,
)

__all__ = [
    "MANIFEST",
    "TABLES",
    "RunDir",
    "read_manifest",
    "run_status",
    "versions",
    "paired_comparison",
    "world_keys",
    "KaplanMeier",
    "kaplan_meier",
    "survival_table",
    "km_curves",
    "target_events",
    "with_censoring_times",
    "paired_time_ratios",
    "summarize_time_ratios",
    "target_values",
    "value_at",
    "jain_index",
    "gini",
    "summarize_tables",
    "swept_columns",
    "target_column",
    "time_to_accuracy",
    "wasted_compute_s",
    "load_sweep_tables",
    "offline_intervals",
    "busy_intervals",
    "drift_times",
]
