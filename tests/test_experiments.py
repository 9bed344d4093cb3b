"""The headline experiment compares tuned methods with matched resources at a fixed mean compute time."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from simfl.results.report import report_text
from simfl.sweep import make_plan, run_sweep
from simfl.tuning import settings_for

ROOT = Path(__file__).resolve().parents[1]
SPREAD = "heterogeneity.compute.seconds_per_sample.cv"
# every experiment's sweep file plans: tests/cli/test_preset_laws.py


@pytest.mark.parametrize("name", ["sweep.yaml", "quick.yaml"])
def test_the_speed_experiment_varies_only_the_spread_and_tunes_every_method_alike(name):
    plan = make_plan(ROOT / "experiments" / "speed_heterogeneity" / name)
    spec = plan.spec
    spreads = set()
    for planned in plan.runs:
        law = planned.config.heterogeneity.compute.seconds_per_sample
        # the mean compute time is the same in every world; only the spread moves
        assert math.isclose(law.expected, 0.01, rel_tol=1e-12)
        assert math.isclose(math.sqrt(law.variance) / law.expected, planned.point[SPREAD], abs_tol=1e-12)
        spreads.add(planned.point[SPREAD])
        alg = planned.config.algorithm
        # matched resources: 10 clients training at once, 10 updates per FedAvg round / FedBuff step
        in_flight = alg.clients_per_round if alg.type == "fedavg" else alg.concurrency
        assert in_flight == 10
    assert len(spreads) >= 3 and 0.0 in spreads
    tune = spec.tune
    methods = spec.values_of("algorithm.type")
    assert set(tune.space) == set(methods)  # every method is tuned ...
    budgets = {m: len(settings_for(tune, m)) for m in methods}
    assert len(set(budgets.values())) == 1 and budgets[methods[0]] > 1  # ... with the same budget
    assert not set(tune.tuning_seeds(spec.seed_list)) & set(spec.seed_list)
    assert all(c.settings and all(len(ts) == len(tune.tuning_seeds(spec.seed_list)) for ts in c.trials.values())
               for c in plan.contests)
    for contest in plan.contests:  # trials are scored on validation rows, never on the test set
        for trials in contest.trials.values():
            assert all(t.config.eval.split == "validation" and t.config.data.validation_fraction > 0 for t in trials)


@pytest.mark.slow
def test_the_quick_speed_experiment_runs_tuned_within_minutes(tmp_path):
    outcome = run_sweep(ROOT / "experiments" / "speed_heterogeneity" / "quick.yaml", out=tmp_path / "quick",
                        workers=2, progress=False)
    assert outcome.counts == {"complete": 27}
    chosen = outcome.tuning[outcome.tuning.chosen]
    assert chosen.groupby([SPREAD, "algorithm.type"]).setting_index.nunique().eq(1).all()
    assert len(chosen.groupby([SPREAD, "algorithm.type"])) == 9  # a choice per world and method
    text = report_text(tmp_path / "quick")
    assert "Tuning: per cell and algorithm.type, grid search over fedavg: train.lr, algorithm.fedavg.deadline_s" in text
    assert "restricted mean time to 0.6 validation accuracy within τ = 300 s" in text  # the resolved horizon
    assert "realised population per cell" in text
