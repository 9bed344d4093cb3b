"""The ``tune:`` section of a sweep file: tune every contestant in every world before comparing.

::

    tune:
      by: algorithm.type              # the swept key whose values are the contestants
      seeds: 2                        # tuning seeds: a count (after the evaluation seeds) or a list
      criterion: {type: time_to_target, target: 0.6}   # rule: sustained (default) | first; or accuracy_at
      search: grid                    # grid (every combination) | random (``trials`` draws)
      halving: {min_s: 75, eta: 2}    # successive halving on simulated time (optional)
      space:                          # per contestant: dotted key -> values, or a range (random)
        fedavg:   {train.lr: [0.01, 0.03, 0.1], algorithm.fedavg.clients_per_round: [5, 10, 20]}
        fedasync: {train.lr: [0.01, 0.03, 0.1], algorithm.fedasync.alpha: [0.3, 0.6, 0.9]}
        fedbuff:  {train.lr: {low: 0.01, high: 0.3, log: true}}   # random search only

The protocol (:mod:`simfl.tuning`): for every world of the grid (a *cell*: the swept keys other
than ``by``) and every contestant, each setting is run on the tuning seeds, evaluated on the
clients' validation rows (``data.validation_fraction``, the same rows in every run of the
sweep; the test set is never read), and scored by ``criterion`` within the horizon; the best
setting then runs on the evaluation seeds (``seeds``), evaluated on the test set. Everything
here is validated before any run starts; errors name the ``tune.*`` key.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from simfl.results.targetrule import TargetRule
from simfl.strict import StrictModel
from simfl.tagged import tagged_union

__all__ = ["TuneSpec", "Range", "TimeToTarget", "AccuracyAt", "Halving", "CRITERIA", "PROTOCOL_KEYS"]

#: Keys the tuning protocol sets itself in every trial: a search space may not vary them.
PROTOCOL_KEYS = ("seed", "eval.split", "data.validation_fraction", "stop.sim_time_s", "stop.client_updates",
                 "stop.server_updates", "stop.target_accuracy", "train.enabled")


class _Part(StrictModel):
    """A part of the ``tune:`` section: frozen, unknown keys refused."""


class Range(_Part):
    """A range of values for random search: uniform on [low, high], or log-uniform (``log``)."""

    low: float = Field(allow_inf_nan=False, description="smallest value")
    high: float = Field(allow_inf_nan=False, description="largest value")
    log: bool = Field(False, description="draw uniformly on a log scale (low > 0)")
    integer: bool = Field(False, description="round draws to integers (low and high included)")

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be < high ({self.high:g})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0, got {self.low:g}")
        if self.integer and math.floor(self.high) < math.ceil(self.low):
            raise ValueError(f"no integer lies in [{self.low:g}, {self.high:g}]")
        return self


class TimeToTarget(_Part):
    """Restricted mean time to a validation accuracy within the horizon τ: the mean over tuning
    seeds of min(T, τ), T the time the trial reached ``target`` under ``rule`` (a trial that never
    reaches it counts τ). Lower is better; ties (e.g. nobody reached it yet) go to the higher mean
    validation accuracy at τ."""

    type: Literal["time_to_target"] = "time_to_target"
    target: float = Field(gt=0, le=1, description="validation accuracy to reach")
    rule: Literal["sustained", "first"] = Field(
        "sustained", description="sustained: the first evaluation after which validation accuracy stays >= target "
        "(up to the rung, or for `window` evaluations) | first: the first evaluation >= target"
    )
    window: int | None = Field(None, ge=1, description="sustained: evaluations the accuracy must stay >= target "
                               "(that one included); null = up to the rung")

    @model_validator(mode="after")
    def _window_is_for_sustained(self):
        if self.rule == "first" and self.window is not None:
            raise ValueError("window is for rule sustained (a first crossing is one evaluation)")
        return self

    @property
    def target_rule(self) -> TargetRule:
        """``rule`` and ``window`` as a :class:`~simfl.results.targetrule.TargetRule`."""
        return TargetRule(type=self.rule, window=self.window)


class AccuracyAt(_Part):
    """Validation accuracy of the model held after ``budget_s`` simulated seconds (mean over the
    tuning seeds; a diverged trial scores 0). Higher is better."""

    type: Literal["accuracy_at"] = "accuracy_at"
    budget_s: float = Field(gt=0, allow_inf_nan=False, description="simulated seconds of the budget")


#: The criteria, by ``type``.
CRITERIA = {cls.model_fields["type"].default: cls for cls in (TimeToTarget, AccuracyAt)}


class Halving(_Part):
    """Successive halving on simulated time (synchronous; Jamieson & Talwalkar 2016).

    Every setting runs to ``min_s``; the best ``max(1, n // eta)`` go on to ``min_s · eta``, and so
    on until one is left or the horizon is reached. A stopped setting's trials keep their
    checkpoints (paused), so a longer rung resumes them instead of starting over."""

    min_s: float = Field(gt=0, allow_inf_nan=False, description="simulated seconds of the first rung")
    eta: int = Field(3, ge=2, description="each rung keeps the best 1/eta of the settings and runs eta times longer")


def _values(value: Any) -> list[Any] | Range:
    """A key's candidates: a list of values, or a range mapping ``{low, high, log, integer}``."""
    if isinstance(value, list):
        return value
    if isinstance(value, Range):
        return value
    if isinstance(value, dict):
        from pydantic import ValidationError

        try:
            return Range.model_validate(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"{where + ': ' if where else ''}{first['msg'].removeprefix('Value error, ')}") from None
    raise ValueError(f"expected a list of values or a range {{low, high, log, integer}}, got {value!r}")


_Values = Annotated[Any, BeforeValidator(_values)]


class TuneSpec(_Part):
    """Tune every contestant in every cell before the evaluation runs (docs/fair_comparisons.md).

    See the module docstring for an example."""

    by: str | None = Field(
        None, description="swept key whose values are the contestants (default: label with variants, else "
        "algorithm.type)"
    )
    space: dict[str, dict[str, _Values]] = Field(
        description="contestant (a value of `by`) -> {dotted config key: list of values, or a range {low, high, "
        "log, integer} for random search}; a contestant left out runs untuned"
    )
    search: Literal["grid", "random"] = Field(
        "grid", description="grid: every combination of the listed values | random: `trials` settings drawn per "
        "contestant (lists: uniformly; ranges: uniformly or log-uniformly)"
    )
    trials: int | None = Field(None, ge=1, description="random: settings drawn per contestant (the same in every cell)")
    seeds: int | list[Annotated[int, Field(ge=0)]] = Field(
        2, description="tuning seeds: a count n (the n seeds after the largest evaluation seed) or a list disjoint "
        "from the evaluation seeds"
    )
    criterion: tagged_union(CRITERIA, key="type") = Field(  # type: ignore[valid-type]
        description="time_to_target (target): restricted mean time to a validation accuracy within the horizon | "
        "accuracy_at (budget_s): validation accuracy after budget_s"
    )
    halving: Halving | None = Field(None, description="successive halving on simulated time (min_s, eta); null = none")
    horizon_s: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="simulated seconds of a trial (default: accuracy_at's budget_s, else the base's stop.sim_time_s)",
    )
    sample_seed: int = Field(0, ge=0, description="random search: seed of the settings drawn (the same in every cell)")

    @field_validator("space")
    @classmethod
    def _known_keys(cls, space: dict[str, dict[str, _Values]]) -> dict[str, dict[str, _Values]]:
        from simfl.config.load import split_key

        for contestant, keys in space.items():
            for key, values in keys.items():
                split_key(key)
                if key in PROTOCOL_KEYS:
                    raise ValueError(f"{contestant}: {key} is set by the tuning protocol itself; it cannot be tuned")
                if isinstance(values, list) and not values:
                    raise ValueError(f"{contestant}: {key} has no values")
        return space

    @field_validator("seeds")
    @classmethod
    def _valid_seeds(cls, value: int | list[int]) -> int | list[int]:
        if isinstance(value, int) and value < 1:
            raise ValueError("must be a count >= 1 or a non-empty list of seeds")
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError("must be a non-empty list of distinct seeds")
        return value

    @model_validator(mode="after")
    def _consistent(self):
        ranged = [f"{c}: {k}" for c, keys in self.space.items() for k, v in keys.items() if isinstance(v, Range)]
        if self.search == "grid":
            if ranged:
                raise ValueError(f"search grid takes lists of values; {ranged[0]} is a range (use search: random)")
            if self.trials is not None:
                raise ValueError("trials is for search: random (a grid runs every combination)")
        elif self.trials is None:
            raise ValueError("search random needs trials: the number of settings drawn per contestant")
        if isinstance(self.criterion, AccuracyAt) and self.horizon_s is not None and self.criterion.budget_s > self.horizon_s:
            raise ValueError(f"criterion.budget_s ({self.criterion.budget_s:g}) is beyond horizon_s ({self.horizon_s:g})")
        return self

    def tuning_seeds(self, evaluation_seeds: list[int]) -> list[int]:
        """The tuning seeds (a count: the seeds after the largest evaluation seed)."""
        if isinstance(self.seeds, int):
            start = max(evaluation_seeds) + 1
            return list(range(start, start + self.seeds))
        return list(self.seeds)

    def horizon(self, base_sim_time_s: float | None) -> float | None:
        """A trial's simulated seconds: ``horizon_s``, else the budget, else the base's stop time."""
        if self.horizon_s is not None:
            return self.horizon_s
        if isinstance(self.criterion, AccuracyAt):
            return self.criterion.budget_s
        return base_sim_time_s

    def rungs(self, horizon: float) -> list[float]:
        """Simulated times at which settings are compared: ``min_s · eta^k`` below the horizon, then
        the horizon (just the horizon without halving)."""
        times: list[float] = []
        if self.halving is not None:
            t = self.halving.min_s
            while t < horizon:
                times.append(t)
                t *= self.halving.eta
        return [*times, horizon]
