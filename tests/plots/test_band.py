"""plot_convergence_band: last-value alignment, mean line, Student-t band (on the logit for accuracies), runs."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simfl.plots import plot_convergence_band
from tests.plots.helpers import has_point, legend_texts


def _runs() -> pd.DataFrame:
    """Group ``a``: three seeds evaluated at different times; group ``b``: one seed."""
    rows = [
        ("a", 0, [0, 1, 2, 3, 4], [0.1, 0.4, 0.6, 0.7, 0.8]),
        ("a", 1, [0, 1.5, 3], [0.2, 0.5, 0.9]),
        ("a", 2, [0, 1, 2], [0.0, 0.3, 0.5]),
        ("b", 0, [0, 2], [0.3, 0.6]),
    ]
    return pd.DataFrame(
        [(alg, seed, x, y) for alg, seed, xs, ys in rows for x, y in zip(xs, ys)],
        columns=["algorithm", "seed", "sim_time_s", "test_accuracy"],
    )


# Group a on the grid [0, 1, 1.5, 2, 3, 4], each seed's last value carried forward, NaN after its end.
GRID = np.array([0, 1, 1.5, 2, 3, 4])
ALIGNED = np.array([
    [0.1, 0.4, 0.4, 0.6, 0.7, 0.8],
    [0.2, 0.2, 0.5, 0.5, 0.9, np.nan],
    [0.0, 0.3, 0.3, 0.5, np.nan, np.nan],
])


def test_mean_line_and_t_band_match_hand_computation():
    fig = plot_convergence_band(_runs(), by="algorithm", level=0.9, interval="t")
    ax = fig.axes[0]
    line_a, line_b = ax.lines
    n = np.sum(~np.isnan(ALIGNED), axis=0)
    mean = np.nanmean(ALIGNED, axis=0)
    np.testing.assert_allclose(line_a.get_xdata(), GRID)
    np.testing.assert_allclose(line_a.get_ydata(), mean)
    np.testing.assert_allclose(line_b.get_xdata(), [0, 2])
    np.testing.assert_allclose(line_b.get_ydata(), [0.3, 0.6])

    (band,) = ax.collections  # the single-run group b has no band
    verts = np.vstack([p.vertices for p in band.get_paths()])
    for j in range(len(GRID)):
        if n[j] < 2:  # x = 4: only seed 0 left, no band there
            assert not np.any(np.isclose(verts[:, 0], GRID[j]))
            continue
        col = ALIGNED[~np.isnan(ALIGNED[:, j]), j]
        half = stats.t.ppf(0.95, n[j] - 1) * col.std(ddof=1) / np.sqrt(n[j])
        assert has_point(verts, GRID[j], mean[j] - half)
        assert has_point(verts, GRID[j], mean[j] + half)
    assert legend_texts(fig) == ["a (n=3)", "b (n=1)"]
    assert ax.get_legend().get_title().get_text() == "band: mean, Student-t interval (90%, over runs)"
    plt.close(fig)


def _logit(v):
    v = np.clip(v, 1e-3, 1 - 1e-3)
    return np.log(v / (1 - v))


def _expit(v):
    return 1 / (1 + np.exp(-v))


def test_default_band_for_accuracy_is_student_t_on_the_logit_and_stays_in_range():
    """Near the top of [0, 1] a t-band with 3 runs passes 1; the band on the logit never does."""
    runs = pd.DataFrame({"algorithm": "a", "seed": [0, 1, 2], "sim_time_s": 1.0, "test_accuracy": [0.7, 0.98, 0.99]})
    t_band = plot_convergence_band(runs, by="algorithm", interval="t").data["band"]
    assert t_band["high"].iloc[0] > 1.0  # the reason for the default
    fig = plot_convergence_band(runs, by="algorithm", level=0.9)
    band = fig.data["band"]
    z = _logit(runs["test_accuracy"].to_numpy())
    half = stats.t.ppf(0.95, 2) * z.std(ddof=1) / np.sqrt(3)
    assert band["mean"].iloc[0] == pytest.approx(_expit(z.mean()))
    assert band["low"].iloc[0] == pytest.approx(_expit(z.mean() - half))
    assert band["high"].iloc[0] == pytest.approx(_expit(z.mean() + half))
    assert 0 < band["low"].iloc[0] <= band["high"].iloc[0] < 1
    title = fig.axes[0].get_legend().get_title().get_text()
    assert title == "band: mean on the logit scale, Student-t interval (90%, over runs)"
    # a column that is not an accuracy keeps the plain t interval
    loss = plot_convergence_band(runs.rename(columns={"test_accuracy": "test_loss"}), by="algorithm", y="test_loss")
    assert loss.data["band"]["mean"].iloc[0] == pytest.approx(runs["test_accuracy"].mean())
    plt.close("all")


def test_bands_over_time_stay_inside_zero_one():
    fig = plot_convergence_band(_runs(), by="algorithm")
    band = fig.data["band"]
    a = band[band["group"] == "a"]
    np.testing.assert_allclose(a["x"], GRID)
    ok = a["n"] >= 2
    assert ((a.loc[ok, "low"] > 0) & (a.loc[ok, "high"] < 1)).all()
    assert (a.loc[ok, "low"] <= a.loc[ok, "mean"]).all() and (a.loc[ok, "mean"] <= a.loc[ok, "high"]).all()
    assert a.loc[~ok, "low"].isna().all()  # one run left: no interval
    plt.close(fig)


def test_runs_drawn_as_thin_lines():
    fig = plot_convergence_band(_runs(), by="algorithm", show="runs")
    ax = fig.axes[0]
    thin = [line for line in ax.lines if line.get_label() == "_run"]
    assert len(thin) == 4 and not ax.collections  # one per run, no band
    assert legend_texts(fig) == ["a (n=3)", "b (n=1)"]
    plt.close(fig)


def test_run_id_identifies_runs_when_present():
    df = _runs()
    df = df[df.algorithm == "a"].assign(algorithm="x", seed=0)  # seeds collide, run ids do not
    df["run_id"] = "r" + _runs().loc[df.index, "seed"].astype(str)
    fig = plot_convergence_band(df, by="algorithm", interval="t")
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), np.nanmean(ALIGNED, axis=0))
    assert legend_texts(fig) == ["x (n=3)"]
    plt.close(fig)
    with pytest.raises(ValueError, match="does not identify runs.*run_id"):
        plot_convergence_band(df, by="algorithm", unit="seed")


def test_nan_values_are_skipped_and_missing_columns_named():
    df = _runs()
    df.loc[(df.seed == 1) & (df.sim_time_s == 3), "test_accuracy"] = np.nan  # seed 1 now ends at 1.5
    fig = plot_convergence_band(df[df.algorithm == "a"], by="algorithm", interval="t")
    expected = ALIGNED.copy()
    expected[1, 3:] = np.nan  # no longer carried past 1.5
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), np.nanmean(expected, axis=0))
    plt.close(fig)
    with pytest.raises(ValueError, match="no column 'algo'.*available columns: algorithm, seed"):
        plot_convergence_band(df, by="algo")


def test_draws_into_a_given_axes_with_custom_title():
    fig, ax = plt.subplots()
    assert plot_convergence_band(_runs(), ax=ax, title="T") is fig
    assert ax.get_title() == "T" and ax.get_ylabel() == "test accuracy"
    plt.close(fig)
