"""Plots: DataFrames in, matplotlib Figures out. Never imports the engine.

Single-concept modules: :mod:`~simfl.plots.headline` (the speed-up against the heterogeneity
knob, censored seeds as bounds, and accuracy within a budget), :mod:`~simfl.plots.convergence`
(one line per run), :mod:`~simfl.plots.band` (mean across seeds with a Student-t band or the
runs themselves), :mod:`~simfl.plots.difference` (paired differences to a reference),
:mod:`~simfl.plots.targets` (censoring-aware time to target against a swept parameter),
:mod:`~simfl.plots.km` (Kaplan–Meier curves), :mod:`~simfl.plots.staleness_distribution`
(histogram and log CCDF of update staleness), :mod:`~simfl.plots.participation` (who gets heard,
how fairly), :mod:`~simfl.plots.timeline` (client Gantt chart with rounds and stragglers),
:mod:`~simfl.plots.label_heatmap` (client x label heatmap of what each client holds), and
:mod:`~simfl.plots.figures` (the standard sets for a run and a sweep). :mod:`~simfl.plots.style`
fixes one colour and marker per method for every figure; :mod:`~simfl.plots.labels` turns config
keys into readable text. Helpers: :mod:`~simfl.plots._common` (axes, panels, legends, groups,
events) and :mod:`~simfl.plots._grid` (runs on one time grid).

Every figure function returns a Figure whose ``data`` attribute is a dict of the DataFrames it
drew (the statistics, not pixels), so the numbers behind a figure can be checked and reused.
The package leaves the matplotlib backend alone (notebooks keep their inline backend;
headless machines fall back to Agg); the ``simfl plot`` command selects Agg itself.
"""

from simfl.plots.convergence import LABELS, plot_convergence
from simfl.plots.band import plot_convergence_band
from simfl.plots.difference import plot_paired_difference
from simfl.plots.figures import run_figures, sweep_figures
from simfl.plots.headline import headline_tables, plot_headline
from simfl.plots.km import plot_km_curves
from simfl.plots.labels import axis_label, method_label, set_label
from simfl.plots.participation import plot_participation, plot_participation_panels
from simfl.plots.label_heatmap import partition_heatmap
from simfl.plots.staleness_distribution import plot_staleness_ccdf, plot_staleness_histogram
from simfl.plots.style import method_style, set_method_style, style_context
from simfl.plots.targets import plot_time_to_target
from simfl.plots.timeline import plot_client_timeline

__all__ = [
    "plot_convergence",
    "LABELS",
    "plot_convergence_band",
    "plot_paired_difference",
    "plot_time_to_target",
    "plot_km_curves",
    "plot_headline",
    "headline_tables",
    "plot_staleness_histogram",
    "plot_staleness_ccdf",
    "plot_participation",
    "plot_participation_panels",
    "plot_client_timeline",
    "partition_heatmap",
    "run_figures",
    "sweep_figures",
    "method_style",
    "set_method_style",
    "style_context",
    "axis_label",
    "method_label",
    "set_label",
]
