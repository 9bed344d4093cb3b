"""Human text for config keys, columns, methods and swept values, with a way to set it.

Figures never show a raw dotted key: :func:`axis_label` gives ``spread σ of client speed
(lognormal)`` for ``heterogeneity.compute.seconds_per_sample.sigma``, a readable fallback for
keys it does not know, and whatever :func:`set_label` (or ``simfl plot --label KEY=TEXT``) set.

A swept distribution parameter says what the sweep held fixed, read from the sweep's base
config as data (:func:`sweep_axis_labels`): ``CV of seconds per sample (lognormal, mean fixed
at 0.01 s)``, or for a median-form σ ``σ of log seconds per sample (lognormal, median fixed at
0.01 s: the mean grows as e^{σ²/2})``. Labels set by the user come first.
"""

from __future__ import annotations

import textwrap
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

import simfl.registry as registry

from simfl.scenario.distributions import DISTRIBUTIONS
from simfl.scenario.realised import PROFILE_COLUMNS

__all__ = [
    "KEY_LABELS",
    "KEY_SYMBOLS",
    "method_names",
    "axis_label",
    "value_label",
    "method_label",
    "set_label",
    "set_labels",
    "label_context",
    "wrap",
    "client_label",
    "client_labels",
    "NAME_WIDTH",
    "round_measured",
    "held_fixed_labels",
    "sweep_axis_labels",
]

#: Axis labels of config keys and table columns (units in parentheses).
KEY_LABELS: dict[str, str] = {
    "heterogeneity.compute.seconds_per_sample.sigma": "spread σ of client speed (lognormal)",
    "heterogeneity.compute.seconds_per_sample.median": "median compute time per sample (s)",
    "heterogeneity.compute.seconds_per_sample.mean": "mean compute time per sample (s)",
    "heterogeneity.compute.seconds_per_sample.shape": "shape of client speed distribution",
    "heterogeneity.compute.seconds_per_sample.cv": "CV of client compute time per sample",
    "heterogeneity.compute.jitter.sigma": "per-task jitter σ (lognormal)",
    "heterogeneity.network.down_mbps.sigma": "spread σ of download bandwidth (lognormal)",
    "heterogeneity.network.up_mbps.sigma": "spread σ of upload bandwidth (lognormal)",
    "algorithm.type": "algorithm",
    "algorithm.concurrency": "tasks in flight (concurrency)",
    "algorithm.clients_per_round": "clients per round K",
    "algorithm.buffer_size": "buffer size K",
    "algorithm.alpha": "mixing weight α",
    "algorithm.over_selection": "over-selection fraction",
    "algorithm.deadline_s": "round deadline (s)",
    "algorithm.max_staleness": "maximum staleness",
    "algorithm.server_lr": "server learning rate",
    "data.num_clients": "number of clients",
    "data.dirichlet_alpha": "Dirichlet α (label skew)",
    "train.local_steps": "local steps",
    "train.lr": "client learning rate",
    "stop.sim_time_s": "simulated time budget (s)",
    "seed": "seed",
    "label": "variant",
    "sim_time_s": "simulated time (s)",
    "test_accuracy": "test accuracy",
    "test_loss": "test loss",
    "server_version": "server model version",
    "client_updates": "client updates received",
    "staleness": "staleness (server versions behind)",
    "seconds_per_sample": "client compute time per sample (s)",
    "applied_updates": "applied updates per client",
}

#: Short symbols for swept values in panel titles and legends (``σ = 1.5``).
KEY_SYMBOLS: dict[str, str] = {
    "heterogeneity.compute.seconds_per_sample.sigma": "σ",
    "heterogeneity.compute.seconds_per_sample.cv": "CV",
    "heterogeneity.compute.jitter.sigma": "σ_jitter",
    "algorithm.concurrency": "C",
    "algorithm.clients_per_round": "K",
    "algorithm.buffer_size": "K",
    "algorithm.alpha": "α",
    "data.dirichlet_alpha": "Dirichlet α",
    "data.num_clients": "N",
    "seed": "seed",
}

def method_names() -> dict[str, str]:
    """Display names of the built-in methods, from their entries in :data:`simfl.registry.BUILTINS`."""
    return {name: entry.label or name for name, entry in registry.builtins("algorithm").items()}


_CUSTOM: dict[str, str] = {}
_DEFAULTS: dict[str, str] = {}  # below _CUSTOM: e.g. what a sweep held fixed


def set_label(key: str, text: str) -> None:
    """Use ``text`` for ``key`` (a config key, a column, a method or variant name) in later figures."""
    _CUSTOM[str(key)] = text


