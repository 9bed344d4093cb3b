"""Tuned sweeps end to end: the best setting is found where it is known in closed form, the test
split is never read while tuning, successive halving and resumption change nothing but the cost.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simfl
import simfl.sweep.workers as workers_module
from simfl.config.load import config_from_dict
from simfl.data import load_data
from simfl.data.loaders import clear_source_cache
from simfl.results import read_manifest
from simfl.results.report import report_text
from simfl.rng import SeedTree
from simfl.sweep import run_sweep

HERE = Path(__file__).resolve().parent
GUESSES = [0, 1, 2, 3]


def _toy_sweep(tmp_path: Path, extra: str = "", tune_extra: str = "", majorities=(1, 3)) -> Path:
    shutil.copy(HERE / "toy_world.py", tmp_path / "toy_world.py")
    (tmp_path / "sweep.yaml").write_text(textwrap.dedent(f"""\
        name: toy
        base:
          data: {{dataset: python, source: "toy_world:data", num_classes: 4, validation_fraction: 0.25}}
          model: {{type: torch, factory: "toy_world:Guess", kwargs: {{log: "{tmp_path / 'spy.log'}"}}}}
          train: {{executor: sequential, local_steps: 1, batch_size: 5}}
          heterogeneity: {{compute: {{seconds_per_sample: 0.2}}}}
          algorithm: {{fedasync: {{concurrency: 2}}, fedavg: {{clients_per_round: 2}}}}
          stop: {{sim_time_s: 4}}
          eval: {{every_s: 2}}
        grid:
          algorithm.type: [fedavg, fedasync]
          data.source_kwargs.majority: {list(majorities)}
        seeds: 2
        {extra}
        tune:
          seeds: 1
          criterion: {{type: accuracy_at, budget_s: 4}}
          space:
            fedavg: {{model.kwargs.guess: {GUESSES}}}
            fedasync: {{model.kwargs.guess: {GUESSES}}}
          {tune_extra}
        """))
    return tmp_path / "sweep.yaml"


def _validation_shares(sweep: Path, majority: int, seed: int) -> np.ndarray:
    """Share of each class among the validation rows of the world ``(majority, seed)``: the
    validation accuracy of ``Guess(k)`` is its k-th entry, exactly."""
    clear_source_cache()
    config = config_from_dict(
        {"seed": seed, "data": {"dataset": "python", "source": "toy_world:data", "num_classes": 4,
                                "validation_fraction": 0.25, "source_kwargs": {"majority": majority}},
         "algorithm": {"concurrency": 2}},
        search_path=(str(sweep.parent),))
    y = load_data(config.data, SeedTree(seed), "validation").y_test
    return np.bincount(y, minlength=4) / len(y)


@pytest.fixture
def spy_phase(monkeypatch):
    """Runs in this process (workers=1) tell the spy which phase they belong to (``tuning`` or ``runs``)."""
    original = workers_module.execute_run

    def tagged(config_yaml, run_dir, *args, **kwargs):
        monkeypatch.setenv("SPY_PHASE", Path(run_dir).parent.name)
        return original(config_yaml, run_dir, *args, **kwargs)

    monkeypatch.setattr(workers_module, "execute_run", tagged)


def test_the_best_guess_is_the_majority_of_the_validation_rows_and_the_test_rows_are_never_read(tmp_path, spy_phase):
    sweep = _toy_sweep(tmp_path)
    outcome = run_sweep(sweep, out=tmp_path / "out", workers=1, progress=False)
    assert outcome.counts == {"complete": 8}
    trials = pd.read_parquet(tmp_path / "out" / "tuning.parquet")
    assert len(trials) == 2 * 2 * len(GUESSES)  # cells x methods x settings x one tuning seed
    assert set(trials.seed) == {2} and not set(trials.seed) & set(outcome.summary.seed)  # disjoint seeds
    chosen = {}
    for majority in (1, 3):
        shares = _validation_shares(sweep, majority, seed=2)
        cell = trials[trials["data.source_kwargs.majority"] == majority]
        # each trial's score is the exact share of its guessed class among the validation rows
        np.testing.assert_allclose(cell.validation_accuracy, shares[cell["tuned:model.kwargs.guess"]], rtol=0,
                                   atol=1e-12)
        picks = set(cell[cell.chosen]["tuned:model.kwargs.guess"])
        assert picks == {int(np.argmax(shares))}
        chosen[majority] = picks.pop()
    assert chosen == {1: 1, 3: 3}  # the choice differs between the two worlds, as it should
    summary = outcome.summary
    np.testing.assert_array_equal(summary["tuned:model.kwargs.guess"], summary["data.source_kwargs.majority"])
    # the spy: test rows were seen by evaluation runs (the mark works) and never by a trial
    seen = (tmp_path / "spy.log").read_text().split()
    assert "runs" in seen and "tuning" not in seen, set(seen)


def test_the_tuning_does_not_depend_on_the_test_split(tmp_path):
    """The same sweep with other test labels: every trial's score and every choice are the same."""
    tables = {}
    for flip in (False, True):
        out = tmp_path / str(flip)
        out.mkdir()
        sweep = _toy_sweep(out, extra=f"set: {{data.source_kwargs.flip_test: {str(flip).lower()}}}")
        run_sweep(sweep, out=out / "out", workers=1, progress=False)
        tables[flip] = pd.read_parquet(out / "out" / "tuning.parquet").drop(columns=["run_id"])
        tables[flip, "summary"] = pd.read_parquet(out / "out" / "summary.parquet")
    pd.testing.assert_frame_equal(tables[False], tables[True], check_exact=True)
    # the control: the evaluation runs, on the test split, did see the change
    assert not np.allclose(tables[False, "summary"].final_accuracy, tables[True, "summary"].final_accuracy)


