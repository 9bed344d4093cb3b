"""Sweep figures: single-valued grid keys stay out of titles, one legend order in every figure."""

import matplotlib.pyplot as plt
import pytest

from simfl.plots import sweep_figures
from simfl.plots.labels import method_label
from simfl.plots.style import method_order
from tests.plots.helpers import legend_texts
from tests.plots.test_figures import _hand_sweep


def _close(figs):
    for fig in figs.values():
        plt.close(fig)


def _titles(fig) -> list[str]:
    return [fig.get_suptitle(), *(ax.get_title() for ax in fig.axes), *(ax.get_title(loc="left") for ax in fig.axes)]


def test_a_grid_key_held_at_one_value_stays_out_of_every_title():
    grid = {"algorithm.type": ["fedavg", "fedasync"], "algorithm.concurrency": [2, 4], "train.lr": [0.05]}
    summary, evals, updates, clients = _hand_sweep(grid)
    figs = sweep_figures(summary, evals, updates, clients, swept=list(grid), targets=[0.5])
    for name, fig in figs.items():
        for title in _titles(fig):
            assert "learning rate" not in title and "lr" not in title, (name, title)
    panels = [ax.get_title() for ax in figs["convergence"].axes if ax.get_visible()]
    assert panels == ["C = 2", "C = 4"]
    _close(figs)


@pytest.mark.parametrize("methods", [["fedbuff", "fedasync", "fedavg"],
                                     ["zeta-variant", "fedbuff", "alpha-variant", "fedavg"]])
def test_every_legend_lists_methods_in_method_order(methods):
    grid = {"algorithm.type": methods, "algorithm.concurrency": [2, 4]}
    summary, evals, updates, clients = _hand_sweep(grid)
    figs = sweep_figures(summary, evals, updates, clients, swept=list(grid), targets=[0.5])
    names = {method_label(m): m for m in methods}
    order = method_order(methods)
    checked = 0
    for name, fig in figs.items():
        seen = []
        for text in legend_texts(fig):
            match = [m for label, m in names.items() if text == label or text.startswith((label + " ", label + ","))]
            if match:
                seen.append(order.index(match[0]))
        assert seen == sorted(seen), (name, legend_texts(fig))
        checked += len(seen) >= 2
    assert checked >= 5
    _close(figs)
