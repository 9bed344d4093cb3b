"""Run directories, result tables, summaries, paired statistics and censoring-aware time to target.

Names are imported on first use: ``simfl run`` needs only :mod:`simfl.results.rundir`, and the
statistics modules bring in ``scipy.stats`` (a third of a second at start-up).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simfl.results.fairness import gini, jain_index
    from simfl.results.paired import paired_comparison, world_keys
    from simfl.results.retarget import check_targets, summary_with_targets, sweep_target_rule
    from simfl.results.rundir import MANIFEST, TABLES, RunDir, read_manifest, run_status, versions
    from simfl.results.summary import (
        summarize_tables,
        swept_columns,
        target_column,
        target_times,
        target_values,
        time_to_accuracy,
        value_at,
        wasted_compute_s,
    )
    from simfl.results.survival import KaplanMeier, kaplan_meier
    from simfl.results.relative import RelativeTarget
    from simfl.results.targetrule import FIRST, SUSTAINED, TargetRule, target_rule_sentence
    from simfl.results.tables import busy_intervals, drift_times, load_sweep_tables, offline_intervals
    from simfl.results.time_to_target import (
        km_curves,
        paired_time_ratios,
        summarize_time_ratios,
        survival_table,
        target_events,
        with_censoring_times,
    )

#: Public name -> the module defining it.
_WHERE = {
    **dict.fromkeys(["gini", "jain_index"], "fairness"),
    **dict.fromkeys(["paired_comparison", "world_keys"], "paired"),
    **dict.fromkeys(["KaplanMeier", "kaplan_meier"], "survival"),
    **dict.fromkeys(["km_curves", "paired_time_ratios", "summarize_time_ratios", "survival_table", "target_events",
                     "with_censoring_times"], "time_to_target"),
    **dict.fromkeys(["check_targets", "summary_with_targets", "sweep_target_rule"], "retarget"),
    **dict.fromkeys(["TargetRule", "SUSTAINED", "FIRST", "target_rule_sentence"], "targetrule"),
    **dict.fromkeys(["RelativeTarget"], "relative"),
    **dict.fromkeys(["MANIFEST", "TABLES", "RunDir", "read_manifest", "run_status", "versions"], "rundir"),
    **dict.fromkeys(["busy_intervals", "drift_times", "load_sweep_tables", "offline_intervals"], "tables"),
    **dict.fromkeys(["summarize_tables", "swept_columns", "target_column", "target_times", "target_values",
                     "time_to_accuracy", "value_at", "wasted_compute_s"], "summary"),
}

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
    "target_times",
    "summary_with_targets",
    "check_targets",
    "sweep_target_rule",
    "TargetRule",
    "SUSTAINED",
    "FIRST",
    "target_rule_sentence",
    "RelativeTarget",
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


def __getattr__(name: str) -> Any:
    import importlib

    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'simfl.results' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
