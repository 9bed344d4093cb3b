"""Targets chosen after a sweep ran: ``report/plot --targets`` and ``summary_with_targets``.

The yardstick is the same sweep run with the new targets in its sweep file from the start:
its summary's times must equal the recomputed ones exactly, and its report must read the same.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml

from simfl.cli import main
from simfl.errors import SimflError
from simfl.results import (check_targets, load_sweep_tables, summary_with_targets, survival_table,
                           target_column, time_to_accuracy, with_censoring_times)
from simfl.results.report import report_text
from simfl.results.targetrule import FIRST

ORIGINAL = 0.3  # the only target of the sweep file

#: A tiny trained sweep: logistic regression on synthetic data in one world, and in another an MLP
#: with a huge learning rate, which diverges after a few evaluations.
SWEEP = """
base:
  data: {{num_clients: 8}}
  train: {{local_steps: 5}}
  heterogeneity: {{compute: {{seconds_per_sample: {{dist: lognormal, median: 0.01, sigma: 1.0}}}}}}
  algorithm: {{fedavg: {{clients_per_round: 4}}, fedasync: {{concurrency: 4}}}}
  stop: {{sim_time_s: 6}}
  eval: {{every_s: 0.5}}
grid:
  algorithm.type: [fedavg, fedasync]
zip:
  model.type: [logreg, mlp]
  train.lr: [0.05, 1.0e+6]
