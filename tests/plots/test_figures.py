"""run_figures and sweep_figures: the expected figures, each saving to a real PNG."""

import itertools
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from simfl.plots import run_figures, sweep_figures
from simfl.results import survival_table, with_censoring_times
from simfl.results.tables import busy_intervals
from tests.conftest import dry_run
from tests.plots.helpers import RUN_WORLD, assert_png, by_gid, legend_texts
from tests.plots.helpers import close_all as _close

SIGMA = "heterogeneity.compute.seconds_per_sample.sigma"
WORLD = {"data": {"num_clients": 12}, **RUN_WORLD}


def test_run_figures_of_a_dry_run(tmp_path):
    result = dry_run(**WORLD, algorithm={"type": "fedavg", "clients_per_round": 4, "deadline_s": 1.5})
    offline = pd.DataFrame({"client_id": [0, 3], "start_s": [2.0, 5.0], "end_s": [4.0, 30.0]})
    figs = run_figures(result, offline=offline)
    assert list(figs) == ["convergence", "staleness", "participation", "timeline"]
    conv = figs["convergence"].axes[0]
    assert conv.get_ylabel() == "client updates received"  # every accuracy is NaN in a dry run
    np.testing.assert_allclose(conv.lines[0].get_ydata(), result.evals["client_updates"])
    timeline = figs["timeline"].axes[0]
    assert timeline.get_xlim()[1] == result.evals["sim_time_s"].max() == 12.0
    assert {"offline/0", "offline/3"} <= set(by_gid(timeline))
    for name, fig in figs.items():
        assert_png(fig, tmp_path / f"{name}.png")
    _close(figs)


def test_run_figures_plot_accuracy_when_there_is_some():
    result = dry_run(**WORLD, algorithm={"type": "fedasync", "concurrency": 4})
    evals = result.evals.assign(test_accuracy=np.linspace(0.1, 0.9, len(result.evals)))
    fake = SimpleNamespace(config=result.config, evals=evals, client_updates=result.client_updates,
                           clients=result.clients)
    figs = run_figures(fake)
    ax = figs["convergence"].axes[0]
    assert ax.get_ylabel() == "test accuracy"
    assert ax.get_title() == "FedAsync · seed 0: test accuracy"  # the algorithm, never a run id
    _close(figs)


@pytest.mark.parametrize("rule,reached_at", [(None, 3), ("sustained", 3), ("first", 1)])
def test_run_figures_mark_targets_under_the_rule_none_meaning_sustained(rule, reached_at):
    # `simfl plot RUN --targets` passes rule=None when no --target-rule is given: it used to crash
    from simfl.results.targetrule import SUSTAINED, TargetRule

    result = dry_run(**WORLD, algorithm={"type": "fedasync", "concurrency": 4})
    acc = np.full(len(result.evals), 0.8)
    acc[:3] = [0.1, 0.6, 0.4]  # first reaches 0.5 at row 1, stays >= 0.5 from row 3 on
    fake = SimpleNamespace(config=result.config, evals=result.evals.assign(test_accuracy=acc),
                           client_updates=result.client_updates, clients=result.clients)
    chosen = {None: None, "sustained": SUSTAINED, "first": TargetRule(type="first")}[rule]
    figs = run_figures(fake, targets=[0.5], rule=chosen)
    marked = figs["convergence"].data["targets"]
    assert marked["time_to_target_s"].tolist() == [result.evals["sim_time_s"].iloc[reached_at]]
    _close(figs)


def _sweep_runs():
    """2 algorithms x 2 sigmas x 2 seeds of dry runs, concatenated with run_id and the swept columns."""
    evals, updates, clients, summary = [], [], [], []
    for alg, sigma, seed in itertools.product(["fedavg", "fedbuff"], [0.5, 1.5], [0, 1]):
        world = {**WORLD, "heterogeneity": {**WORLD["heterogeneity"], "compute": {
            "seconds_per_sample": {"dist": "lognormal", "median": 0.005, "sigma": sigma}}}}
        r = dry_run(**world, seed=seed, algorithm={"type": alg, "fedavg": {"clients_per_round": 4},
                                                   "fedbuff": {"concurrency": 4, "buffer_size": 2}})
        tag = {"run_id": f"{alg}-{sigma}-{seed}", "algorithm.type": alg, SIGMA: sigma, "seed": seed}
        evals.append(r.evals.assign(**tag))
        updates.append(r.client_updates.assign(**tag))
        clients.append(r.clients.assign(**tag))
        reached = r.evals.loc[r.evals.client_updates >= 20, "sim_time_s"]  # a stand-in "target"
        summary.append({**tag, "status": "complete", "time_to_0.8_s": reached.min() if len(reached) else np.nan})
    return pd.DataFrame(summary), pd.concat(evals), pd.concat(updates), pd.concat(clients)


