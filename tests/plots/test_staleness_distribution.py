"""plot_staleness_histogram: probability mass per integer staleness, means in the legend."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from simfl.plots import plot_staleness_ccdf, plot_staleness_histogram
from simfl.plots.staleness_distribution import staleness_ccdf
from tests.conftest import dry_run
from tests.plots.helpers import legend_texts


def _updates() -> pd.DataFrame:
    staleness = {"fedasync": [0, 1, 1, 2, 5, None, None], "fedavg": [0, 0, 0, None]}
    rows = [(alg, s) for alg, values in staleness.items() for s in values]
    df = pd.DataFrame(rows, columns=["algorithm", "staleness"])
    df["staleness"] = df["staleness"].astype("Int64")
    return df


def _stairs(ax) -> list:
    return [p for p in ax.patches if hasattr(p, "get_data")]


def test_masses_match_value_counts_and_means_are_in_the_legend():
    df = _updates()
    fig = plot_staleness_histogram(df, by="algorithm")
    ax = fig.axes[0]
    avg, asynch = _stairs(ax)
    for patch, alg in ((asynch, "fedasync"), (avg, "fedavg")):
        values, edges, _ = patch.get_data()
        expected = df.loc[df.algorithm == alg, "staleness"].value_counts(normalize=True)
        expected = expected.reindex(range(len(values)), fill_value=0.0)
        assert np.isclose(values.sum(), 1.0)
        np.testing.assert_allclose(values, expected.to_numpy())
        np.testing.assert_allclose(edges, np.arange(len(values) + 1) - 0.5)  # integer bins
    np.testing.assert_allclose(asynch.get_data()[0], [0.2, 0.4, 0.2, 0, 0, 0.2])
    assert legend_texts(fig) == ["FedAvg: mean 0.00 (n=3)", "FedAsync: mean 1.80 (n=5)"]  # method order
    assert ax.get_xlabel() == "staleness (server versions behind)" and ax.get_ylabel() == "probability"
    plt.close(fig)


def test_a_dry_run_table():
    updates = dry_run(algorithm={"type": "fedasync", "concurrency": 5}, stop={"sim_time_s": 10}).client_updates
    fig = plot_staleness_histogram(updates, by=None)
    (patch,) = _stairs(fig.axes[0])
    values = patch.get_data()[0]
    arrived = updates["staleness"].dropna()
    expected = arrived.value_counts(normalize=True).reindex(range(len(values)), fill_value=0.0)
    np.testing.assert_allclose(values.sum(), 1.0)
    np.testing.assert_allclose(values, expected.to_numpy())
    assert legend_texts(fig) == [f"all runs: mean {arrived.mean():.2f} (n={len(arrived)})"]
    plt.close(fig)


def test_ccdf_is_the_tail_probability():
    s = pd.Series([0, 1, 1, 2, 5, None], dtype="Int64")
    np.testing.assert_allclose(staleness_ccdf(s), [1.0, 0.8, 0.4, 0.2, 0.2, 0.2])


def test_ccdf_panels_keep_worlds_apart_and_fit_their_data():
    sigma = "heterogeneity.compute.seconds_per_sample.sigma"
    df = pd.concat([
        pd.DataFrame({"algorithm.type": "fedasync", sigma: 0.5, "staleness": [0, 1, 1, 2]}),
        pd.DataFrame({"algorithm.type": "fedasync", sigma: 1.5, "staleness": [3, 30, 270, 5]}),
        pd.DataFrame({"algorithm.type": "fedavg", sigma: 0.5, "staleness": [0, 0, 0]}),
    ])
    df["staleness"] = df["staleness"].astype("Int64")
    fig = plot_staleness_ccdf(df, by="algorithm.type", panel_by=[sigma])
    table = fig.data["staleness"]
    low = table[(table[sigma] == 0.5) & (table["group"] == "fedasync")]
    np.testing.assert_allclose(low["ccdf"], staleness_ccdf(pd.Series([0, 1, 1, 2])))  # σ = 1.5 not pooled in
    assert low["n"].iloc[0] == 4 and low["mean"].iloc[0] == 1.0
    left, right = fig.axes
    assert right.get_xlim()[1] == 270.5 and left.get_xlim()[1] == 2.5  # each panel ends past its own data
    assert left.get_yscale() == "log" and [ax.get_title() for ax in fig.axes] == ["σ = 0.5", "σ = 1.5"]
    assert legend_texts(fig) == ["FedAvg", "FedAsync"]  # one legend for the figure
    assert all(ax.get_legend() is None for ax in fig.axes)
    fedavg = table[table["group"] == "fedavg"]
    assert fedavg["staleness"].tolist() == [0] and fedavg["ccdf"].tolist() == [1.0]
    plt.close(fig)
