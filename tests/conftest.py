"""Shared helpers: build configs from dicts and run them as timing-only dry runs."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from hypothesis import settings

import simfl

# Property tests draw the same examples on every run (CI failures reproduce, a green run stays
# green); `--hypothesis-profile=explore` draws fresh random examples, to hunt for new bugs.
# deadline=None: a property test asserts a property, not a speed (speed is measured in benchmarks/);
# under load a 200 ms deadline failed tests whose examples were right
settings.register_profile("repeatable", derandomize=True, print_blob=True, deadline=None)
settings.register_profile("explore", derandomize=False, print_blob=True, deadline=None)
settings.load_profile("repeatable")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # several test processes share the cores: torch's own thread pool would oversubscribe them
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _private_digest_cache(tmp_path_factory):
    """File digests are cached in a folder of the test session, not the user's (subprocesses inherit it)."""
    os.environ["SIMFL_CACHE_DIR"] = str(tmp_path_factory.mktemp("simfl-cache"))


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and "dist" not in v and "type" not in v:
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


#: A dry-run world with no network, always-available clients and 1 s base compute per task
#: (20 steps × batch 10 × 0.005 s/sample), so the jitter alone shapes task durations.
DRY_BASE: dict[str, Any] = {
    "seed": 0,
    "data": {"dataset": "synthetic", "num_clients": 10},
    "train": {"enabled": False, "local_steps": 20, "batch_size": 10},
    "heterogeneity": {"compute": {"seconds_per_sample": 0.005, "jitter": 1.0}},
    "eval": {"every_s": None},
}


def make_config(**sections: Any) -> simfl.Config:
    """DRY_BASE deep-merged with ``sections`` (a mapping with ``type``/``dist`` replaces wholesale)."""
    return simfl.config_from_dict(_merge(DRY_BASE, sections))


def dry_run(**sections: Any) -> simfl.RunResult:
    """Run :func:`make_config` as a dry run, quietly."""
    return simfl.run(make_config(**sections), progress=False)


@pytest.fixture
def dry():
    return dry_run