def set_labels(labels: Mapping[str, str]) -> None:
    """:func:`set_label` for each item."""
    for key, text in labels.items():
        set_label(key, text)


@contextmanager
def label_context(labels: Mapping[str, str], defaults: Mapping[str, str] | None = None) -> Iterator[None]:
    """:func:`set_labels` for the figures drawn inside ``with label_context(labels):`` only.

    ``defaults`` label keys that ``labels`` does not (e.g. :func:`sweep_axis_labels`).
    """
    saved, saved_defaults = dict(_CUSTOM), dict(_DEFAULTS)
    set_labels(labels)
    _DEFAULTS.update(defaults or {})
    try:
        yield
    finally:
        _CUSTOM.clear()
        _CUSTOM.update(saved)
        _DEFAULTS.clear()
        _DEFAULTS.update(saved_defaults)


def axis_label(key: str | None) -> str:
    """Readable text for a column or dotted config key.

    Known keys come from :data:`KEY_LABELS`; any other dotted key reads as its last part, with
    the part before it in parentheses (``algorithm.fedat_weighting`` → ``fedat weighting (algorithm)``).
    """
    if key is None:
        return ""
    if key in _CUSTOM:
        return _CUSTOM[key]
    if key in _DEFAULTS:
        return _DEFAULTS[key]
    if key in KEY_LABELS:
        return KEY_LABELS[key]
    parts = str(key).split(".")
    last = parts[-1].replace("_", " ")
    if last.endswith(" s"):
        last = last[:-2] + " (s)"
    return f"{last} ({parts[-2].replace('_', ' ')})" if len(parts) > 1 else last


