"""The headline figure: what it draws equals the censoring-aware paired table (the one simfl report prints)."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from simfl.plots import plot_convergence_band, plot_headline, plot_staleness_ccdf, plot_time_to_target
from simfl.plots.style import method_style
from simfl.results import paired_time_ratios, summarize_time_ratios
from tests.plots.helpers import legend_texts

NAN = np.nan
SIGMA = "heterogeneity.compute.seconds_per_sample.sigma"
# (algorithm, sigma) -> time to 0.7 per seed 0..3 (NaN: not reached by the end at 100 s)
TIMES = {
    ("fedavg", 0.0): [20, 30, 40, 50],
    ("fedavg", 2.0): [80, NAN, NAN, 90],
    ("fedasync", 0.0): [25, 30, 35, 45],
    ("fedasync", 2.0): [40, 50, NAN, 95],
    ("fedbuff", 0.0): [20, NAN, 20, 30],
    ("fedbuff", 2.0): [30, 35, NAN, NAN],
}


def _tables():
    summary, evals = [], []
    for (alg, sigma), times in TIMES.items():
        for seed, t in enumerate(times):
            run_id = f"{alg}-{sigma}-{seed}"
            summary.append({"run_id": run_id, "algorithm.type": alg, SIGMA: sigma, "seed": seed,
                            "status": "complete", "time_to_0.7_s": t, "sim_end_s": 100.0})
            acc = np.clip(np.linspace(0.1, 0.9, 11) - 0.05 * sigma + 0.01 * seed, 0, 1)
            evals.append(pd.DataFrame({"run_id": run_id, "sim_time_s": np.arange(0, 101, 10.0),
                                       "test_accuracy": acc, "algorithm.type": alg, SIGMA: sigma, "seed": seed}))
    return pd.DataFrame(summary), pd.concat(evals, ignore_index=True)


def test_per_seed_ratios_and_censoring_flags_equal_the_paired_table():
    summary, evals = _tables()
    fig = plot_headline(summary, evals, SIGMA, 0.7)
    ratios = fig.data["ratios"]
    expected = paired_time_ratios(summary, 0.7)  # what `simfl report` pairs (its default worlds: sigma)
    pd.testing.assert_frame_equal(ratios.reset_index(drop=True), expected.reset_index(drop=True), check_like=True)
    pd.testing.assert_frame_equal(fig.data["ratio_summary"], summarize_time_ratios(expected))
    row = ratios.set_index([SIGMA, "algorithm.type", "seed"])
    # sigma 2, seed 1: FedAvg never reached it (capped at 100), FedAsync at 50 -> at least 2
    assert row.loc[(2.0, "fedasync", 1), "ratio"] == 2.0 and row.loc[(2.0, "fedasync", 1), "bound"] == "lower"
    assert row.loc[(0.0, "fedbuff", 1), "bound"] == "upper"  # only FedAvg reached it
    # neither reached it: no ratio at all (it used to be drawn as 1)
    assert row.loc[(2.0, "fedbuff", 2), "bound"] == "none" and math.isnan(row.loc[(2.0, "fedbuff", 2), "ratio"])

    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert any(np.allclose(line.get_ydata(), [1, 1]) for line in ax.lines)  # the line at 1
    gids = {}
    for artist in [*ax.lines, *ax.texts]:
        if artist.get_gid():
            gids[artist.get_gid()] = artist
    for r in ratios.itertuples(index=False):
        key = f"{r[ratios.columns.get_loc('algorithm.type')]}/{r[ratios.columns.get_loc(SIGMA)]}/{r.seed}"
        if r.bound == "exact":
            assert gids[f"seed/{key}"].get_ydata()[0] == pytest.approx(r.ratio)
        elif r.bound == "none":
            assert not any(g.endswith(key) for g in gids)  # nothing drawn: no information
        else:
            arrow = gids[f"arrow_{'up' if r.bound == 'lower' else 'down'}/{key}"]
            base, tip = arrow.xyann[1], arrow.xy[1]
            assert base == pytest.approx(r.ratio) and (tip > base) == (r.bound == "lower")
    n_arrows = sum(1 for g in gids if g.startswith("arrow_"))
    assert n_arrows == int(ratios["bound"].isin(["lower", "upper"]).sum())
    # under each estimate: how many seeds informed it, of how many
    table = fig.data["ratio_summary"]
    for method in ("fedasync", "fedbuff"):
        texts = [t.get_text() for t in ax.texts if t.get_gid() == f"informative/{method}"]
        mine = table[table["algorithm.type"] == method].sort_values(SIGMA)
        assert texts == [f"{k}/{n}" for k, n in zip(mine.n_informative, mine.n_pairs) if k < n]  # where not all
    assert table.set_index([SIGMA, "algorithm.type"]).loc[(2.0, "fedbuff"), "n_informative"] == 3
    plt.close(fig)


def test_geometric_means_and_intervals_are_the_summary():
    summary, evals = _tables()
    fig = plot_headline(summary, evals, SIGMA, 0.7, level=0.9)
    table = fig.data["ratio_summary"]
    ax = fig.axes[0]
    for method in ("fedasync", "fedbuff"):
        (mean,) = [line for line in ax.lines if line.get_gid() == f"mean/{method}"]
        mine = table[table["algorithm.type"] == method].sort_values(SIGMA)
        np.testing.assert_allclose(mean.get_ydata(), mine["estimate"].dropna())  # no estimate: nothing drawn
        assert mean.get_linestyle() == "None"  # estimates are never joined: a missing one is not a bound
        at0 = fig.data["ratios"].query("`algorithm.type` == @method and `" + SIGMA + "` == 0.0")
        logs = np.log(at0.loc[at0.bound == "exact", "ratio"])
        if (at0.bound == "exact").all():  # every seed reached it: the geometric mean of the ratios
            assert mine["estimate"].iloc[0] == pytest.approx(math.exp(logs.mean()))
        else:  # FedBuff, seed 1: only FedAvg reached it (ratio below 0.3): the estimate is pulled down
            assert mine["estimate"].iloc[0] < math.exp(logs.mean())
    plt.close(fig)


def test_accuracy_at_budget_with_intervals_inside_zero_one():
    summary, evals = _tables()
    fig = plot_headline(summary, evals, SIGMA, 0.7, budget_s=45.0)
    acc = fig.data["accuracy"]
    # the last evaluation at or before 45 s is the one at 40 s
    one = acc[acc["run_id"] == "fedavg-2.0-1"]["accuracy"].iloc[0]
    assert one == pytest.approx(0.1 + 0.08 * 4 - 0.1 + 0.01)
    s = fig.data["accuracy_summary"]
    assert ((s["low"] >= 0) & (s["high"] <= 1) & (s["low"] <= s["mean"]) & (s["mean"] <= s["high"])).all()
    # the logit mean, the centre of the Student-t interval on the logit scale
    means = acc.groupby([SIGMA, "algorithm.type"])["accuracy"].agg(lambda a: 1 / (1 + np.exp(-np.log(a / (1 - a)).mean())))
    np.testing.assert_allclose(s.set_index([SIGMA, "algorithm.type"])["mean"], means.loc[s.set_index(
        [SIGMA, "algorithm.type"]).index])
    assert fig.axes[1].get_ylabel() == "test accuracy after 45 s"
    plt.close(fig)


def test_few_seeds_are_flagged():
    summary, evals = _tables()
    two = summary[summary["seed"] < 2]
    fig = plot_headline(two, evals, SIGMA, 0.7)
    assert "No interval below 3 informative seeds" in fig.legends[0].get_title().get_text().replace("\n", " ")
    assert not [t for t in fig.axes[0].texts if "/" in t.get_text()]  # every seed informative: no k/n drawn
    for bars in fig.axes[0].containers:  # a t-interval on 2 log ratios is not drawn
        for seg in bars.lines[2][0].get_segments():
            assert len(seg) == 0 or seg[0][1] == pytest.approx(seg[1][1])
    plt.close(fig)


def test_another_varying_key_must_be_filtered_first():
    summary, evals = _tables()
    summary["algorithm.concurrency"] = np.where(summary["seed"] % 2 == 0, 4, 8)
    with pytest.raises(ValueError, match="filter the summary to one value of algorithm.concurrency"):
        plot_headline(summary, evals, SIGMA, 0.7)


def _color_of(fig, label_prefix: str) -> str:
    for ax in fig.axes:
        for bars in ax.containers:  # error bars: the label is the container's
            if bars.get_label().startswith(label_prefix):
                return bars.lines[0].get_color()
        for line in ax.lines:
            if line.get_label().startswith(label_prefix):
                return line.get_color()
    handles = [h for leg in fig.legends for h in leg.legend_handles if h.get_label().startswith(label_prefix)]
    return handles[0].get_color()


def test_one_method_one_colour_in_every_figure_including_plugins():
    summary, evals = _tables()
    plugin = "mypkg.algos:MyAlgo"
    summary = summary.replace({"algorithm.type": {"fedbuff": plugin}})
    evals = evals.replace({"algorithm.type": {"fedbuff": plugin}})
    updates = pd.DataFrame({"algorithm.type": ["fedasync", plugin, "fedavg"], "staleness": pd.array([1, 2, 0]),
                            SIGMA: 0.0})
    figs = {
        "headline": plot_headline(summary, evals, SIGMA, 0.7),
        "band": plot_convergence_band(evals, by="algorithm.type"),
        "time_to": plot_time_to_target(summary, SIGMA, 0.7),
        "staleness": plot_staleness_ccdf(updates, by="algorithm.type"),
    }
    for method, name in (("fedasync", "FedAsync"), (plugin, "MyAlgo"), ("fedavg", "FedAvg")):
        colours = {key: _color_of(fig, name) for key, fig in figs.items()}
        assert set(colours.values()) == {method_style(method).color}, (method, colours)
    assert "MyAlgo" in legend_texts(figs["band"])[2]  # a plugin reads as its class name
    plt.close("all")


def test_a_tuned_sweep_says_so_in_the_caption():
    summary, evals = _tables()
    plain = plot_headline(summary, evals, SIGMA, 0.7)
    tuned = summary.assign(**{"tuned:train.lr": 0.1})
    fig = plot_headline(tuned, evals, SIGMA, 0.7)
    def caption(f):  # the legend's title, unwrapped
        return " ".join(" ".join(leg.get_title().get_text() for leg in f.legends).split())

    assert "tuned in every world on separate tuning seeds (train.lr" in caption(fig)
    assert "tuned" not in caption(plain)
    plt.close(fig)
    plt.close(plain)
