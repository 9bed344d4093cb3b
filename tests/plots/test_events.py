"""Event lines (concept drift times) on the convergence plots: where they are drawn, and where not."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from simfl.plots import plot_convergence, plot_convergence_band
from tests.plots.helpers import by_gid, legend_texts

EVALS = pd.DataFrame({"sim_time_s": [0.0, 1.0, 2.0, 4.0], "test_accuracy": [0.1, 0.5, 0.6, 0.8],
                      "client_updates": [0, 3, 6, 12]})
EVENTS = [(2.5, "label_swap 1↔2 (3 clients)"), (1.0, "label_permutation (all clients)"), (50.0, "after the end")]


def _assert_events(ax, xlim_without):
    art = by_gid(ax)
    for i, (t, label) in enumerate(EVENTS[:2]):
        line = art[f"event/{i}"]
        np.testing.assert_allclose(line.get_xdata(), [t, t])
        assert line.get_linestyle() == "--"
        (text,) = [x for x in ax.texts if x.get_gid() == f"event_label/{i}"]
        assert text.get_text() == label and text.get_position()[0] == t
    assert "event/2" not in art  # beyond the data: skipped rather than widening the axes
    assert ax.get_xlim() == xlim_without


def test_plot_convergence_marks_events():
    plain = plot_convergence({"run": EVALS})
    fig = plot_convergence({"run": EVALS}, events=EVENTS)
    ax = fig.axes[0]
    _assert_events(ax, plain.axes[0].get_xlim())
    assert legend_texts(fig) == ["run"]  # event lines stay out of the legend
    np.testing.assert_allclose(ax.lines[0].get_ydata(), EVALS["test_accuracy"])
    plt.close("all")


def test_plot_convergence_band_marks_events():
    runs = pd.concat([EVALS.assign(seed=0), EVALS.assign(seed=1, test_accuracy=EVALS.test_accuracy + 0.1)])
    plain = plot_convergence_band(runs, by=None)
    fig = plot_convergence_band(runs, by=None, events=EVENTS)
    ax = fig.axes[0]
    _assert_events(ax, plain.axes[0].get_xlim())
    assert legend_texts(fig) == ["all runs (n=2)"]
    plt.close("all")


@pytest.mark.parametrize("plot", [lambda ev: plot_convergence({"run": EVALS}, x="client_updates", events=ev),
                                  lambda ev: plot_convergence_band(EVALS.assign(seed=0), by=None,
                                                                   x="client_updates", events=ev)])
def test_events_need_a_time_axis(plot):
    with pytest.raises(ValueError, match="simulated times.*x='client_updates'"):
        plot(EVENTS)
    plt.close(plot([]))  # no events: any x is fine
