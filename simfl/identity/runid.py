"""A run's identity: the digest of the resolved config that fixes its results.

Two configs with the same digest give the same tables, so a sweep reuses a finished run whose id
matches, and a checkpoint is continued only under the config that wrote it.
"""

from __future__ import annotations

import hashlib

import yaml

from simfl.config.schema import NON_RESULT_SECTIONS, Config

__all__ = ["result_digest", "run_id_of"]


def result_digest(config: Config) -> str:
    """SHA-256 (hex) of the resolved config without its name and the sections that do not change
    results (checkpoints, size limits): two configs with the same digest give the same tables."""
    data = config.model_dump(mode="python")
    data["name"] = None
    for section in NON_RESULT_SECTIONS:
        data.pop(section, None)
    return hashlib.sha256(yaml.safe_dump(data, sort_keys=False).encode()).hexdigest()


def run_id_of(config: Config) -> str:
    """A stable id: the first 12 hex digits of :func:`result_digest`."""
    return result_digest(config)[:12]
