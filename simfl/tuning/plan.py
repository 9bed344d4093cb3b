"""What tuning runs: a *contest* per cell and contestant, its candidate settings, and their trials.

A cell is a combination of the swept keys other than ``tune.by`` (a world of the sweep); a
contestant is a value of ``tune.by``. A trial is an ordinary run of the cell's config with the
contestant's point, a candidate setting and the tuning protocol's keys (:func:`trial_overrides`)
under one tuning seed; its id is its config's hash, like every run's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from simfl.config.schema import Config
from simfl.sweep.spec import PlannedRun, SweepSpec, point_config, run_id_of
from simfl.sweep.tunespec import TuneSpec
from simfl.errors import ConfigError
from simfl.tuning.space import Setting, settings_for

__all__ = ["Trial", "Contest", "plan_contests", "trial_overrides", "tuning_horizon", "cell_of", "contest_key",
           "evaluation_runs"]


@dataclass(frozen=True)
class Trial:
    """One run of a candidate setting on one tuning seed."""

    run_id: str
    seed: int
    config: Config = field(repr=False)


@dataclass
class Contest:
    """One contestant in one cell: its candidate settings and their trials (one per tuning seed)."""

    cell: dict[str, Any]
    contestant: str
    point: dict[str, Any]
    settings: list[Setting]
    trials: dict[int, list[Trial]]

    @property
    def key(self) -> tuple:
        """A hashable identity: (cell items, contestant)."""
        return cell_of(self.cell), self.contestant

    @property
    def tuned(self) -> bool:
        """True when there is something to choose (more than one candidate)."""
        return len(self.settings) > 1


def cell_of(values: dict[str, Any]) -> tuple:
    """A hashable cell key from ``{swept key: value}``."""
    return tuple((k, _hashable(v)) for k, v in values.items())


def _split_point(point: dict[str, Any], by: str) -> tuple[dict[str, Any], str]:
    """A sweep point's cell (its swept keys other than ``by``) and contestant (its ``by`` value, as text)."""
    return {k: v for k, v in point.items() if k != by}, str(point[by])


def contest_key(point: dict[str, Any], by: str) -> tuple:
    """The key of the contest a sweep point belongs to (:attr:`Contest.key`)."""
    cell, contestant = _split_point(point, by)
    return cell_of(cell), contestant


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def tuning_horizon(tune: TuneSpec, base_config: Config) -> float:
    """A trial's simulated seconds (see :meth:`TuneSpec.horizon`), checked against the base config.

    Raises:
        ConfigError: no horizon can be found, or the base cannot be tuned (a dry run, no validation rows).
    """
    if not base_config.train.enabled:
        raise ConfigError("tune: tuning scores validation accuracy, so it needs training (no --dry-run, "
                          "train.enabled: true)")
    if not base_config.data.validation_fraction:
        raise ConfigError("tune: needs validation rows: set data.validation_fraction > 0 in the base config (every "
                          "run of the sweep then holds out the same rows; trials are scored on them, never on the "
                          "test set)")
    horizon = tune.horizon(base_config.stop.sim_time_s)
    if horizon is None:
        raise ConfigError("tune.horizon_s: the base config has no stop.sim_time_s; give the trials' simulated seconds")
    if tune.halving is not None and tune.halving.min_s >= horizon:
        raise ConfigError(f"tune.halving.min_s: {tune.halving.min_s:g} is not below the horizon ({horizon:g} s)")
    return float(horizon)


def trial_overrides(horizon: float) -> list[tuple[str, Any]]:
    """The tuning protocol's keys in every trial: evaluated on the validation rows, stopped at the
    horizon only, no trackers (trials are many; their scores are in ``tuning.parquet``)."""
    return [("eval.split", "validation"), ("stop.sim_time_s", horizon), ("stop.client_updates", None),
            ("stop.server_updates", None), ("stop.target_accuracy", None), ("tracking", {})]


def plan_contests(spec: SweepSpec, base: dict[str, Any], runs: Sequence[PlannedRun], extra: list = (),
                  search_path: tuple[str, ...] = ()) -> tuple[list[Contest], float]:
    """Every contest of a tuned sweep and its trials' configs (validated), and the horizon.

    Raises:
        ConfigError: a setting gives an invalid config (naming the contestant, cell and setting).
    """
    tune = spec.tune
    by = spec.tune_by
    horizon = tuning_horizon(tune, runs[0].config)  # the horizon and validation split are not swept keys
    seeds = tune.tuning_seeds(spec.seed_list)
    contests: dict[tuple, Contest] = {}
    for planned in runs:
        cell, contestant = _split_point(planned.point, by)
        key = contest_key(planned.point, by)
        if key in contests:
            continue
        settings = settings_for(tune, contestant)
        trials = {}
        if len(settings) > 1:
            protocol = trial_overrides(horizon)
            for setting in settings:
                trials[setting.index] = [
                    _trial(spec, base, planned.point, s, extra, search_path, [*setting.values.items(), *protocol],
                           contestant, setting)
                    for s in seeds
                ]
        contests[key] = Contest(cell, contestant, planned.point, settings, trials)
    return list(contests.values()), horizon


def _trial(spec, base, point, seed, extra, search_path, more, contestant: str, setting: Setting) -> Trial:
    what = f"tune.space: {contestant}: setting {setting.text}: at sweep point"
    config = point_config(spec, base, point, seed, extra, search_path, more, what=what)
    config = config.model_copy(update={"name": f"{spec.name}-tune-{run_id_of(config)}"})
    return Trial(run_id_of(config), seed, config)


def evaluation_runs(spec: SweepSpec, base: dict[str, Any], runs: Sequence[PlannedRun],
                    choices: dict[tuple, Setting | None], extra: list = (),
                    search_path: tuple[str, ...] = ()) -> list[PlannedRun | None]:
    """The evaluation runs with each contest's chosen setting applied (None where its tuning failed),
    in the order of ``runs``.

    Raises:
        ConfigError: two runs would be the same run.
    """
    by = spec.tune_by
    out: list[PlannedRun | None] = []
    seen: dict[str, dict[str, Any]] = {}
    for planned in runs:
        chosen = choices.get(contest_key(planned.point, by))
        if chosen is None:
            out.append(None)
            continue
        config = point_config(spec, base, planned.point, planned.seed, extra, search_path, list(chosen.values.items()))
        rid = run_id_of(config)
        if rid in seen:
            raise ConfigError(f"sweep points {seen[rid]} and {planned.point}: the tuned settings give the same run "
                              f"(seed {planned.seed})")
        seen[rid] = planned.point
        out.append(PlannedRun(rid, planned.point, planned.seed, config))
    return out
