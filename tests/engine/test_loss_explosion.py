"""A loss that explodes without NaN ends the run as diverged (eval.divergence_factor), like NaN does."""

from __future__ import annotations

import numpy as np
import pytest

import simfl
from tests.conftest import make_config
from tests.tracking.helpers import DriftTrainer

WORLD = {"seed": 1, "data": {"num_clients": 6}, "train": {"enabled": True},
         "algorithm": {"type": "fedasync", "concurrency": 3}, "stop": {"sim_time_s": 30.0}, "eval": {"every_s": 1.0}}


class Explodes(DriftTrainer):
    """Each job pushes the model 10 times further from ``c``: the loss grows without ever being NaN."""

    def result(self, job):
        return job.start_params + 10.0 * (job.start_params - self.c) + 1.0


def test_a_loss_beyond_the_factor_is_diverged_with_the_reason(tmp_path):
    result = simfl.run(make_config(**WORLD), out=tmp_path / "run", trainer=Explodes(), progress=False)
    losses = result.evals["test_loss"].to_numpy()
    first = losses[0]
    assert np.isfinite(losses).all()  # never NaN: the factor is what stopped it
    assert result.status == "diverged"
    assert losses[-1] > 1000 * first and (losses[:-1] <= 1000 * first).all()  # stopped at the first one beyond
    because = result.manifest["diverged_because"]
    assert "exceeds 1000 × the initial model's" in because and "eval.divergence_factor" in because
    assert result.manifest["diverged_at_s"] == result.evals["sim_time_s"].iloc[-1]
    assert simfl.load_run(tmp_path / "run").status == "diverged"


def test_the_factor_is_configurable_and_null_disables_it():
    off = simfl.run(make_config(**{**WORLD, "eval": {"every_s": 1.0, "divergence_factor": None}}),
                    trainer=Explodes(), progress=False)
    assert off.status in ("complete", "diverged")
    if off.status == "diverged":  # only through inf or NaN then
        assert "exceeds" not in off.manifest["diverged_because"]
    tight = simfl.run(make_config(**{**WORLD, "eval": {"every_s": 1.0, "divergence_factor": 2}}),
                      trainer=Explodes(), progress=False)
    loose = simfl.run(make_config(**WORLD), trainer=Explodes(), progress=False)
    assert tight.status == "diverged" and tight.evals["sim_time_s"].iloc[-1] < loose.evals["sim_time_s"].iloc[-1]


def test_a_converging_run_is_untouched():
    result = simfl.run(make_config(**WORLD), trainer=DriftTrainer(), progress=False)
    assert result.status == "complete" and "diverged_because" not in result.manifest


@pytest.mark.parametrize("bad", [1, 0.5, -3, "big"])
def test_a_bad_factor_is_a_one_line_error(bad):
    with pytest.raises(simfl.ConfigError, match="eval.divergence_factor"):
        make_config(eval={"divergence_factor": bad})