def test_a_rerun_computes_nothing_and_an_interrupted_tuning_resumes_without_recomputing(tmp_path, monkeypatch):
    sweep = _toy_sweep(tmp_path)
    calls: list[str] = []
    original = workers_module.execute_run
    stop_after: list[int] = [5]

    def counting(config_yaml, run_dir, *args, **kwargs):
        if len(calls) == stop_after[0]:
            raise KeyboardInterrupt  # as Ctrl-C between two trials
        calls.append(run_dir)
        return original(config_yaml, run_dir, *args, **kwargs)

    monkeypatch.setattr(workers_module, "execute_run", counting)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, out=tmp_path / "out", workers=1, progress=False)
    first = list(calls)
    stamps = {d: read_manifest(d)["started_at"] for d in first}
    assert len(first) == 5 and all(Path(d).parent.name == "tuning" for d in first)
    partial = pd.read_parquet(tmp_path / "out" / "tuning.parquet")  # written on the way out
    assert set(partial.run_id) == {Path(d).name for d in first}
    calls.clear()
    stop_after[0] = -1
    outcome = run_sweep(sweep, out=tmp_path / "out", workers=1, progress=False)
    assert not set(calls) & set(first)  # finished trials were not computed again
    assert len([c for c in calls if Path(c).parent.name == "tuning"]) == 16 - 5
    assert {d: read_manifest(d)["started_at"] for d in first} == stamps
    calls.clear()
    again = run_sweep(sweep, out=tmp_path / "out", workers=1, progress=False)
    assert calls == [] and again.ran == 0  # everything was cached
    # the same trials and results as a sweep that was never interrupted
    (tmp_path / "fresh").mkdir()
    fresh = run_sweep(_toy_sweep(tmp_path / "fresh"), out=tmp_path / "fresh" / "out", workers=1, progress=False)
    ignore = ["run_id", "host_seconds"]
    pd.testing.assert_frame_equal(outcome.summary.drop(columns=ignore), fresh.summary.drop(columns=ignore),
                                  check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "tuning.parquet").drop(columns=["run_id"]),
                                  pd.read_parquet(tmp_path / "fresh" / "out" / "tuning.parquet").drop(columns=["run_id"]),
                                  check_exact=True)