def _format(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "none"
    if isinstance(value, (float, np.floating)):
        return f"{value:g}"
    return str(value)


def value_label(key: str, value: Any) -> str:
    """``σ = 1.5`` for a swept value: the key's symbol, else its axis label."""
    if key in ("algorithm.type", "label"):
        return method_label(value)
    symbol = KEY_SYMBOLS.get(key) if key not in _CUSTOM else None
    if symbol is None and key not in _CUSTOM and key in _DEFAULTS:
        symbol = _DEFAULTS[key].split("\n")[0]  # what is varied; what is held fixed is on the axis
    return f"{symbol or axis_label(key)} = {_format(value)}"


def method_label(name: Any) -> str:
    """Display name of a method: ``FedAvg``; a plugin ``pkg.mod:MyAlgo`` reads ``MyAlgo``."""
    key = _format(name)
    if key in _CUSTOM:
        return _CUSTOM[key]
    names = method_names()
    if key in names:
        return names[key]
    return key.rsplit(":", 1)[-1] if ":" in key else key


def wrap(text: str, width_in: float, fontsize_pt: float = 10.0) -> str:
    """``text`` broken into lines that fit ``width_in`` inches at ``fontsize_pt`` (a title never clipped)."""
    chars = max(20, int(width_in * 72 / (0.55 * fontsize_pt)))
    return "\n".join(textwrap.wrap(text, chars)) if len(text) > chars else text


#: Most characters of a client's name in a tick label; longer names keep their start and end.
NAME_WIDTH = 16


def client_label(name: Any, width: int = NAME_WIDTH) -> str:
    """A client's name for a tick label: as it is up to ``width`` characters, else its first and last
    characters around an ellipsis (``"f3795_00_very_long"`` → ``"f3795_00_v…_long"`` at width 16; names
    often share a prefix, and the end tells them apart)."""
    text = str(name)
    if len(text) <= width:
        return text
    tail = max((width - 1) // 3, 1)
    return f"{text[: width - 1 - tail]}…{text[-tail:]}"


def client_labels(ids: Iterable[Any], clients=None) -> tuple[list[str], bool]:
    """Tick labels of the clients ``ids``: their names from the ``client_name`` column of
    ``clients`` (a table with ``client_id``), shortened (:func:`client_label`), else the ids.

    Returns:
        ``(labels, named)``: ``named`` is True when some name is not just the client's id.
    """
    ids = list(ids)
    if clients is None or "client_name" not in getattr(clients, "columns", ()):
        return [str(c) for c in ids], False
    names = dict(zip(clients["client_id"].tolist(), clients["client_name"].tolist()))
    plain = [i.item() if hasattr(i, "item") else i for i in ids]
    texts = [names[c] if isinstance(names.get(c), str) else str(c) for c in plain]  # no name (older runs): the id
    named = any(t != str(c) for t, c in zip(texts, ids))
    return [client_label(t) for t in texts], named


def round_measured(table, decimals: int = 1):
    """``table`` with its measured columns (names ending in ``_s``: times in seconds) rounded to
    ``decimals``, for display; config keys and counts are left exact (``DataFrame.round`` on a whole
    table would print a swept σ = 0.25 as 0.2: halves round to even)."""
    measured = [c for c in table.columns if str(c).endswith("_s")]
    return table.round({c: decimals for c in measured})


# ------------------------------------------------------------------ what a sweep held fixed
#: How a distribution parameter reads on an axis ({q}: the quantity drawn).
_PARAMETER_TEXT = {
    "cv": "CV of {q}",
    "sigma": "σ of log {q}",
    "shape": "shape of {q}",
    "std": "std of {q}",
    "mean": "mean {q}",
    "median": "median {q}",
    "scale": "scale of {q}",
    "low": "low end of {q}",
    "high": "high end of {q}",
}
#: Parameters in the unit of the quantity (the others are pure numbers).
_WITH_UNIT = {"mean", "median", "scale", "std", "low", "high"}
_SUFFIX_UNITS = {"_s": "s", "_h": "h", "_mbps": "Mbit/s"}


def _quantity(name: str) -> tuple[str, str]:
    """What a config key draws and its unit: ``seconds_per_sample`` → (``seconds per sample``, ``s``)."""
    if name in PROFILE_COLUMNS:
        return PROFILE_COLUMNS[name]
    for suffix, unit in _SUFFIX_UNITS.items():
        if name.endswith(suffix):
            return name[: -len(suffix)].replace("_", " "), unit
    return name.replace("_", " "), ""


def _at(base: Mapping[str, Any], path: list[str]) -> Any:
    node: Any = base
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _held_fixed_label(key: str, base: Mapping[str, Any], varied: set[str]) -> str | None:
    parts = key.split(".")
    param, path = parts[-1], parts[:-1]
    spec = _at(base, path)
    cls = DISTRIBUTIONS.get(spec.get("dist")) if isinstance(spec, Mapping) else None
    if cls is None or not cls.FORMS or param not in _PARAMETER_TEXT:
        return None
    given = {k for k, v in spec.items() if k != "dist" and v is not None} | {param}
    form = next((f for f in cls.FORMS if set(f.keys) == given), None)
    if form is None:
        return None
    q, unit = _quantity(path[-1])
    prefix = ".".join(path)
    fixed = [f"{k} fixed at {_format(spec[k])}" + (f" {unit}" if unit and k in _WITH_UNIT else "")
             for k in form.held_fixed(param) if f"{prefix}.{k}" not in varied]
    if not fixed:
        return None
    note = f": {form.note}" if param == form.spread and form.note else ""
    # two lines: each fits under one panel of a figure
    return f"{_PARAMETER_TEXT[param].format(q=q)}\n({spec['dist']}, {', '.join(fixed)}{note})"


def held_fixed_labels(base: Mapping[str, Any], varied: Iterable[str]) -> dict[str, str]:
    """Axis labels of swept distribution parameters that say what the sweep held fixed.

    Args:
        base: the sweep's base config, as data (a nested mapping; nothing in it is imported).
        varied: every key the sweep varies (grid, zip and variant keys).

    Returns:
        ``{key: label}`` for each varied ``...<distribution>.<parameter>`` whose distribution
        ``base`` writes as a mapping in a form holding that parameter, e.g.
        ``CV of seconds per sample\\n(lognormal, mean fixed at 0.01 s)``. Keys of the form
        that the sweep varies too are not said to be fixed; a distribution that the sweep
        replaces wholesale gets no label.
    """
    varied = set(varied)
    labels = {}
    for key in sorted(varied):
        parent = key.rsplit(".", 1)[0]
        if any(parent == k or parent.startswith(k + ".") for k in varied if k != key):
            continue  # the sweep sets the distribution (or a section above it) itself
        label = _held_fixed_label(key, base, varied)
        if label is not None:
            labels[key] = label
    return labels


def sweep_axis_labels(path: str | Path) -> dict[str, str]:
    """:func:`held_fixed_labels` of a sweep directory, from its ``sweep_manifest.json`` (``{}``
    when it has none)."""
    from simfl.results.sweepdir import read_sweep_manifest

    manifest = read_sweep_manifest(path) or {}
    record = manifest.get("sweep") if isinstance(manifest.get("sweep"), Mapping) else manifest  # the sweep's record
    base = record.get("base")
    if not isinstance(base, Mapping):
        return {}
    varied = [*(record.get("grid") or {}), *(record.get("zip") or {})]
    for keys in (record.get("variants") or {}).values():
        varied += list(keys or {})
    return held_fixed_labels(base, varied)