seeds: 2
targets: {targets}
"""


def _sweep(folder, targets) -> "Path":  # noqa: F821
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "sweep.yaml"
    spec.write_text(textwrap.dedent(SWEEP.format(targets=list(targets))))
    assert main(["sweep", str(spec), "--out", str(folder / "out"), "--workers", "1"]) == 1  # some runs diverge
    return folder / "out"


def _new_targets(sweep) -> tuple[float, float]:
    """Two targets not in the sweep file, read off its data: one a diverged run's evaluations reach
    before it diverges, one that some complete runs reach and others do not."""
    summary = pd.read_parquet(sweep / "summary.parquet")
    diverged = summary[summary.status == "diverged"].run_id
    reached = max(float(pd.read_parquet(sweep / "runs" / r / "evals.parquet").test_accuracy.max()) for r in diverged)
    t_diverged = math.floor(reached * 100) / 100
    best = summary[summary.status == "complete"].best_accuracy.sort_values().to_numpy()
    t_some = round(float(best[0] + best[-1]) / 2, 2)
    assert 0 < t_diverged and best[0] < t_some <= best[-1], (reached, best)
    assert len({t_diverged, t_some, ORIGINAL}) == 3
    return t_diverged, t_some


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """``(after, from_start, targets)``: the sweep with its file's target, the same sweep run
    with the new targets from the start, and those targets."""
    tmp = tmp_path_factory.mktemp("targets")
    after = _sweep(tmp / "after", [ORIGINAL])
    targets = _new_targets(after)
    from_start = _sweep(tmp / "from_start", list(targets))
    return after, from_start, targets


def _hashes(folder, skip: str = "plots") -> dict[str, str]:
    """SHA-256 of every file and the name of every folder under ``folder`` (``skip`` left out)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if rel.parts[0] == skip:
            continue
        out[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


def _by_run(summary: pd.DataFrame) -> pd.DataFrame:
    return summary.set_index("run_id").sort_index()


# ------------------------------------------------------------------------ the same numbers
def test_recomputed_times_equal_a_sweep_run_with_those_targets(sweeps):
    after, from_start, targets = sweeps
    original = pd.read_parquet(after / "summary.parquet")
    assert [c for c in original.columns if c.startswith("time_to_")] == [target_column(ORIGINAL)]
    recomputed = summary_with_targets(after, targets)
    expected = pd.read_parquet(from_start / "summary.parquet")
    assert list(recomputed.columns) == list(expected.columns)  # the new columns where the sweep writes them
    new = [target_column(t) for t in targets]
    got, want = _by_run(recomputed), _by_run(expected)
    assert list(got.index) == list(want.index)
    for col in new:
        np.testing.assert_array_equal(got[col].to_numpy(float), want[col].to_numpy(float), err_msg=col)
    # the test means something: the second target is reached by some complete runs and not by others
    complete = want[want.status == "complete"][new[1]]
    assert complete.notna().any() and complete.isna().any()
    # every other column is the sweep's own summary, untouched
    rest = [c for c in original.columns if c != target_column(ORIGINAL)]
    pd.testing.assert_frame_equal(recomputed[rest], original[rest])


def test_report_with_targets_reads_like_the_sweep_run_with_them(sweeps):
    after, from_start, targets = sweeps
    late = report_text(after, targets=targets).splitlines()
    early = report_text(from_start).splitlines()
    assert late[0].replace(str(after), "DIR") == early[0].replace(str(from_start), "DIR")
    assert late[1] == f"targets {targets[0]:g}, {targets[1]:g}: times recomputed from the runs' evaluations"
    assert late[2:] == early[1:]
    assert f"{target_column(targets[1])}: time to" in "\n".join(late)
    assert target_column(ORIGINAL) not in "\n".join(late)


def test_the_api_takes_the_summary_already_read(sweeps):
    after, from_start, targets = sweeps
    tables = load_sweep_tables(after, ["evals"])
    subset = tables["summary"].iloc[::2]
    got = summary_with_targets(after, targets, summary=subset)
    assert list(got.index) == list(subset.index)
    want = _by_run(pd.read_parquet(from_start / "summary.parquet")).loc[subset.run_id]
    for t in targets:
        np.testing.assert_array_equal(got[target_column(t)].to_numpy(float),
                                      want[target_column(t)].to_numpy(float))


def test_a_sweep_file_without_targets_gets_them_where_a_sweep_writes_them(sweeps):
    after, from_start, targets = sweeps
    bare = pd.read_parquet(after / "summary.parquet").drop(columns=[target_column(ORIGINAL)])
    got = summary_with_targets(after, targets, summary=bare)
    assert list(got.columns) == list(pd.read_parquet(from_start / "summary.parquet").columns)


# ------------------------------------------------------------- who counts, as the sweep says
def test_a_diverged_run_stays_censored(sweeps):
    after, _, targets = sweeps
    summary = summary_with_targets(after, targets)
    diverged = summary[summary.status == "diverged"]
    assert len(diverged) == 4
    col = target_column(targets[0])
    # the evaluations of some diverged run reach the target before it diverges ...
    reached = [time_to_accuracy(pd.read_parquet(after / "runs" / r / "evals.parquet"), targets[0], FIRST)
               for r in diverged.run_id]  # (first crossings: a diverged run's last evaluations have no accuracy)
    assert any(math.isfinite(t) for t in reached)
    # ... yet it never counts as reaching it
    assert diverged[col].isna().all()
    table = survival_table(with_censoring_times(summary), targets[0])
    wild = table[table["train.lr"] == 1e6]
    assert list(wild.n_reached) == [0, 0] and list(wild.n_diverged) == [2, 2]


@pytest.fixture
def damaged(sweeps, tmp_path):
    """A copy of the sweep in which three complete runs did not finish: their tables are gone."""
    after, from_start, targets = sweeps
    copy = tmp_path / "copy"
    shutil.copytree(after, copy)
    summary = pd.read_parquet(copy / "summary.parquet")
    complete = summary.index[summary.status == "complete"]
    for i, status in zip(complete[:3], ("interrupted", "failed", "pending")):
        summary.loc[i, "status"] = status
        summary.loc[i, target_column(ORIGINAL)] = math.nan
        (copy / "runs" / summary.loc[i, "run_id"] / "evals.parquet").unlink()
    summary.to_parquet(copy / "summary.parquet", index=False)
    return copy, summary, targets


def test_an_unfinished_run_is_not_counted(damaged, capsys):
    copy, summary, targets = damaged
    got = summary_with_targets(copy, targets)  # their evaluations are not read (they are gone)
    unfinished = got.status.isin(["interrupted", "failed", "pending"])
    assert unfinished.sum() == 3 and got.loc[unfinished, [target_column(t) for t in targets]].isna().all().all()
    table = survival_table(with_censoring_times(got), targets[1])
    tame = table[table["train.lr"] == 0.05].set_index("algorithm.type")
    # left: fedasync seed 1 only (fedavg has no counted run, so no row)
    assert list(tame.index) == ["fedasync"] and (tame.n_runs.iloc[0], tame.n_excluded.iloc[0]) == (1, 1)
    assert main(["report", str(copy), "--targets", *map(str, targets)]) == 0
    out = capsys.readouterr().out
    assert "not counted (3 runs that did not finish" in out


def test_a_finished_run_whose_evals_cannot_be_read_is_one_line_naming_it(sweeps, tmp_path, capsys):
    after, _, targets = sweeps
    copy = tmp_path / "copy"
    shutil.copytree(after, copy)
    summary = pd.read_parquet(copy / "summary.parquet")
    missing, corrupt = summary[summary.status == "complete"].run_id.iloc[:2]
    (copy / "runs" / missing / "evals.parquet").unlink()
    with pytest.raises(SimflError, match=f"run {missing}: .*evals.parquet: missing"):
        summary_with_targets(copy, targets)
    shutil.copy(after / "runs" / missing / "evals.parquet", copy / "runs" / missing / "evals.parquet")
    (copy / "runs" / corrupt / "evals.parquet").write_bytes(b"PAR1 not really")
    for command in ("report", "plot"):
        assert main([command, str(copy), "--targets", "0.5"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"runs/{corrupt}/evals.parquet: unreadable" in err, err


# ---------------------------------------------------------------------------- run directories
def test_targets_on_a_run_directory_print_that_runs_times(sweeps, capsys):
    after, from_start, targets = sweeps
    want = _by_run(pd.read_parquet(from_start / "summary.parquet"))
    args = [f"{t:g}" for t in targets]
    for run_id in want.index:
        assert main(["report", str(after / "runs" / run_id), "--targets", *args]) == 0
        lines = dict(ln.split(maxsplit=1) for ln in capsys.readouterr().out.splitlines()[1:])
        for t in targets:
            value = want.loc[run_id, target_column(t)]
            assert lines[target_column(t)] == ("—" if math.isnan(value) else f"{value:.3g}"), run_id
        assert target_column(ORIGINAL) not in lines


def test_targets_on_a_run_plot_are_marked_at_the_runs_times(sweeps, tmp_path):
    from simfl import load_run
    from simfl.plots import run_figures
    from simfl.plots.figures import mark_targets

    after, from_start, targets = sweeps
    want = _by_run(pd.read_parquet(from_start / "summary.parquet"))
    columns = [target_column(t) for t in targets]
    for run_id, status in want.status.items():  # every run, on a bare axes
        fig, ax = plt.subplots()
        evals = pd.read_parquet(after / "runs" / run_id / "evals.parquet")
        marked = mark_targets(ax, evals, targets, diverged=status == "diverged")
        assert list(marked.target) == list(targets) and fig.data["targets"] is marked
        np.testing.assert_array_equal(marked.time_to_target_s.to_numpy(float),
                                      want.loc[run_id, columns].to_numpy(float))
        plt.close(fig)
    # the run figures mark them on the convergence figure, diverged or not (status from the manifest)
    for status in ("complete", "diverged"):
        run_id = want.index[want.status == status][0]
        figs = run_figures(load_run(after / "runs" / run_id), targets=targets)
        np.testing.assert_array_equal(figs["convergence"].data["targets"].time_to_target_s.to_numpy(float),
                                      want.loc[run_id, columns].to_numpy(float))
        for fig in figs.values():
            plt.close(fig)
    run = after / "runs" / want.index[0]
    before = _hashes(run)
    assert main(["plot", str(run), "--targets", "0.5", "--out", str(tmp_path / "p"), "--dpi", "30"]) == 0
    assert _hashes(run) == before


# ----------------------------------------------------------------------- read-only, file names
def test_report_and_plot_leave_the_sweep_unchanged_and_name_figures_by_the_new_targets(sweeps, capsys):
    after, _, targets = sweeps
    before = _hashes(after)
    args = [f"{t:g}" for t in targets]
    assert main(["report", str(after), "--targets", *args]) == 0
    assert main(["plot", str(after), "--targets", *args, "--dpi", "30"]) == 0
    assert _hashes(after) == before
    written = {p.stem for p in (after / "plots").glob("*.png")}
    for kind in ("headline", "time_to", "km"):  # a headline per world of the other swept key: name_<target>_<world>
        for t in targets:
            named = [n for n in written if n == f"{kind}_{t:g}" or n.startswith(f"{kind}_{t:g}_")]
            assert named, (kind, t, written)
    assert not any(f"{ORIGINAL:g}" in name for name in written)


@pytest.mark.parametrize("bad", ["0", "1.5", "abc", "-0.5", "nan"])
@pytest.mark.parametrize("command", ["report", "plot"])
def test_bad_targets_are_one_line_errors(sweeps, capsys, command, bad):
    after, _, _ = sweeps
    with pytest.raises(SystemExit) as exit_:  # argparse's usage error, as the console script exits
        main([command, str(after), "--targets", "0.5", bad])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--targets" in err and "(0, 1]" in err, err


@pytest.mark.parametrize("bad", [[0], [1.5], ["abc"], [True], [], "0.5", [math.nan]])
def test_bad_targets_in_python_are_one_line_errors(bad):
    with pytest.raises(SimflError) as info:
        check_targets(bad)
    assert "\n" not in str(info.value) and "(0, 1]" in str(info.value)


def test_targets_keep_their_order_and_drop_repeats():
    assert check_targets([0.65, 0.5, 0.65, "0.5", 0.5 + 1e-12]) == (0.65, 0.5)  # one column each


# -------------------------------------------------------------------------- results are data
def test_recomputing_imports_nothing_a_run_names(sweeps, tmp_path, monkeypatch):
    """Every run's config names a module that raises when imported: the recomputation never imports it."""
    after, from_start, targets = sweeps
    copy = tmp_path / "copy"
    shutil.copytree(after, copy)
    (tmp_path / "trap_module.py").write_text("raise RuntimeError('a results reader imported a run plugin')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for run in (copy / "runs").iterdir():
        config = yaml.safe_load((run / "config.yaml").read_text())
        config["algorithm"]["type"] = "trap_module:Trap"
        (run / "config.yaml").write_text(yaml.safe_dump(config))
        manifest = json.loads((run / "manifest.json").read_text())
        (run / "manifest.json").write_text(json.dumps({**manifest, "search_path": [str(tmp_path)]}))
    got = summary_with_targets(copy, targets)
    report_text(copy, targets=targets)
    assert "trap_module" not in sys.modules
    want = _by_run(pd.read_parquet(from_start / "summary.parquet"))
    np.testing.assert_array_equal(_by_run(got)[target_column(targets[1])].to_numpy(float),
                                  want[target_column(targets[1])].to_numpy(float))
