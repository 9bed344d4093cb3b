"""Running one simulation: build its world, simulate it, record it (directory, checkpoints, trackers).

Modules: :mod:`~simfl.running.runner` (:func:`run`), :mod:`~simfl.running.world` (what a run
builds from its config), :mod:`~simfl.running.record` (its directory, manifest, checkpoints and
trackers), :mod:`~simfl.running.checkpoint` (signed checkpoint files), :mod:`~simfl.running.limits`
(size estimates checked before a run), :mod:`~simfl.running.progress` (the progress bar) and
:mod:`~simfl.running.blame` (naming the plugin that raised). The package is not called ``run``:
``simfl.run`` is the function that starts a run.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simfl.results.runresult import RunResult, load_run
    from simfl.running.record import RunRecord
    from simfl.running.runner import RunDirLock, run
    from simfl.running.world import (World, build_policy, build_selector, build_world, check_components,
                                     check_config, dry_model_bytes, engine_settings)

#: Names imported on first use: ``simfl.running.checkpoint`` (a sweep worker's import) stays light.
_LAZY = {
    "run": "simfl.running.runner",
    "RunDirLock": "simfl.running.runner",
    "load_run": "simfl.results.runresult",
    "RunResult": "simfl.results.runresult",
    "RunRecord": "simfl.running.record",
    **dict.fromkeys(["World", "build_world", "build_policy", "build_selector", "engine_settings", "check_config",
                     "check_components", "dry_model_bytes"], "simfl.running.world"),
}


def __getattr__(name: str) -> Any:
    import importlib

    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'simfl.running' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = ["run", "load_run", "RunResult", "RunDirLock", "RunRecord", "World", "build_world", "build_policy",
           "build_selector", "engine_settings", "check_config", "check_components", "dry_model_bytes"]
