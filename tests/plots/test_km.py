"""Kaplan–Meier figure polish: curves that coincide stay visible, readable bands, the y-label on the panels."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba

from simfl.plots import plot_km_curves
from simfl.plots.style import PAPER_RC, method_style
from tests.plots.test_targets import SIGMA, _summary


def _curves(ax):
    """The method curves of a panel (not the band edges or the censoring ticks), in drawing order."""
    return [line for line in ax.lines if not line.get_label().startswith("_")]


@pytest.fixture
def three_methods():
    summary = _summary()
    third = summary[summary["algorithm.type"] == "fedavg"].assign(**{"algorithm.type": "fedbuff"})
    third["run_id"] = "b-" + third["run_id"]
    return __import__("pandas").concat([summary, third], ignore_index=True)


def test_curves_at_zero_do_not_hide_each_other(three_methods):
    fig = plot_km_curves(three_methods, 0.8)
    for ax in fig.axes:
        curves = _curves(ax)
        assert [c.get_label().split(" ")[0] for c in curves] == ["FedAvg", "FedAsync", "FedBuff"]
        # all three start at 0 together: each later curve lies above the earlier ones and is
        # narrower, so every one shows a stripe of at least 0.4 pt on each side where they coincide
        assert all(c.get_ydata()[0] == 0 for c in curves)
        widths = [c.get_linewidth() for c in curves]
        z = [c.get_zorder() for c in curves]
        assert all(b < a and a - b >= 0.8 for a, b in zip(widths, widths[1:])), widths
        assert z == sorted(z) and len(set(z)) == 3
    fedasync = _curves(fig.axes[0])[1]  # σ = 0.5: reached at 10, 12, 14
    assert fedasync.get_marker() == method_style("fedasync").marker
    marked = np.asarray(fedasync.get_xdata())[fedasync.get_markevery()]
    np.testing.assert_allclose(marked, [10, 12, 14])
    plt.close(fig)


def test_bands_are_faint_fills_with_a_solid_edge():
    fig = plot_km_curves(_summary(), 0.8)
    ax = fig.axes[1]  # σ = 1
    bands = [c for c in ax.collections if isinstance(c, PolyCollection) and str(c.get_gid()).startswith("band/")]
    assert len(bands) == 2
    curves = fig.data["km"]
    for band, method in zip(bands, ["fedavg", "fedasync"]):
        face, edge = band.get_facecolor()[0], band.get_edgecolor()[0]
        assert np.allclose(face[:3], to_rgba(method_style(method).color)[:3])
        assert 0.05 <= face[3] <= 0.2 < edge[3] and band.get_linewidth()[0] > 0
        mine = curves[(curves["algorithm.type"] == method) & (curves[SIGMA] == 1.0)]
        ys = band.get_paths()[0].vertices[:, 1]
        # the interval is undefined (NaN) only once every run reached it: drawn as 1 there
        lo, hi = mine["reached_low"].fillna(1.0), mine["reached_high"].fillna(1.0)
        assert np.isclose(ys.min(), lo.min()) and np.isclose(ys.max(), hi.max())
    plt.close(fig)


@pytest.mark.parametrize("worlds", [[0.5], [0.5, 1.0]])
def test_the_y_label_is_clear_of_the_caption_and_the_title(worlds):
    summary = _summary()
    with plt.style.context(PAPER_RC):
        fig = plot_km_curves(summary[summary[SIGMA].isin(worlds)], 0.8)
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = [t for t in [*(ax.yaxis.label for ax in fig.axes), fig._supylabel] if t is not None and t.get_text()]
    assert labels
    others = [fig.legends[0], fig._suptitle]
    panels = [ax.get_window_extent(renderer) for ax in fig.axes if ax.get_visible()]
    bottom, top = min(b.y0 for b in panels), max(b.y1 for b in panels)
    for label in labels:
        box = label.get_window_extent(renderer)
        assert bottom - 1 <= box.y0 and box.y1 <= top + 1, label.get_text()  # beside the panels only
        for other in others:
            assert not box.overlaps(other.get_window_extent(renderer)), label.get_text()
    plt.close(fig)
