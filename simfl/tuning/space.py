"""The settings a contestant is tried with: every combination of a grid, or random draws.

A *setting* is a mapping of dotted config keys to values, applied to a cell's config like a sweep
point. Random settings come from the seed tree's ``TUNING`` stream keyed by the contestant's name
and ``tune.sample_seed``, so a contestant meets the same candidates in every cell and on every
rerun; a draw that repeats an earlier setting is dropped (so a random search may try fewer than
``trials`` settings when its lists are short).
"""

from __future__ import annotations

import itertools
import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

from simfl.sweep.tunespec import Range, TuneSpec
from simfl.rng import Purpose

__all__ = ["Setting", "settings_for", "setting_text"]


def setting_text(values: dict[str, Any]) -> str:
    """``key=value, ...`` (values in YAML flow style); ``as given`` for the empty setting."""
    if not values:
        return "as given"
    return ", ".join(f"{k}={yaml.safe_dump(v, default_flow_style=True, width=10_000).strip().removesuffix('...').strip()}"
                     for k, v in values.items())


@dataclass(frozen=True)
class Setting:
    """One candidate: its position in the contestant's list and its values (dotted key -> value)."""

    index: int
    values: dict[str, Any]

    @property
    def text(self) -> str:
        """The setting as ``key=value, ...``."""
        return setting_text(self.values)


def settings_for(tune: TuneSpec, contestant: str) -> list[Setting]:
    """The candidates of ``contestant`` (one empty setting when it is not tuned)."""
    space = tune.space.get(contestant) or {}
    if not space:
        return [Setting(0, {})]
    if tune.search == "grid":
        combos = [dict(zip(space, values)) for values in itertools.product(*space.values())]
    else:
        rng = _stream(tune.sample_seed, contestant)
        combos = [{key: _draw(values, rng) for key, values in space.items()} for _ in range(tune.trials)]
    unique: dict[str, dict[str, Any]] = {}
    for values in combos:
        unique.setdefault(yaml.safe_dump(values, sort_keys=True), values)
    return [Setting(i, values) for i, values in enumerate(unique.values())]


def _stream(sample_seed: int, contestant: str) -> np.random.Generator:
    key = zlib.crc32(contestant.encode())
    ss = np.random.SeedSequence(sample_seed, spawn_key=(int(Purpose.TUNING), key))
    return np.random.Generator(np.random.PCG64(ss))


def _draw(values: list[Any] | Range, rng: np.random.Generator) -> Any:
    """One value: uniformly from a list, or from a range (log-uniformly with ``log``)."""
    if isinstance(values, list):
        return values[int(rng.integers(len(values)))]
    if values.integer:
        low, high = math.ceil(values.low), math.floor(values.high)
        if values.log:
            return int(min(max(round(math.exp(rng.uniform(math.log(max(low, 1)), math.log(high)))), low), high))
        return int(rng.integers(low, high + 1))
    if values.log:
        return float(math.exp(rng.uniform(math.log(values.low), math.log(values.high))))
    return float(rng.uniform(values.low, values.high))
