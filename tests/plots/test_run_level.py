"""The figures of one run: the method's own colour, "this run", integer ticks for counts, a legend of what is drawn."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex

from simfl.plots import plot_client_timeline, run_figures
from simfl.plots.style import method_style
from tests.conftest import dry_run
from tests.plots.helpers import RUN_WORLD as WORLD
from tests.plots.helpers import close_all as _close
from tests.plots.helpers import legend_texts


def test_one_run_is_drawn_in_its_methods_colour_and_called_this_run():
    result = dry_run(**WORLD, algorithm={"type": "fedasync", "concurrency": 4})
    figs = run_figures(result)
    color = method_style("fedasync").color
    (stairs,) = figs["staleness"].axes[0].patches
    assert to_hex(stairs.get_edgecolor()) == color.lower()
    (scatter,) = figs["participation"].axes[0].collections
    assert {to_hex(c) for c in scatter.get_facecolors()} == {color.lower()}
    for name in ("staleness", "participation"):
        (text,) = legend_texts(figs[name])
        assert text.startswith("this run") and "all runs" not in text, text
    _close(figs)


def _tick_values(axis) -> np.ndarray:
    lo, hi = sorted(axis.get_view_interval())
    ticks = np.asarray(axis.get_majorticklocs(), float)
    return ticks[(ticks >= lo) & (ticks <= hi)]


def test_counts_have_integer_ticks():
    # few applied updates per client: a default locator puts ticks at 0.5 steps
    result = dry_run(**{**WORLD, "stop": {"sim_time_s": 3}}, algorithm={"type": "fedasync", "concurrency": 2})
    figs = run_figures(result)
    for name, axis in (("participation", figs["participation"].axes[0].yaxis),
                       ("convergence", figs["convergence"].axes[0].yaxis)):  # a dry run: client updates
        figs[name].canvas.draw()
        ticks = _tick_values(axis)
        assert ticks.size >= 2 and np.allclose(ticks, np.round(ticks)), (name, ticks)
    _close(figs)


def test_the_timeline_legend_lists_only_what_is_drawn():
    asynchronous = dry_run(**WORLD, algorithm={"type": "fedasync", "concurrency": 4})
    fig = plot_client_timeline(asynchronous.client_updates, clients=asynchronous.clients)
    # no network (no download or upload), no waits, no slowdowns, no offline table, no rounds
    assert set(legend_texts(fig)) <= {"compute", "lost (went offline)"}
    assert "compute" in legend_texts(fig)
    plt.close(fig)
    sync = dry_run(**WORLD, algorithm={"type": "fedavg", "clients_per_round": 4, "deadline_s": 1.5})
    statuses = set(sync.client_updates["status"].astype(str))
    assert {"lost_offline", "discarded_deadline"} <= statuses  # the world does lose and discard tasks
    offline = pd.DataFrame({"client_id": [0], "start_s": [2.0], "end_s": [4.0]})
    fig = plot_client_timeline(sync.client_updates, offline=offline, clients=sync.clients, t_max=12.0)
    assert legend_texts(fig) == ["compute", "offline", "lost (went offline)", "discarded (by the server)",
                                 "end of a round"]
    plt.close(fig)
