"""``size=column|text``: every figure as wide as the preset, nothing drawn outside it, ticks at 7 pt or more."""

import matplotlib.pyplot as plt
import pytest

from simfl.plots import run_figures, sweep_figures
from simfl.plots.style import SIZES, size_context, style_context
from tests.conftest import dry_run
from tests.plots.test_figures import SIGMA, WORLD, _sweep_runs


def _visible_ticks(fig):
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                label = tick.label1
                if label.get_visible() and label.get_text() and lo <= tick.get_loc() <= hi:
                    yield label


def _check(name, fig, width):
    assert abs(fig.get_figwidth() - width) <= 0.01 * width, (name, fig.get_figwidth())
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.get_tightbbox(renderer)  # inches: what a tight save would keep
    assert box.x0 >= -0.01 * width and box.x1 <= 1.01 * width, (name, box.x0, box.x1)
    ticks = list(_visible_ticks(fig))
    assert ticks, name
    small = [(t.get_text(), t.get_fontsize()) for t in ticks if t.get_fontsize() < 7]
    assert not small, (name, small[:3])
    legends = [t for leg in [*fig.legends, *(ax.get_legend() for ax in fig.axes)] if leg is not None
               for t in leg.get_texts()]
    assert all(t.get_fontsize() >= 7 for t in legends), name


@pytest.mark.parametrize("size", list(SIZES))
def test_sweep_figures_at_each_size(size):
    summary, evals, updates, clients = _sweep_runs()
    with style_context("paper"):
        figs = sweep_figures(summary, evals, updates, clients, swept=["algorithm.type", SIGMA], targets=[0.8],
                             size=size)
        for name, fig in figs.items():
            _check(name, fig, SIZES[size])
            plt.close(fig)
    assert len(figs) >= 7


@pytest.mark.parametrize("size", list(SIZES))
def test_run_figures_at_each_size(size):
    result = dry_run(**WORLD, algorithm={"type": "fedavg", "clients_per_round": 4, "deadline_s": 1.5})
    with style_context("paper"):
        figs = run_figures(result, size=size)
        for name, fig in figs.items():
            _check(name, fig, SIZES[size])
            plt.close(fig)


def test_an_unknown_size_is_named():
    with pytest.raises(ValueError, match="unknown size 'poster': use one of column, text"):
        with size_context("poster"):
            pass


@pytest.mark.parametrize("size", list(SIZES))
def test_partition_heatmap_at_each_size(size):
    from simfl.plots import partition_heatmap
    from tests.plots.test_label_heatmap import _random_counts

    with style_context("paper"), size_context(size):
        fig = partition_heatmap(_random_counts(50))
        _check("partition", fig, SIZES[size])
    plt.close(fig)
