"""plot_participation: applied updates per client against its speed, zeros included."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfl.plots import plot_participation, plot_participation_panels
from simfl.results.fairness import gini, jain_index, uniform_jain_mean
from tests.plots.helpers import legend_texts

CLIENTS = pd.DataFrame({"client_id": [0, 1, 2, 3], "seconds_per_sample": [0.01, 0.002, 0.05, 0.001]})


def _updates(statuses: dict[int, list[str]]) -> pd.DataFrame:
    rows = [(c, s) for c, ss in statuses.items() for s in ss]
    df = pd.DataFrame(rows, columns=["client_id", "status"])
    df["status"] = pd.Categorical(df["status"], categories=[
        "in_flight", "applied", "dropped_stale", "lost_offline", "discarded_deadline", "buffered"])
    return df


# client 0: 2 applied (+1 lost); 1: 3 applied; 2: none applied (1 discarded, 1 buffered); 3: no task at all
ONE_RUN = {0: ["applied", "lost_offline", "applied"], 1: ["applied"] * 3, 2: ["discarded_deadline", "buffered"]}


def _points(collection) -> set[tuple[float, float]]:
    return {(float(x), float(y)) for x, y in collection.get_offsets()}


def test_counts_per_client_with_zeros():
    fig = plot_participation(_updates(ONE_RUN), CLIENTS)
    ax = fig.axes[0]
    (dots,) = ax.collections
    assert _points(dots) == {(0.01, 2), (0.002, 3), (0.05, 0), (0.001, 0)}
    assert ax.get_xscale() == "log"
    assert ax.get_ylabel() == "applied updates per client"
    assert legend_texts(fig) == ["all runs (5 applied)"]
    plt.close(fig)


def test_one_colour_per_group_over_a_shared_population():
    updates = pd.concat([
        _updates(ONE_RUN).assign(algorithm="fedavg"),
        _updates({3: ["applied"] * 4, 2: ["applied"]}).assign(algorithm="fedasync"),
    ])
    fig = plot_participation(updates, CLIENTS, by="algorithm")
    avg, asynch = fig.axes[0].collections  # methods in their fixed order: FedAvg first
    assert _points(asynch) == {(0.01, 0), (0.002, 0), (0.05, 1), (0.001, 4)}
    assert _points(avg) == {(0.01, 2), (0.002, 3), (0.05, 0), (0.001, 0)}
    assert not np.allclose(asynch.get_facecolor()[0][:3], avg.get_facecolor()[0][:3])
    assert legend_texts(fig) == ["FedAvg (5 applied)", "FedAsync (5 applied)"]
    plt.close(fig)


def test_pooled_runs_keep_their_own_populations():
    other = CLIENTS.assign(seconds_per_sample=[0.1, 0.2, 0.3, 0.4])  # another seed's clients
    clients = pd.concat([CLIENTS.assign(run_id="r0", algorithm="fedavg"),
                         other.assign(run_id="r1", algorithm="fedavg")])
    updates = pd.concat([_updates(ONE_RUN).assign(run_id="r0", algorithm="fedavg"),
                         _updates({1: ["applied"]}).assign(run_id="r1", algorithm="fedavg")])
    fig = plot_participation(updates, clients, by="algorithm")
    (dots,) = fig.axes[0].collections
    assert _points(dots) == {(0.01, 2), (0.002, 3), (0.05, 0), (0.001, 0),
                             (0.1, 0), (0.2, 1), (0.3, 0), (0.4, 0)}
    plt.close(fig)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=30))
def test_fairness_indices_match_their_definitions(counts):
    x = np.asarray(counts, float)
    if x.sum() == 0:
        assert math.isnan(jain_index(x)) and math.isnan(gini(x))
        return
    assert jain_index(x) == pytest.approx(x.sum() ** 2 / (x.size * (x**2).sum()))
    pairs = np.abs(x[:, None] - x[None, :]).sum()
    assert gini(x) == pytest.approx(pairs / (2 * x.size**2 * x.mean()))
    assert 1 / x.size - 1e-12 <= jain_index(x) <= 1 + 1e-12 and -1e-12 <= gini(x) <= 1 - 1 / x.size + 1e-12


def test_fairness_extremes():
    assert jain_index([3, 3, 3]) == 1.0 and gini([3, 3, 3]) == 0.0
    assert jain_index([0, 0, 0, 5]) == 0.25 and gini([0, 0, 0, 5]) == 0.75


def test_participation_panels_per_world_with_fairness_per_run():
    sigma = "heterogeneity.compute.seconds_per_sample.sigma"
    runs = []
    for run_id, alg, s, statuses in (("r0", "fedavg", 0.5, ONE_RUN), ("r1", "fedasync", 0.5, {3: ["applied"] * 4}),
                                     ("r2", "fedavg", 1.5, {0: ["applied"], 1: ["applied"]})):
        runs.append((_updates(statuses).assign(run_id=run_id, **{"algorithm.type": alg, sigma: s, "seed": 0}),
                     CLIENTS.assign(run_id=run_id, seed=0)))
    updates = pd.concat([u for u, _ in runs])
    clients = pd.concat([c for _, c in runs])
    fig = plot_participation_panels(updates, clients, by="algorithm.type", panel_by=[sigma])
    fair = fig.data["fairness"].set_index("run_id")
    assert fair.loc["r0", "jain"] == pytest.approx(jain_index([2, 3, 0, 0]))
    assert fair.loc["r1", "gini"] == pytest.approx(gini([0, 0, 0, 4]))
    per_client = fig.data["per_client"]
    np.testing.assert_allclose(per_client.groupby("run_id")["relative"].mean(), 1.0)  # share ÷ equal share
    assert len(fig.axes) == 3 and [ax.get_title(loc="left") for ax in fig.axes[1:]] == ["σ = 0.5", "σ = 1.5"]
    assert fig.axes[0].get_xlabel() == "spread σ of client speed (lognormal)"
    summary = fig.data["fairness_summary"]
    assert ((summary["low"].isna()) | ((summary["low"] >= 0) & (summary["high"] <= 1))).all()
    plt.close(fig)


def test_participation_panels_by_a_numeric_key_across_worlds_of_names():
    """``simfl plot SWEEP --by train.lr`` on an algorithm.type × train.lr grid: the worlds are named, not
    numbers, so there is no fairness-against-x panel (it raised a TypeError subtracting names)."""
    runs = []
    for run_id, alg, lr, statuses in (("r0", "fedavg", 0.1, ONE_RUN), ("r1", "fedasync", 0.1, {3: ["applied"] * 4}),
                                      ("r2", "fedavg", 0.3, {0: ["applied"], 1: ["applied"]})):
        runs.append((_updates(statuses).assign(run_id=run_id, **{"algorithm.type": alg, "train.lr": lr, "seed": 0}),
                     CLIENTS.assign(run_id=run_id, seed=0)))
    updates = pd.concat([u for u, _ in runs])
    clients = pd.concat([c for _, c in runs])
    fig = plot_participation_panels(updates, clients, by="train.lr", panel_by=["algorithm.type"])
    assert len(fig.axes) == 2 and fig.data["fairness_summary"].empty  # one panel per world, no fairness axis
    # the normalised index: Jain's ÷ its mean under uniform assignment of as many updates
    fair = fig.data["fairness"].set_index("run_id")
    assert fair.loc["r0", "jain_normalised"] == pytest.approx(jain_index([2, 3, 0, 0]) / uniform_jain_mean(5, 4))
    plt.close(fig)