def test_the_report_states_the_protocol_and_warns_at_the_edge(tmp_path):
    sweep = _toy_sweep(tmp_path)
    run_sweep(sweep, out=tmp_path / "out", workers=1, progress=False)
    text = report_text(tmp_path / "out")
    assert "grid search over fedavg: model.kwargs.guess (4 settings); fedasync: model.kwargs.guess (4 settings)" in text
    assert "tuning seeds 2 (evaluation seeds 0, 1: disjoint)" in text
    assert "data.validation_fraction = 0.25" in text and "validation accuracy after 4 simulated s" in text
    warnings = [line for line in text.splitlines() if "warning:" in line and "model.kwargs.guess" in line]
    # majority 3 is the largest guess tried (an edge), majority 1 is inside the range
    assert len(warnings) == 2 and all("data.source_kwargs.majority=3" in w and "largest value" in w for w in warnings)


@pytest.mark.slow
def test_tuning_on_local_workers_and_a_dask_cluster_equals_tuning_in_process(tmp_path):
    distributed = pytest.importorskip("distributed")
    here = run_sweep(_toy_sweep(tmp_path), out=tmp_path / "here", workers=1, progress=False)
    pool = run_sweep(_toy_sweep(tmp_path), out=tmp_path / "pool", workers=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        dask = run_sweep(_toy_sweep(tmp_path), out=tmp_path / "dask", scheduler=cluster.scheduler_address,
                         progress=False)
    reference = pd.read_parquet(tmp_path / "here" / "tuning.parquet")
    for other, outcome in (("pool", pool), ("dask", dask)):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / other / "tuning.parquet"), reference, check_exact=True)
        pd.testing.assert_frame_equal(outcome.summary.drop(columns=["host_seconds"]),
                                      here.summary.drop(columns=["host_seconds"]), check_exact=True)


def test_a_plugin_method_is_tuned_by_its_own_parameters(tmp_path):
    """Contestants named by variants, one of them a plugin whose own parameter (alpha) is tuned
    through its method section; the summary carries the chosen value, the plugin runs with it."""
    root = HERE.parents[1]
    shutil.copy(root / "examples" / "plugins" / "adaptive_async.py", tmp_path / "adaptive_async.py")
    (tmp_path / "sweep.yaml").write_text(textwrap.dedent(f"""\
        base: {root / 'examples/plugins/adaptive_async.yaml'}
        set:
          data.num_clients: 8
          data.validation_fraction: 0.2
          stop.sim_time_s: 20
          eval.every_s: 4
          "algorithm.'adaptive_async:AdaptiveAsync'.concurrency": 3
          algorithm.fedbuff.concurrency: 3
        variants:
          mine: {{algorithm.type: "adaptive_async:AdaptiveAsync"}}
          fedbuff: {{algorithm.type: fedbuff}}
        seeds: 1
        tune:
          seeds: 1
          criterion: {{type: accuracy_at, budget_s: 20}}
          space:
            mine: {{"algorithm.'adaptive_async:AdaptiveAsync'.alpha": [0.2, 0.9]}}
        """))
    outcome = run_sweep(tmp_path / "sweep.yaml", out=tmp_path / "out", workers=1, progress=False)
    assert outcome.counts == {"complete": 2}
    trials = outcome.tuning
    assert trials.label.unique().tolist() == ["mine"] and len(trials) == 2  # fedbuff runs as given
    best = trials.loc[trials.validation_accuracy.idxmax()]
    assert trials.chosen.sum() == 1 and bool(best.chosen)
    key = "tuned:algorithm.'adaptive_async:AdaptiveAsync'.alpha"
    mine = outcome.summary[outcome.summary.label == "mine"].iloc[0]
    assert mine[key] == best[key]
    assert pd.isna(outcome.summary[outcome.summary.label == "fedbuff"].iloc[0][key])
    config = simfl.load_run(tmp_path / "out" / "runs" / mine.run_id).config
    assert config.algorithm.alpha == best[key]
