"""Sweeps: many runs of one experiment, planned from a sweep file and executed in parallel.

* :mod:`~simfl.sweep.spec` — the sweep file (``base``, ``grid``/``zip``/``variants``, ``seeds``,
  ``targets``) and its expansion into planned runs; :mod:`~simfl.sweep.tunespec` its ``tune:`` section;
* :mod:`~simfl.sweep.driver` — running or resuming a sweep into its folder (:func:`run_sweep`);
* :mod:`~simfl.sweep.workers` — where the runs execute: in this process, local worker processes
  or a Dask cluster.

The sweep folder's format is :mod:`simfl.results.sweepdir` (results read it too), and a run's
identity :mod:`simfl.identity`. Names are imported on first use, so importing one submodule
(e.g. the spec, for the docs) does not start the machinery of running sweeps.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SweepOutcome": "driver", "SweepPlan": "driver", "run_sweep": "driver", "plan_sweep": "driver",
    "make_plan": "driver", "read_summary": "driver", "SUMMARY": "driver",
    "SweepIncomplete": "workers", "execute_run": "workers", "Job": "workers", "Workers": "workers",
    "SweepSpec": "spec", "PlannedRun": "spec", "load_sweep": "spec", "expand_sweep": "spec",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"simfl.sweep.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'simfl.sweep' has no attribute {name!r}")
