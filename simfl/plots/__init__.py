"""Plots: DataFrames in, matplotlib Figures out. Never imports the engine.

Single-concept modules: :mod:`~simfl.plots.convergence` (one line per run),
:mod:`~simfl.plots.band` (mean and t-band across seeds), :mod:`~simfl.plots.targets`
(time to accuracy against a swept parameter), :mod:`~simfl.plots.staleness`,
:mod:`~simfl.plots.participation` (who gets heard), :mod:`~simfl.plots.timeline`
(client Gantt chart), :mod:`~simfl.plots.partition` (client x label heatmap of what each
client holds), and :mod:`~simfl.plots.figures` (the standard sets for a run and a sweep).

The package leaves the matplotlib backend alone (notebooks keep their inline backend;
headless machines fall back to Agg); the ``simfl plot`` command selects Agg itself.
"""

from simfl.plots.convergence import LABELS, plot_convergence
from simfl.plots.band import plot_convergence_band
from simfl.plots.figures import run_figures, sweep_figures
from simfl.plots.participation import plot_participation
from simfl.plots.partition import partition_heatmap
from simfl.plots.staleness import plot_staleness_histogram
from simfl.plots.targets import plot_time_to_target
from simfl.plots.timeline import plot_client_timeline

__all__ = [
    "plot_convergence",
    "LABELS",
    "plot_convergence_band",
    "plot_time_to_target",
    "plot_staleness_histogram",
    "plot_participation",
    "plot_client_timeline",
    "partition_heatmap",
    "run_figures",
    "sweep_figures",
]