def test_sweep_figures(tmp_path):
    summary, evals, updates, clients = _sweep_runs()
    figs = sweep_figures(summary, evals, updates, clients, swept=["algorithm.type", SIGMA], targets=[0.8])
    assert list(figs) == ["headline_0.8", "time_to_0.8", "km_0.8", "convergence", "convergence_paired",
                          "staleness", "participation"]
    panels = [ax for ax in figs["convergence"].axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["σ = 0.5", "σ = 1.5"]
    assert all(ax.get_legend() is None for ax in panels)  # one legend for the figure
    assert legend_texts(figs["convergence"]) == ["FedAvg (n=2)", "FedBuff (n=2)"]
    tt = figs["time_to_0.8"].axes[0]
    assert sorted(c.get_label() for c in tt.containers) == ["FedAvg", "FedBuff"]
    assert tt.get_xlabel() == "spread σ of client speed (lognormal)"
    # censoring-aware: runs that never reached the stand-in target are censored at their last evaluation
    expected = survival_table(with_censoring_times(summary, evals), 0.8)
    expected = expected[expected["algorithm.type"] == "fedbuff"].sort_values(SIGMA)["rmst_s"]
    (fedbuff,) = [c for c in tt.containers if c.get_label() == "FedBuff"]
    np.testing.assert_allclose(fedbuff.lines[0].get_ydata(), expected.to_numpy())
    assert [ax.get_title() for ax in figs["staleness"].axes] == ["σ = 0.5", "σ = 1.5"]
    assert len(figs["participation"].axes) == 3  # fairness against σ, then one panel per σ
    for name, fig in figs.items():
        assert_png(fig, tmp_path / f"{name}.png")
    _close(figs)


def _hand_sweep(values: dict[str, list]) -> tuple[pd.DataFrame, ...]:
    """Tiny hand-made tables, one run per combination of ``values`` (with seeds 0 and 1)."""
    keys = list(values)
    evals, updates, clients, summary = [], [], [], []
    for i, combo in enumerate(itertools.product(*values.values(), [0, 1])):
        tag = {"run_id": f"r{i}", **dict(zip(keys, combo[:-1])), "seed": combo[-1]}
        evals.append(pd.DataFrame({"sim_time_s": [0.0, 1.0, 2.0], "client_updates": [0, 2, 4],
                                   "test_accuracy": [0.1, 0.5 + 0.01 * i, 0.7]}).assign(**tag))
        updates.append(pd.DataFrame({"client_id": [0, 1], "staleness": pd.array([0, 1], dtype="Int64"),
                                     "status": ["applied", "applied"]}).assign(**tag))
        clients.append(pd.DataFrame({"client_id": [0, 1], "seconds_per_sample": [0.01, 0.02]}).assign(**tag))
        summary.append({**tag, "status": "complete", "time_to_0.5_s": 1.0 + (i % 3), "sim_end_s": 2.0})
    return pd.DataFrame(summary), pd.concat(evals), pd.concat(updates), pd.concat(clients)


def test_sweep_pools_beyond_six_panels_and_splits_lines_by_other_keys():
    grid = {"algorithm.type": ["fedasync", "fedbuff"], "algorithm.concurrency": [2, 4, 8, 16],
            "algorithm.alpha": [0.3, 0.6]}
    summary, evals, updates, clients = _hand_sweep(grid)
    figs = sweep_figures(summary, evals, updates, clients, swept=list(grid), targets=[0.5])
    panels = [ax for ax in figs["convergence"].axes if ax.get_visible()]
    assert len(panels) == 1  # 4 x 2 = 8 combinations > 6
    assert panels[0].get_title() == "pooled over tasks in flight (concurrency), mixing weight α"
    assert legend_texts(figs["convergence"]) == ["FedAsync (n=16)", "FedBuff (n=16)"]
    labels = sorted(c.get_label() for c in figs["time_to_0.5"].axes[0].containers)
    assert labels == ["FedAsync, α = 0.3", "FedAsync, α = 0.6", "FedBuff, α = 0.3", "FedBuff, α = 0.6"]
    assert figs["time_to_0.5"].axes[0].get_xlabel() == "tasks in flight (concurrency)"
    # no heterogeneity key: the headline runs along the numeric key, one figure per value of the other
    assert {"headline_0.5_alpha-0.3", "headline_0.5_alpha-0.6"} <= set(figs)
    assert "α = 0.6" in figs["headline_0.5_alpha-0.6"].get_suptitle()
    _close(figs)


def test_sweep_without_a_numeric_key_has_no_time_to_target():
    summary, evals, updates, clients = _hand_sweep({"algorithm.type": ["fedasync", "fedbuff"]})
    figs = sweep_figures(summary, evals, updates, clients, swept=["algorithm.type"], targets=[0.5])
    assert list(figs) == ["km_0.5", "convergence", "convergence_paired", "staleness", "participation"]
    assert [ax.get_title() for ax in figs["convergence"].axes] == ["all runs"]
    _close(figs)


def test_sweep_with_a_missing_target_column_names_it():
    summary, evals, updates, clients = _hand_sweep({"algorithm.type": ["fedasync"], "algorithm.alpha": [0.3, 0.6]})
    with pytest.raises(ValueError, match="time_to_0.9_s"):
        sweep_figures(summary, evals, updates, clients, swept=["algorithm.type", "algorithm.alpha"], targets=[0.9])
    plt.close("all")


DRIFT = [{"at_s": 8.0, "type": "label_swap", "classes": [1, 2], "clients": [0, 1, 2]},
         {"at_s": 3.0, "type": "label_permutation", "fraction": 0.5}]


def test_run_figures_with_slowdown_contention_and_drift(tmp_path):
    world = {**WORLD, "data": {"num_clients": 12, "drift": DRIFT}, "heterogeneity": {
        **WORLD["heterogeneity"],
        "compute": {"seconds_per_sample": 0.005, "slowdown": {
            "normal_s": {"dist": "exponential", "mean": 4}, "busy_s": {"dist": "exponential", "mean": 2}}},
        "network": {"model_bytes": 125_000, "down_mbps": 4, "up_mbps": 4},
        "server": {"egress_mbps": 4, "ingress_mbps": 4}}}
    result = dry_run(**world, algorithm={"type": "fedasync", "concurrency": 4})
    updates = result.client_updates
    assert (updates.download_wait_s > 0).any() and (updates.compute_s > updates.compute_work_s).any()
    busy = busy_intervals(result.config, 12.0)
    figs = run_figures(result, busy=busy)
    assert list(figs) == ["convergence", "staleness", "participation", "timeline"]
    events = [(3.0, "label_permutation (50% of clients)"), (8.0, "label_swap 1↔2 (3 clients)")]
    for name in ("convergence", "timeline"):
        ax = figs[name].axes[0]
        art = by_gid(ax)
        assert [art[f"event/{i}"].get_xdata()[0] for i in range(2)] == [3.0, 8.0], name
        assert sorted((t.get_position()[0], t.get_text()) for t in ax.texts if t.get_gid()) == events, name
    kinds = {gid.split("/")[0] for gid in by_gid(figs["timeline"].axes[0]) if "/" in gid}
    assert {"busy", "wait_download", "slowed_compute"} <= kinds
    for name, fig in figs.items():
        assert_png(fig, tmp_path / f"{name}.png")
    _close(figs)


def test_sweep_figures_mark_events_on_every_panel():
    summary, evals, updates, clients = _hand_sweep({"algorithm.type": ["fedasync"], "algorithm.alpha": [0.3, 0.6]})
    figs = sweep_figures(summary, evals, updates, clients, swept=["algorithm.type", "algorithm.alpha"],
                         targets=[0.5], events=[(1.5, "drift")])
    panels = [ax for ax in figs["convergence"].axes if ax.get_visible()]
    assert len(panels) == 2
    for ax in panels:
        np.testing.assert_allclose(by_gid(ax)["event/0"].get_xdata(), [1.5, 1.5])
        assert [t.get_text() for t in ax.texts] == ["drift"]
    _close(figs)


def _inside(fig, artist) -> bool:
    box = artist.get_window_extent(fig.canvas.get_renderer())
    frame = fig.bbox
    return box.x0 >= frame.x0 - 1 and box.x1 <= frame.x1 + 1 and box.y0 >= frame.y0 - 1 and box.y1 <= frame.y1 + 1


def test_every_interval_stays_in_range_and_every_title_fits():
    summary, evals, updates, clients = _sweep_runs()
    figs = sweep_figures(summary, evals, updates, clients, swept=["algorithm.type", SIGMA], targets=[0.8])
    checked = 0
    for name, fig in figs.items():
        for table_name, table in fig.data.items():
            for lo, hi in (("low", "high"), ("ci_low", "ci_high"), ("rmst_ci_low_s", "rmst_ci_high_s"),
                           ("reached_low", "reached_high")):
                if lo not in table.columns:
                    continue
                ok = table[lo].notna() & table[hi].notna()
                assert (table.loc[ok, lo] <= table.loc[ok, hi] + 1e-12).all(), (name, table_name)
                if lo.startswith("rmst"):  # times within the horizon
                    assert (table.loc[ok, lo] >= 0).all() and (table.loc[ok, hi] <= table.loc[ok, "horizon_s"]).all()
                elif table_name in ("accuracy_summary", "km") or lo == "reached_low":  # fractions in [0, 1]
                    assert (table.loc[ok, lo] >= 0).all() and (table.loc[ok, hi] <= 1).all(), (name, table_name)
                elif lo == "ci_low":  # ratios are positive
                    assert (table.loc[ok, lo] > 0).all()
                checked += 1
        fig.canvas.draw()
        titles = [t for t in [fig._suptitle, *[ax.title for ax in fig.axes if ax.get_visible()]] if t is not None]
        for title in titles:
            if title.get_text():
                assert _inside(fig, title), (name, title.get_text())
    assert checked >= 6
    _close(figs)
