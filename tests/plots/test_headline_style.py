"""Headline styling: ratios below 1 are labelled on the log axis, the direction hints sit clear of the data."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from simfl.plots import plot_headline
from simfl.plots.style import PAPER_RC
from tests.plots.helpers import headline_inputs

NAN = np.nan
SIGMA = "heterogeneity.compute.seconds_per_sample.sigma"
# (algorithm, sigma) -> time to 0.7 per seed (NaN: not reached by the end at 100 s): ratios from 1/5 to 30
TIMES = {
    ("fedavg", 0.0): [10, 12, 11, 10],
    ("fedavg", 2.0): [90, 60, 75, 80],
    ("fedasync", 0.0): [50, 55, 45, 60],
    ("fedasync", 2.0): [3, 4, 5, 3],
    ("fedbuff", 0.0): [12, NAN, 10, 9],
    ("fedbuff", 2.0): [30, 35, NAN, 20],
}


def _tables():
    return headline_inputs(TIMES, SIGMA)


@pytest.fixture
def figure():
    with plt.style.context(PAPER_RC):
        fig = plot_headline(*_tables(), SIGMA, 0.7)
        fig.canvas.draw()
    yield fig
    plt.close(fig)


def test_ratios_below_one_have_tick_labels(figure):
    ax = figure.axes[0]
    lo, hi = ax.get_ylim()
    assert lo < 0.25 and hi > 16  # the data span more than two decades
    shown = {float(t.get_text()): t for t in ax.get_yticklabels() if t.get_text() and lo <= t.get_position()[1] <= hi}
    # quarters as plainly as fours (powers of 2 within 10 octaves of view, of 4 within 20: here 10.5)
    assert {0.0625, 0.25, 1.0, 4.0, 16.0} <= set(shown)
    for value, text in shown.items():
        assert np.isclose(text.get_position()[1], value)  # each label at its own value


def test_direction_hints_sit_outside_the_data_area(figure):
    ax, bx = figure.axes[:2]
    renderer = figure.canvas.get_renderer()
    hints = [t for t in [*ax.texts, *figure.texts] if "faster" in t.get_text()]
    assert len(hints) == 2
    data = [a for a in [*ax.lines, *ax.collections, *ax.texts] if a not in hints and a.get_visible()]
    arrows = [c for c in ax.get_children() if type(c).__name__ == "Annotation" and c not in hints]
    assert arrows and data
    for hint in hints:
        box = hint.get_window_extent(renderer)
        assert not box.overlaps(ax.get_window_extent(renderer))  # outside the data area
        assert not box.overlaps(bx.get_window_extent(renderer))
        assert box.x1 <= bx.yaxis.label.get_window_extent(renderer).x0  # left of panel b's y-label
        for artist in [*data, *arrows]:
            other = artist.get_window_extent(renderer)
            if np.isfinite(other.get_points()).all():  # an empty collection has no extent
                assert not box.overlaps(other), (hint.get_text(), artist)
