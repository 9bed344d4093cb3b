"""plot_time_to_target and plot_km_curves: runs that never reached the target count (censored), never dropped."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from simfl.plots import plot_km_curves, plot_time_to_target
from simfl.results import km_curves, survival_table
from tests.plots.helpers import legend_texts

NAN = np.nan
SIGMA = "heterogeneity.compute.seconds_per_sample.sigma"
TIMES = {  # (algorithm, sigma) -> time to 0.8 for seeds 0..4 (NaN: never reached within the 100 s runs)
    ("fedasync", 0.5): [10, 12, 14, NAN, NAN],
    ("fedasync", 1.0): [20, 21, 22, 23, 24],
    ("fedavg", 0.5): [NAN] * 5,
    ("fedavg", 1.0): [30, NAN, NAN, NAN, NAN],
}


def _summary() -> pd.DataFrame:
    rows = [
        {"run_id": f"{a}-{s}-{seed}", "algorithm.type": a, SIGMA: s, "seed": seed, "status": "complete",
         "time_to_0.8_s": t, "sim_end_s": 100.0, "final_accuracy": 0.8}
        for (a, s), times in TIMES.items() for seed, t in enumerate(times)
    ]
    # A failed run is not evidence either way: it must not turn fedasync's 5/5 at sigma 1 into 5/6.
    rows.append({"run_id": "bad", "algorithm.type": "fedasync", SIGMA: 1.0, "seed": 5, "status": "failed",
                 "time_to_0.8_s": NAN, "sim_end_s": NAN, "final_accuracy": NAN})
    return pd.DataFrame(rows)


def _points(ax, label):
    (bars,) = [c for c in ax.containers if c.get_label() == label]
    return bars.lines[0].get_xdata(), bars.lines[0].get_ydata(), bars.lines[2][0].get_segments()


def test_restricted_mean_counts_runs_that_never_reached_the_target():
    fig = plot_time_to_target(_summary(), SIGMA, 0.8)
    ax = fig.axes[0]
    assert sorted(c.get_label() for c in ax.containers) == ["FedAsync", "FedAvg"]
    table = fig.data["time_to_target"]
    xs, ys, segments = _points(ax, "FedAsync")
    # the 2 seeds that never got there add τ = 100 each, instead of vanishing (which gave 12 before)
    np.testing.assert_allclose(ys, [(10 + 12 + 14 + 100 + 100) / 5, 22.0])
    assert xs[0] != 0.5 and abs(xs[0] - 0.5) < 0.1  # side by side with FedAvg's point at the same sigma
    _, avg, _ = _points(ax, "FedAvg")
    np.testing.assert_allclose(avg, [100.0, (30 + 4 * 100) / 5])
    mine = table[table["algorithm.type"] == "fedasync"].sort_values(SIGMA)
    np.testing.assert_allclose(ys, mine["rmst_s"])
    for seg, lo, hi in zip(segments, mine["rmst_ci_low_s"], mine["rmst_ci_high_s"]):
        np.testing.assert_allclose(sorted(seg[:, 1]), [lo, hi])
    assert ((table["rmst_ci_low_s"] >= 0) & (table["rmst_ci_high_s"] <= table["horizon_s"])).all()
    assert (table["horizon_s"] == 100.0).all()
    assert sorted(t.get_text() for t in ax.texts) == ["0/5", "1/5", "3/5"]
    assert table.set_index(["algorithm.type", SIGMA]).loc[("fedasync", 1.0), "n_runs"] == 5  # failed run left out
    pd.testing.assert_frame_equal(table.reset_index(drop=True),
                                  survival_table(_summary(), 0.8, group_on=[SIGMA]).reset_index(drop=True),
                                  check_like=True)
    assert ax.get_ylabel() == "restricted mean time to 0.8 accuracy (s)"
    assert ax.get_xlabel() == "spread σ of client speed (lognormal)"
    assert "restricted mean within τ" in fig.legends[0].get_title().get_text()
    plt.close(fig)


def test_median_not_reached_is_an_arrow_at_the_horizon():
    fig = plot_time_to_target(_summary(), SIGMA, 0.8, statistic="median")
    ax = fig.axes[0]
    _, ys, _ = _points(ax, "FedAsync")
    np.testing.assert_allclose(ys, [14.0, 22.0])  # first time with Ŝ ≤ 1/2: 3 of 5 reached by 14
    _, avg, _ = _points(ax, "FedAvg")
    np.testing.assert_allclose(avg, [100.0, 100.0])  # not reached: drawn at τ ...
    arrows = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    assert len(arrows) == 2  # ... with an upward arrow each
    plt.close(fig)


def test_one_line_without_by():
    s = _summary()
    fig = plot_time_to_target(s[s["algorithm.type"] == "fedasync"], SIGMA, 0.8, by=None)
    (c,) = fig.axes[0].containers
    np.testing.assert_allclose(c.lines[0].get_ydata(), [47.2, 22.0])
    plt.close(fig)


@pytest.mark.parametrize(("x", "target", "missing"), [
    (SIGMA, 0.9, "time_to_0.9_s"),
    ("data.num_clients", 0.8, "data.num_clients"),
])
def test_missing_columns_are_named_with_the_available_ones(x, target, missing):
    with pytest.raises(ValueError, match=f"no column '{missing}'; available columns: run_id, algorithm.type"):
        plot_time_to_target(_summary(), x, target)


def test_non_numeric_x_and_unknown_statistic_are_rejected():
    with pytest.raises(ValueError, match="'status' must be numeric"):
        plot_time_to_target(_summary(), "status", 0.8)
    with pytest.raises(ValueError, match="statistic must be one of rmst, median"):
        plot_time_to_target(_summary(), SIGMA, 0.8, statistic="mean")


def test_km_curves_one_panel_per_world():
    fig = plot_km_curves(_summary(), 0.8)
    assert [ax.get_title() for ax in fig.axes] == ["σ = 0.5", "σ = 1"]
    pd.testing.assert_frame_equal(fig.data["km"], km_curves(_summary(), 0.8))
    left = fig.axes[0]
    steps = {line.get_label(): line for line in left.lines if not line.get_label().startswith("_")}
    fedasync = steps["FedAsync (n=5)"]
    # 1 − Ŝ: 0 until 10, then 1/5, 2/5, 3/5 and flat to the end of the runs (two censored at 100)
    np.testing.assert_allclose(fedasync.get_xdata(), [0, 10, 12, 14, 100, 100])
    np.testing.assert_allclose(fedasync.get_ydata(), [0, 0.2, 0.4, 0.6, 0.6, 0.6])
    assert legend_texts(fig) == ["FedAvg (n=5)", "FedAsync (n=5)"]
    curves = fig.data["km"]
    ok = curves["reached_low"].notna()
    assert ((curves.loc[ok, "reached_low"] >= 0) & (curves.loc[ok, "reached_high"] <= 1)).all()
    plt.close(fig)
