"""Sweep files: ``base`` + ``grid`` (× ``zip``) (× ``variants``) × ``seeds`` → validated runs with stable ids.

A sweep file::

    base: ../configs/flagship.yaml     # a config path (relative to this file) or an inline mapping
    set:                               # optional: keys set for every run (like --set), before the grid
      data.validation_fraction: 0.1
    grid:                              # dotted keys → lists; the cartesian product is taken
      algorithm.type: [fedavg, fedasync, fedbuff]
      heterogeneity.compute.seconds_per_sample.sigma: [0.25, 0.5, 1.0, 1.5]
    zip:                               # optional: lists of one length, varied together
      algorithm.concurrency: [5, 10, 20]
      algorithm.clients_per_round: [5, 10, 20]
    variants:                          # optional: named points, each a set of dotted keys
      fedbuff: {algorithm.type: fedbuff}
      mine: {algorithm.type: "my_rules:Adaptive", algorithm.eta: 0.5}
    seeds: 5                           # a count (seeds 0..4) or a list of seeds
    targets: [0.7, 0.8]                # accuracies whose time-to-reach the summary reports
    target_rule: sustained             # or first, or {type: sustained, window: 3} (simfl.results.targetrule)

The points are the product of the ``grid``, the ``zip`` rows and the ``variants``. A variant's
name becomes the ``label`` column of the summary (usable as ``simfl report --by label``); each
key a variant sets becomes a column too (empty for variants that do not set it). The key
``label`` may also appear in ``grid`` or ``zip`` (when there are no variants): it names a point
without changing its config.

Plugin modules (``algorithm.type: my_rules:Adaptive``) are looked up in the sweep file's
folder and in the base config's folder, then on the Python path.

A run's id is a hash of its resolved config (everything that affects its results), so the
same point of the same sweep always has the same id and rerunning a sweep finds its runs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from simfl.config.load import apply_overrides, config_from_dict, read_yaml, resolve_paths, split_key
from simfl.config.messages import render_validation_error
from simfl.config.schema import Config, Name, Section
from simfl.sweep.tunespec import TuneSpec
from simfl.errors import ConfigError
from simfl.identity.runid import result_digest, run_id_of
from simfl.results.targetrule import TargetRule

__all__ = ["SweepSpec", "PlannedRun", "load_sweep", "sweep_search_path", "expand_sweep", "run_id_of", "result_digest",
           "point_label", "point_config", "LABEL"]

#: A swept key that names points without changing their config.
LABEL = "label"


class SweepSpec(Section):
    """A sweep file, validated."""

    name: Name | None = Field(None, description="label of the sweep (default: the file's stem); a name, not a path")
    base: str | dict[str, Any] = Field(default_factory=dict, description="config path (relative to the sweep file) or inline config")
    set: dict[str, Any] = Field(
        default_factory=dict, description="dotted config keys -> values applied to the base for every run (like "
        "--set; e.g. data.validation_fraction: 0.1), before the swept keys"
    )
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="dotted config keys → values; cartesian product")
    zip: dict[str, list[Any]] = Field(default_factory=dict, description="dotted config keys → equally long lists varied together")
    variants: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="named points: label → {dotted config key: value}"
    )
    seeds: int | list[int] = Field(1, description="number of seeds (0..n-1) or an explicit list")
    targets: list[float] = Field(default_factory=list, description="test accuracies whose time-to-reach is summarized")
    target_rule: TargetRule = Field(
        default_factory=TargetRule, description="when a run counts as having reached a target: sustained (default: "
        "accuracy stays >= it for the rest of the run, or for `window` evaluations) or first (first crossing); "
        "the short forms sustained and first stand for {type: ...}"
    )
    max_runs: int = Field(100_000, ge=1, description="a sweep with more runs than this is refused (raise it if you mean it)")
    tune: TuneSpec | None = Field(
        None, description="tune every contestant in every cell on tuning seeds before the evaluation runs "
        "(simfl.sweep.tunespec); null = the settings as given"
    )

    @field_validator("grid", "zip")
    @classmethod
    def _non_empty_lists(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in value.items():
            if not values:
                raise ValueError(f"'{key}' has no values")
            if key == "seed":
                raise ValueError("vary the seed with 'seeds', not as a swept key")
        return value

    @field_validator("variants")
    @classmethod
    def _valid_variants(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for label, keys in value.items():
            if not isinstance(keys, dict):
                raise ValueError(f"variant '{label}' must be a mapping of dotted keys to values")
            for key in keys:
                if key in ("seed", LABEL):
                    raise ValueError(f"variant '{label}': '{key}' cannot be set by a variant")
                split_key(key)
        return value

    @field_validator("seeds")
    @classmethod
    def _valid_seeds(cls, value: int | list[int]) -> int | list[int]:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("must be a count >= 1 or a non-empty list of seeds")
            return value  # 0..value-1: distinct and non-negative
        if not value:
            raise ValueError("must be a count >= 1 or a non-empty list of seeds")
        if any(s < 0 for s in value) or len(set(value)) != len(value):
            raise ValueError("seeds must be distinct non-negative integers")
        return value

    @field_validator("targets")
    @classmethod
    def _valid_targets(cls, value: list[float]) -> list[float]:
        if any(not 0 < t <= 1 for t in value):
            raise ValueError("accuracy targets must lie in (0, 1]")
        return value

    @model_validator(mode="after")
    def _consistent(self):
        lengths = {len(v) for v in self.zip.values()}
        if len(lengths) > 1:
            raise ValueError(f"zip lists must have one length, got {sorted(lengths)}")
        both = set(self.grid) & set(self.zip)
        if both:
            raise ValueError(f"keys both in grid and zip: {', '.join(sorted(both))}")
        if self.variants and LABEL in (*self.grid, *self.zip):
            raise ValueError("variants name their points (the label column): drop 'label' from grid and zip")
        varied = {k for keys in self.variants.values() for k in keys}
        clash = varied & (set(self.grid) | set(self.zip))
        if clash:
            raise ValueError(f"keys both in variants and grid/zip: {', '.join(sorted(clash))}")
        fixed = sorted(set(self.set) & set(self.swept_keys))
        if fixed:
            raise ValueError(f"set: {fixed[0]} is also swept; a key is either set for every run or swept")
        for key in self.set:
            split_key(key)
        if self.tune is not None:
            self._check_tune(self.tune)
        return self

    def _check_tune(self, tune: TuneSpec) -> None:
        """The ``tune`` section against the rest of the sweep: contestants, keys and seeds."""
        by = self.tune_by
        if by not in self.swept_keys:
            raise ValueError(f"tune.by: {by} is not a swept key of this sweep; swept keys: "
                             f"{', '.join(self.swept_keys) or 'none'}")
        contestants = [str(v) for v in self.values_of(by)]
        unknown = [c for c in tune.space if c not in contestants]
        if unknown:
            raise ValueError(f"tune.space: {unknown[0]} is not a value of {by}; values: {', '.join(contestants)}")
        swept = set(self.swept_keys)
        for contestant, keys in tune.space.items():
            both = sorted(set(keys) & swept)
            if both:
                raise ValueError(f"tune.space: {contestant}: {both[0]} is swept; a key is either swept or tuned")
        overlap = sorted(set(tune.tuning_seeds(self.seed_list)) & set(self.seed_list))
        if overlap:
            raise ValueError(f"tune.seeds: {overlap} are also evaluation seeds; tuning and evaluation seeds must be "
                             "disjoint")

    @property
    def tune_by(self) -> str:
        """The swept key naming the contestants of ``tune`` (``label`` with variants, else ``algorithm.type``)."""
        if self.tune is not None and self.tune.by is not None:
            return self.tune.by
        return LABEL if self.variants else "algorithm.type"

    def values_of(self, key: str) -> list[Any]:
        """The values a swept key takes, in file order."""
        if key in self.grid:
            return list(self.grid[key])
        if key in self.zip:
            return list(dict.fromkeys(self.zip[key]))
        if key == LABEL and self.variants:
            return list(self.variants)
        return list(dict.fromkeys(v[key] for v in self.variants.values() if key in v))

    @property
    def num_runs(self) -> int:
        """How many runs the sweep expands to (computed without expanding it)."""
        count = len(self.seeds) if isinstance(self.seeds, list) else self.seeds
        for values in self.grid.values():
            count *= len(values)
        if self.zip:
            count *= len(next(iter(self.zip.values())))
        return count * max(len(self.variants), 1)

    @property
    def seed_list(self) -> list[int]:
        """The seeds, as a list."""
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)

    @property
    def swept_keys(self) -> list[str]:
        """Every swept key, grid first, in file order (then ``label`` and the variants' keys)."""
        keys = [*self.grid, *self.zip]
        if self.variants:
            keys.append(LABEL)
            for variant in self.variants.values():
                keys += [k for k in variant if k not in keys]
        return keys


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: its id, its point in the sweep, its seed and its config."""

    run_id: str
    point: dict[str, Any]
    seed: int
    config: Config


def point_label(point: dict[str, Any]) -> str:
    """``key=value, ...`` for messages."""
    return ", ".join(f"{k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}" for k, v in point.items())


def load_sweep(path: str | Path) -> tuple[SweepSpec, dict[str, Any]]:
    """Read and validate a sweep file; returns the spec and the base config mapping.

    The folders plugins are looked up in are :func:`sweep_search_path` of the same file.
    """
    path = Path(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a sweep file is a mapping with base, grid, zip, seeds, targets")
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as exc:
        lines = render_validation_error(exc, SweepSpec).splitlines()
        raise ConfigError("\n".join(f"{path}: {line}" for line in lines)) from None
    if isinstance(spec.base, str):
        base_path = (path.parent / spec.base) if not Path(spec.base).is_absolute() else Path(spec.base)
        if not base_path.is_file() and Path(spec.base).is_file():
            base_path = Path(spec.base)
        if not base_path.is_file():
            raise ConfigError(f"{path}: base: no such config file {spec.base} (looked in {path.parent} and the current directory)")
        base = resolve_paths(read_yaml(base_path) or {}, base_path.parent)
    else:
        base = resolve_paths(spec.base, path.parent)
    if spec.set:
        base = apply_overrides(base, list(spec.set.items()), sweep_search_path(path))
    if spec.name is None:
        spec = spec.model_copy(update={"name": path.stem})
    return spec, base


def sweep_search_path(path: str | Path) -> tuple[str, ...]:
    """Where a sweep's plugin modules are looked up: the sweep file's folder, then its base config's."""
    path = Path(path)
    folders = [path.parent.resolve()]
    raw = read_yaml(path)
    base = raw.get("base") if isinstance(raw, dict) else None
    if isinstance(base, str):
        candidate = Path(base) if Path(base).is_absolute() else path.parent / base
        if candidate.is_file() and candidate.parent.resolve() not in folders:
            folders.append(candidate.parent.resolve())
    return tuple(str(f) for f in folders)


def point_config(spec: SweepSpec, base: dict[str, Any], point: dict[str, Any], seed: int,
                 extra_overrides: list = (), search_path: tuple[str, ...] = (), more: list = (),
                 what: str = "sweep point") -> Config:
    """The validated config of a sweep ``point`` under ``seed``: ``base``, then ``extra_overrides``,
    the point's keys, ``more`` (``(key, value)`` pairs, e.g. a tuned setting) and the seed; named
    ``<sweep>-<run id>``.

    Raises:
        ConfigError: naming ``what`` and the point.
    """
    overrides = [*extra_overrides, *((k, v) for k, v in point.items() if k != LABEL), *more, ("seed", seed)]
    try:
        config = config_from_dict(base, overrides, source="base", search_path=search_path)
    except ConfigError as exc:
        raise ConfigError(f"{what} {point_label(point)}: {exc}") from None
    return config.model_copy(update={"name": f"{spec.name}-{run_id_of(config)}"})


def expand_sweep(
    spec: SweepSpec, base: dict[str, Any], extra_overrides: list[str] = (), search_path: tuple[str, ...] = ()
) -> list[PlannedRun]:
    """Every run of the sweep, validated: grid product × zip × variants × seeds (in that nesting order).

    Raises:
        ConfigError: naming the sweep point whose config is invalid, or two points that
            resolve to the same run.
    """
    if spec.num_runs > spec.max_runs:
        raise ConfigError(f"seeds: the sweep has {spec.num_runs:,} runs > max_runs ({spec.max_runs:,}): sweep fewer "
                          "points or seeds, or raise max_runs in the sweep file")
    grid_points = [dict(zip(spec.grid, values)) for values in itertools.product(*spec.grid.values())]
    zip_len = len(next(iter(spec.zip.values()))) if spec.zip else 1
    zip_points = [{k: v[i] for k, v in spec.zip.items()} for i in range(zip_len)]
    variant_points = [{LABEL: label, **keys} for label, keys in spec.variants.items()] or [{}]
    points = [{**g, **z, **v} for g, z, v in itertools.product(grid_points, zip_points, variant_points)]
    runs: list[PlannedRun] = []
    seen: dict[str, dict[str, Any]] = {}
    for point in points:
        for seed in spec.seed_list:
            config = point_config(spec, base, point, seed, extra_overrides, search_path)
            rid = run_id_of(config)
            if rid in seen:
                raise ConfigError(
                    f"sweep points {point_label(seen[rid])} and {point_label(point)} give the same run (seed {seed})"
                )
            seen[rid] = point
            runs.append(PlannedRun(rid, point, seed, config))
    return runs
