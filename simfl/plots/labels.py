"""Human text for config keys, columns, methods and swept values, with a way to set it.

Figures never show a raw dotted key: :func:`axis_label` gives ``spread σ of client speed
(lognormal)`` for ``heterogeneity.compute.seconds_per_sample.sigma``, a readable fallback for
keys it does not know, and whatever :func:`set_label` (or ``simfl plot --label KEY=TEXT``) set.
"""

from __future__ import annotations

import textwrap
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import numpy as np

__all__ = [
    "KEY_LABELS",
    "KEY_SYMBOLS",
    "METHOD_NAMES",
    "axis_label",
    "value_label",
    "method_label",
    "set_label",
    "set_labels",
    "label_context",
    "wrap",
]

#: Axis labels of config keys and table columns (units in parentheses).
KEY_LABELS: dict[str, str] = {
    "heterogeneity.compute.seconds_per_sample.sigma": "spread σ of client speed (lognormal)",
    "heterogeneity.compute.seconds_per_sample.median": "median compute time per sample (s)",
    "heterogeneity.compute.seconds_per_sample.mean": "mean compute time per sample (s)",
    "heterogeneity.compute.seconds_per_sample.shape": "shape of client speed distribution",
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
    "heterogeneity.compute.jitter.sigma": "σ_jitter",
    "algorithm.concurrency": "C",
    "algorithm.clients_per_round": "K",
    "algorithm.buffer_size": "K",
    "algorithm.alpha": "α",
    "data.dirichlet_alpha": "Dirichlet α",
    "data.num_clients": "N",
    "seed": "seed",
}

#: Display names of the built-in methods.
METHOD_NAMES: dict[str, str] = {
    "fedavg": "FedAvg",
    "fedasync": "FedAsync",
    "fedbuff": "FedBuff",
    "fedat": "FedAT",
    "semisync": "semi-sync",
}


_CUSTOM: dict[str, str] = {}


def set_label(key: str, text: str) -> None:
    """Use ``text`` for ``key`` (a config key, a column, a method or variant name) in later figures."""
    _CUSTOM[str(key)] = text


def set_labels(labels: Mapping[str, str]) -> None:
    """:func:`set_label` for each item."""
    for key, text in labels.items():
        set_label(key, text)


@contextmanager
def label_context(labels: Mapping[str, str]) -> Iterator[None]:
    """:func:`set_labels` for the figures drawn inside ``with label_context(labels):`` only."""
    saved = dict(_CUSTOM)
    set_labels(labels)
    try:
        yield
    finally:
        _CUSTOM.clear()
        _CUSTOM.update(saved)


def axis_label(key: str | None) -> str:
    """Readable text for a column or dotted config key.

    Known keys come from :data:`KEY_LABELS`; any other dotted key reads as its last part, with
    the part before it in parentheses (``algorithm.fedat_weighting`` → ``fedat weighting (algorithm)``).
    """
    if key is None:
        return ""
    if key in _CUSTOM:
        return _CUSTOM[key]
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
    return f"{symbol or axis_label(key)} = {_format(value)}"


def method_label(name: Any) -> str:
    """Display name of a method: ``FedAvg``; a plugin ``pkg.mod:MyAlgo`` reads ``MyAlgo``."""
    key = _format(name)
    if key in _CUSTOM:
        return _CUSTOM[key]
    if key in METHOD_NAMES:
        return METHOD_NAMES[key]
    return key.rsplit(":", 1)[-1] if ":" in key else key


def wrap(text: str, width_in: float, fontsize_pt: float = 10.0) -> str:
    """``text`` broken into lines that fit ``width_in`` inches at ``fontsize_pt`` (a title never clipped)."""
    chars = max(20, int(width_in * 72 / (0.55 * fontsize_pt)))
    return "\n".join(textwrap.wrap(text, chars)) if len(text) > chars else text
