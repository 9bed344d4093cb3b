"""plot_client_timeline: phase bars, truncation, end markers, offline shading, row order."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba

from simfl.plots import plot_client_timeline
from simfl.plots.style import METHOD_COLORS, PHASE_COLORS, method_style
from simfl.plots.timeline import PHASES, round_table, timeline_clients
from tests.plots.helpers import bar_rows, bar_segments, by_gid, legend_texts

NAN = np.nan
STATUSES = ["in_flight", "applied", "dropped_stale", "lost_offline", "discarded_deadline", "buffered"]


def _tasks() -> pd.DataFrame:
    rows = [  # client, dispatch, download, compute, upload, end, status
        (0, 0.0, 1.0, 2.0, 0.5, 3.5, "applied"),
        (0, 4.0, 1.0, 3.0, 1.0, 6.0, "lost_offline"),  # offline at 6: download, 1 s of compute
        (0, 8.0, 0.5, 5.0, 1.0, NAN, "in_flight"),  # cut at t_max = 10
        (1, 0.0, 0.5, 4.0, 0.5, 3.0, "discarded_deadline"),  # aborted at 3, mid-compute
        (1, 3.0, 0.5, 1.0, 0.5, 5.0, "applied"),
    ]
    df = pd.DataFrame(rows, columns=["client_id", "dispatch_time_s", "download_s", "compute_s", "upload_s",
                                     "end_time_s", "status"])
    df["status"] = pd.Categorical(df["status"], categories=STATUSES)
    return df


OFFLINE = pd.DataFrame({"client_id": [0, 1, 1], "start_s": [6.0, 9.0, 20.0], "end_s": [7.5, 12.0, 25.0]})
CLIENTS = pd.DataFrame({"client_id": [0, 1], "seconds_per_sample": [0.02, 0.01]})


def test_bars_equal_the_phases_with_truncation_and_shading():
    fig = plot_client_timeline(_tasks(), offline=OFFLINE, clients=CLIENTS, t_max=10.0)
    ax = fig.axes[0]
    art = by_gid(ax)
    expected = {
        "download/0": [(0, 1), (4, 1), (8, 0.5)],
        "compute/0": [(1, 2), (5, 1), (8.5, 1.5)],
        "upload/0": [(3, 0.5)],
        "download/1": [(0, 0.5), (3, 0.5)],
        "compute/1": [(0.5, 2.5), (3.5, 1)],
        "upload/1": [(4.5, 0.5)],
        "offline/0": [(6, 1.5)],
        "offline/1": [(9, 1)],  # clipped to the window; the interval at 20 s is outside it
    }
    assert set(expected) <= set(art)
    for gid, segments in expected.items():
        np.testing.assert_allclose(bar_segments(art[gid]), segments, err_msg=gid)
    # client 1 is faster: top row (y = 0, the axis is inverted); client 0 below it
    for gid in ("download/1", "compute/1", "upload/1", "offline/1"):
        assert bar_rows(art[gid]) == {0.0}, gid
    for gid in ("download/0", "compute/0", "upload/0", "offline/0"):
        assert bar_rows(art[gid]) == {1.0}, gid
    assert ax.get_ylim() == (1.5, -0.5)
    np.testing.assert_allclose(np.c_[art["lost"].get_xdata(), art["lost"].get_ydata()], [[6.0, 1.0]])
    np.testing.assert_allclose(np.c_[art["discarded"].get_xdata(), art["discarded"].get_ydata()], [[3.0, 0.0]])
    assert art["lost"].get_marker() != art["discarded"].get_marker()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1: 0.01 s/sample", "0: 0.02 s/sample"]
    assert ax.get_xlim() == (0.0, 10.0)
    legend = legend_texts(fig)
    for word in ("download", "compute", "upload", "offline", "lost", "discarded"):
        assert any(word in text for text in legend), word
    plt.close(fig)


def test_window_and_default_order():
    fig = plot_client_timeline(_tasks(), t_min=2.0, t_max=4.6)
    art = by_gid(fig.axes[0])
    np.testing.assert_allclose(bar_segments(art["compute/0"]), [(2, 1)])
    np.testing.assert_allclose(bar_segments(art["download/0"]), [(4, 0.6)])
    np.testing.assert_allclose(bar_segments(art["compute/1"]), [(2, 1), (3.5, 1)])
    np.testing.assert_allclose(art["discarded"].get_xdata(), [3.0])
    assert len(art["lost"].get_xdata()) == 0  # lost at 6, outside the window
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["0", "1"]
    plt.close(fig)


def test_many_tasks_draw_with_one_collection_per_client_and_phase():
    rng = np.random.default_rng(0)
    n_clients, n_tasks = 100, 5000
    client = rng.integers(0, n_clients, n_tasks)
    dispatch = np.sort(rng.uniform(0, 1000, n_tasks))
    df = pd.DataFrame({"client_id": client, "dispatch_time_s": dispatch, "download_s": 0.5,
                       "compute_s": rng.exponential(3, n_tasks), "upload_s": 0.5})
    df["end_time_s"] = df.dispatch_time_s + df.download_s + df.compute_s + df.upload_s
    df["status"] = pd.Categorical(["applied"] * n_tasks, categories=STATUSES)
    clients = pd.DataFrame({"client_id": range(n_clients), "seconds_per_sample": rng.lognormal(0, 1, n_clients)})
    fig = plot_client_timeline(df, clients=clients, max_clients=20)
    ax = fig.axes[0]
    assert len(ax.get_yticks()) == 20
    assert len(ax.collections) <= 3 * 20
    shown = {int(g.split("/")[1]) for g in by_gid(ax) if "/" in g}
    ranked = clients.sort_values("seconds_per_sample").client_id.to_numpy()
    assert ranked[0] in shown and ranked[-1] in shown  # the fastest and the slowest are both kept
    drawn = sum(len(c.get_paths()) for c in ax.collections if c.get_gid().startswith("compute/"))
    assert drawn == int(df.client_id.isin(shown).sum())
    plt.close(fig)


def _contended() -> pd.DataFrame:
    """Two clients' tasks with server-link waits, a slowed compute and a lost task's NaN phases."""
    rows = [  # client, dispatch, download, compute, upload, work, download wait, upload wait, end, status
        (0, 0.0, 2.0, 3.0, 1.5, 2.0, 0.5, 1.0, 6.5, "applied"),
        (0, 7.0, 1.0, NAN, NAN, 1.0, 0.25, 0.0, 8.0, "lost_offline"),  # lost at the end of its download
        (1, 0.0, 0.2, 0.5, 0.2, 0.5 - 1e-13, 0.3, 0.0, 0.9, "applied"),  # wait longer than its phase
        (1, 6.0, 0.5, 2.0, 3.0, 2.0, 0.0, 2.5, NAN, "in_flight"),  # upload cut at t_max = 10
        (1, 11.0, NAN, NAN, NAN, 1.0, 0.0, 0.0, NAN, "in_flight"),  # nothing known yet
    ]
    df = pd.DataFrame(rows, columns=["client_id", "dispatch_time_s", "download_s", "compute_s", "upload_s",
                                     "compute_work_s", "download_wait_s", "upload_wait_s", "end_time_s", "status"])
    df["status"] = pd.Categorical(df["status"], categories=STATUSES)
    return df


BUSY = pd.DataFrame({"client_id": [0, 0, 1, 2], "start_s": [1.0, 9.0, 0.0, 2.0], "end_s": [4.5, 12.0, 0.5, 3.0]})
EVENTS = [(3.0, "label_swap 1↔2 (3 clients)"), (7.5, "label_permutation (30% of clients)"), (12.0, "after the end")]


def test_waits_slowdowns_busy_periods_and_events():
    fig = plot_client_timeline(_contended(), busy=BUSY, t_max=10.0, events=EVENTS)
    ax = fig.axes[0]
    art = by_gid(ax)
    expected = {
        # phases as before; NaN phases (the lost task's compute and upload, the last task) are not drawn
        "download/0": [(0, 2), (7, 1)],
        "compute/0": [(2, 3)],
        "upload/0": [(5, 1.5)],
        "download/1": [(0, 0.2), (6, 0.5)],
        "compute/1": [(0.2, 0.5), (6.5, 2)],
        "upload/1": [(0.7, 0.2), (8.5, 1.5)],
        # the last download_wait_s / upload_wait_s seconds of each transfer, never more than the phase
        "wait_download/0": [(1.5, 0.5), (7.75, 0.25)],
        "wait_upload/0": [(5.5, 1.0)],
        "wait_download/1": [(0, 0.2)],
        "wait_upload/1": [(9, 1)],  # [9, 11.5) clipped to the window like its phase
        # the last compute_s - compute_work_s seconds of compute (a 1e-13 rounding difference is not shown)
        "slowed_compute/0": [(4, 1)],
        # busy periods of the shown clients, clipped to the window
        "busy/0": [(1, 3.5), (9, 1)],
        "busy/1": [(0, 0.5)],
    }
    drawn = {gid for gid in art if "/" in gid and not gid.startswith("event")}
    assert drawn == set(expected)  # no slowed_compute/1, no busy/2 (client 2 is not shown)
    for gid, segments in expected.items():
        np.testing.assert_allclose(bar_segments(art[gid]), segments, err_msg=gid)
    for client, row in ((0, 0.0), (1, 1.0)):
        assert bar_rows(art[f"wait_download/{client}"]) == {row}
        assert bar_rows(art[f"busy/{client}"]) == {row}
    # waits: hatched in their phase's colour, over the phase bars; busy bands behind everything
    for phase, color in (("download", PHASE_COLORS["download"]), ("upload", PHASE_COLORS["upload"])):
        wait, bar = art[f"wait_{phase}/0"], art[f"{phase}/0"]
        assert wait.get_hatch() == "////"
        np.testing.assert_allclose(wait.get_edgecolor()[0], to_rgba(color))
        assert wait.get_zorder() > bar.get_zorder() > art["busy/0"].get_zorder()
    assert art["compute/0"].get_hatch() is None
    assert art["slowed_compute/0"].get_hatch() is None
    # events: dashed lines at their times across all rows, labelled; the one after t_max is skipped
    for i, (t, label) in enumerate(EVENTS[:2]):
        line = art[f"event/{i}"]
        np.testing.assert_allclose(line.get_xdata(), [t, t])
        np.testing.assert_allclose(line.get_ydata(), [0, 1])  # axes fraction: bottom to top
        assert line.get_linestyle() == "--"
        (text,) = [t for t in ax.texts if t.get_gid() == f"event_label/{i}"]
        assert text.get_text() == label and text.get_position()[0] == t
    assert "event/2" not in art and len(ax.texts) == 2
    assert ax.get_xlim() == (0.0, 10.0)
    legend = legend_texts(fig)
    for entry in ("waiting for the server link", "compute slowed", "busy (slowed down)"):
        assert entry in legend
    plt.close(fig)


def test_a_compute_cut_short_shows_no_slowdown():
    df = _contended()
    # lost mid-compute in a contended run: compute_s is the part done (3 s of 1 s of work), upload NaN
    df.loc[1, ["compute_s", "end_time_s"]] = [3.0, 11.0]
    fig = plot_client_timeline(df, t_max=12.0)
    art = by_gid(fig.axes[0])
    np.testing.assert_allclose(bar_segments(art["compute/0"]), [(2, 3), (8, 3)])
    np.testing.assert_allclose(bar_segments(art["slowed_compute/0"]), [(4, 1)])
    plt.close(fig)


def test_tables_without_the_new_columns_draw_as_before():
    fig = plot_client_timeline(_tasks(), t_max=10.0)
    kinds = {gid.split("/")[0] for gid in by_gid(fig.axes[0]) if "/" in gid}
    assert kinds == {"download", "compute", "upload"}
    legend = legend_texts(fig)
    assert "waiting for the server link" not in legend and "compute slowed" not in legend
    assert "busy (slowed down)" not in legend
    plt.close(fig)


def _rounds() -> pd.DataFrame:
    """Three FedAvg rounds of 2 tasks among 6 clients; round r waits for its slowest task."""
    rows = [  # client, round, dispatch, compute, arrival
        (0, 0, 0.0, 1.0, 1.0), (5, 0, 0.0, 4.0, 4.0),  # round 0 ends at 4: client 5 is its straggler
        (1, 1, 4.0, 1.0, 5.0), (2, 1, 4.0, 2.5, 6.5),  # round 1 ends at 6.5: client 2
        (0, 2, 6.5, 1.0, 7.5), (3, 2, 6.5, 0.5, 7.0),  # round 2 ends at 7.5: client 0
    ]
    df = pd.DataFrame(rows, columns=["client_id", "round", "dispatch_time_s", "compute_s", "arrival_time_s"])
    df = df.assign(download_s=0.0, upload_s=0.0, end_time_s=df.arrival_time_s)
    df["round"] = df["round"].astype("Int64")
    df["status"] = pd.Categorical(["applied"] * len(df), categories=STATUSES)
    return df


SPEEDS = pd.DataFrame({"client_id": range(6), "seconds_per_sample": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06]})


def test_round_ends_are_marked_and_stragglers_always_shown():
    rounds = round_table(_rounds())
    assert rounds[["round", "start_s", "end_s", "straggler"]].values.tolist() == [
        [0, 0.0, 4.0, 5], [1, 4.0, 6.5, 2], [2, 6.5, 7.5, 0]]
    # two rows only: evenly spaced ranks alone would show clients 0 and 5 and hide client 2
    fig = plot_client_timeline(_rounds(), clients=SPEEDS, max_clients=2, t_max=7.5)
    rows = fig.data["rows"]
    assert set(rows["client_id"]) >= {5, 2, 0} and rows["kept"].sum() == 3
    assert rows["client_id"].tolist() == sorted(rows["client_id"], key=lambda c: SPEEDS.seconds_per_sample[c])
    bold = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_fontweight() == "bold"]
    assert bold == ["0: 0.01 s/sample", "2: 0.03 s/sample", "5: 0.06 s/sample"]
    art = by_gid(fig.axes[0])
    assert [art[f"round/{r}"].get_xdata()[0] for r in (0, 1)] == [4.0, 6.5]  # the end at t_max is the frame
    note = fig.legends[0].get_title().get_text().replace("\n", " ")
    assert "3 of 6 clients shown" in note and "straggler" in note  # the note is in the legend: never lost
    plt.close(fig)


def test_asynchronous_runs_have_no_rounds():
    df = _rounds().assign(round=pd.array([pd.NA] * 6, dtype="Int64"))
    assert round_table(df).empty
    assert not timeline_clients(df, SPEEDS, 2)["kept"].any()
    fig = plot_client_timeline(df, clients=SPEEDS, max_clients=2, title="FedAsync · σ = 1.5 · seed 0")
    assert fig.axes[0].get_title() == "FedAsync · σ = 1.5 · seed 0"
    assert not any(g.startswith("round/") for g in by_gid(fig.axes[0]))
    plt.close(fig)


def test_phase_colours_are_no_methods_colours():
    phases = {c for _, _, c in PHASES}
    assert phases == set(PHASE_COLORS.values())
    assert not phases & set(METHOD_COLORS)
    for name in ("fedavg", "fedasync", "fedbuff", "fedat", "semisync", "mypkg.mod:MyAlgo", "variant-a"):
        assert method_style(name).color not in phases


def test_an_unfinished_rounds_straggler_is_the_latest_planned_end():
    df = _rounds()
    extra = pd.DataFrame({"client_id": [1, 4], "round": pd.array([3, 3], dtype="Int64"), "dispatch_time_s": 7.5,
                          "compute_s": [0.5, 3.0], "arrival_time_s": [8.0, NAN], "download_s": 0.0,
                          "upload_s": 0.0, "end_time_s": [8.0, NAN]})
    extra["status"] = pd.Categorical(["applied", "in_flight"], categories=STATUSES)
    rounds = round_table(pd.concat([df, extra], ignore_index=True)).set_index("round")
    assert rounds.loc[3, "straggler"] == 4 and np.isnan(rounds.loc[3, "end_s"])  # not client 1, arrived so far
