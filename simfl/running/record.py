"""A run's record: its directory (config, manifest, checkpoints, tables) and its trackers.

A :class:`RunRecord` is opened before anything is built (it takes the directory and reads a
checkpoint to resume from), then told :meth:`~RunRecord.start`, each
:meth:`~RunRecord.checkpoint`, and how the run ended: :meth:`~RunRecord.finish` or
:meth:`~RunRecord.fail`.
"""

from __future__ import annotations

import hashlib
import pickle
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from simfl.config.load import dump_config
from simfl.config.schema import Config
from simfl.identity.runid import result_digest, run_id_of
from simfl.engine.protocols import Trainer
from simfl.engine.settings import SimulationOutcome
from simfl.engine.simulation import Simulation
from simfl.errors import ConfigError, PluginError, RunDirError
from simfl.identity.fingerprint import changed_files, describe_files, file_fingerprints
from simfl.results.rundir import CONFIG, TABLES, RunDir, versions
from simfl.results.runresult import RunResult
from simfl.running.blame import blame_plugin
from simfl.running.checkpoint import (CHECKPOINT, FORMAT as CHECKPOINT_FORMAT, CheckpointRejected, read_checkpoint,
                                      write_checkpoint)
from simfl.running.world import World
from simfl.scenario.realised import population_stats
from simfl.tracking import CallbackObserver, RunInfo, callback_fingerprints, run_name

__all__ = ["RunRecord", "save_checkpoint"]

#: The manifest's status for each stop reason that is not a completed run.
_STATUS = {"interrupted": "interrupted", "diverged": "diverged", "no_progress": "failed", "paused": "paused"}


class RunRecord:
    """What a run leaves behind, in order: ``RunRecord(...)`` → :meth:`start` → :meth:`simulation`
    → checkpoints → :meth:`finish` or :meth:`fail`.

    Args:
        config: the run's config (with the model that runs).
        out: the run directory (None: nothing is written).
        overwrite, resume: as :func:`simfl.run` takes them.
        lock: the lock on ``out`` (taken here once the directory exists), or None.
        started: ``time.perf_counter()`` when the run began (for ``host_seconds``).
    """

    def __init__(self, config: Config, out: str | Path | None, *, overwrite: bool, resume: bool, lock,
                 started: float) -> None:
        self.config, self.out, self.started = config, out, started
        self.run_dir = RunDir.create(out, overwrite, resume=resume) if out is not None else None
        if lock is not None:
            lock.take()  # a folder made just now: a second process that made it too is refused here
        self.checkpoint_file = self.run_dir.path / CHECKPOINT if self.run_dir is not None else None
        self.fingerprints = file_fingerprints(config)  # the user files that define the run (plugins, data, traces)
        self.saved = self._saved_state() if resume and self.checkpoint_file is not None else None
        self.manifest: dict[str, Any] = {}
        self.tracking: CallbackObserver | None = None

    def _saved_state(self) -> dict | None:
        """The checkpoint to resume from (None: there is none), refused if another config's or files'."""
        path = self.checkpoint_file
        if not path.exists():
            return None
        saved = read_checkpoint(path)
        if saved["config_sha256"] != result_digest(self.config):
            raise CheckpointRejected(path, "the checkpoint belongs to another config", "rerun without --resume")
        changed = changed_files(saved.get("fingerprints"), self.fingerprints)
        if changed:
            raise RunDirError(f"{path}: the checkpoint was written under another version of "
                              f"{describe_files(changed, self.fingerprints)}; rerun without --resume")
        return saved

    def start(self, model: str, trackers: Sequence[object], tags: Mapping[str, Any] | None) -> None:
        """Write the config and a ``running`` manifest; start the ``trackers``
        (:func:`~simfl.tracking.trackers_from_config`; ``model`` names what runs)."""
        config = self.config
        self.tracking = CallbackObserver(trackers, config.tracking.timeout_s) if trackers else None
        self.manifest = {
            "status": "running",
            "seed": config.seed,
            "name": config.name,
            "algorithm": config.algorithm.type,
            "model": model,
            "dry_run": not config.train.enabled,
            "config_sha256": hashlib.sha256(dump_config(config).encode()).hexdigest(),
            "search_path": list(config.search_path),
            "fingerprints": self.fingerprints,
            **({"tracking_fingerprints": callback_fingerprints(config.tracking)} if config.tracking.callbacks else {}),
            "started_at": _utc_now(),
            "versions": versions(),
        }
        if self.run_dir is not None:
            self.run_dir.write_text(CONFIG, dump_config(config))
            self.run_dir.write_manifest(self.manifest)
        if self.tracking is not None:
            run_id = run_id_of(config)
            self.tracking.start(RunInfo(run_name(self.out, run_id), run_id, config, dict(tags or {}),
                                        self.run_dir.path if self.run_dir is not None else None))

    def simulation(self, world: World, progress: Callable | None) -> Simulation:
        """The run's simulation: new, or continued from the checkpoint; what was built goes to the manifest."""
        self.manifest.update(world.notes)
        self.manifest["population"] = population_stats(world.population)  # what the clients drew
        observers = [self.tracking] if self.tracking is not None else ()
        sim = world.simulation(self.saved, progress, observers)
        if self.saved is not None:
            self.manifest["resumed_from_s"] = self.saved["sim_time_s"]
        return sim

    def checkpoint(self, trainer: Trainer | None, pause_at_s: float | None) -> Callable[[Simulation], None] | None:
        """What the engine calls at each checkpoint (None: the run keeps none)."""
        if self.checkpoint_file is None or (self.config.run.checkpoint_every_s is None and pause_at_s is None):
            return None
        if trainer is not None and not callable(getattr(trainer, "checkpoint_state", None)):
            raise ConfigError("run.checkpoint_every_s: this trainer cannot be checkpointed (it has no checkpoint_state)")
        return partial(save_checkpoint, self.checkpoint_file, result_digest(self.config), trainer, self.run_dir,
                       self.manifest)

    def fail(self, exc: BaseException) -> PluginError | None:
        """Record a run that raised ``exc`` (``interrupted`` or ``failed``); returns the plugin to blame
        (raise it instead of ``exc``), or None."""
        blamed = blame_plugin(exc, self.config)
        if blamed is not None:
            exc = blamed
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        error = None if status == "interrupted" else f"{type(exc).__name__}: {exc}"
        if self.run_dir is not None:
            self.manifest.update(status=status, error=error, host_seconds=time.perf_counter() - self.started)
            self.run_dir.try_write_manifest(self.manifest)  # best effort: never hides the original error
        if self.tracking is not None:  # told after the manifest is written; its errors only warn
            self.tracking.end(status, {**self.manifest, "status": status, "error": error})
        return blamed

    def finish(self, outcome: SimulationOutcome, world: World) -> RunResult:
        """The run's result; its tables and final manifest are written, its trackers ended."""
        run_dir, manifest = self.run_dir, self.manifest
        result = RunResult(config=self.config, client_updates=outcome.client_updates,
                           aggregations=outcome.aggregations, evals=outcome.evals, clients=world.population.table(),
                           final_params=outcome.final_params, path=run_dir.path if run_dir is not None else None)
        self._describe_end(outcome, world)
        result.manifest = manifest
        if run_dir is not None:
            _write_outputs(run_dir, result, manifest)
            if manifest["status"] not in ("interrupted", "paused") and self.checkpoint_file.exists():
                self.checkpoint_file.unlink()  # simfl's own file: the run is over
        if self.tracking is not None:
            self.tracking.end(manifest["status"], manifest)
        return result

    def _describe_end(self, outcome: SimulationOutcome, world: World) -> None:
        """The manifest's account of how the run ended."""
        manifest = self.manifest
        executor = getattr(world.trainer, "executor", None)
        if executor is not None:
            manifest["executor"] = executor  # the one that computed the jobs (sequential after a fallback)
        status = _STATUS.get(outcome.stop_reason, "complete")
        manifest.update(status=status, stop_reason=outcome.stop_reason, sim_end_s=outcome.sim_end_s,
                        model_bytes=world.model_bytes, **outcome.counters)
        if status == "paused":
            manifest["paused_at_s"] = outcome.sim_end_s
        if outcome.stop_reason == "no_progress":
            manifest["error"] = (f"simulated time stopped advancing at {outcome.sim_end_s:g} s (more than "
                                 f"limits.events_per_instant = {self.config.limits.events_per_instant} events at one time)")
        if self.tracking is not None:
            self.tracking.flush()  # at most tracking.timeout_s: a hung tracker is named, never waited for
            if self.tracking.errors:
                manifest["tracking_errors"] = list(self.tracking.errors)
        manifest["host_seconds"] = time.perf_counter() - self.started
        manifest["finished_at"] = _utc_now()


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def save_checkpoint(path: Path, digest: str, trainer: Trainer | None, run_dir: RunDir, manifest: dict, sim: Simulation) -> None:
    """Write the whole state of ``sim`` (and the trainer's jobs) to ``path``; note it in the manifest."""
    try:
        write_checkpoint(path, {
            "format": CHECKPOINT_FORMAT,
            "config_sha256": digest,
            "fingerprints": manifest.get("fingerprints"),
            "sim_time_s": float(sim.checkpoint_time_s),
            "simulation": sim,
            "trainer": trainer.checkpoint_state() if trainer is not None else None,
        })
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"run.checkpoint_every_s: this run's state cannot be saved ({exc}); a plugin must keep picklable state "
            "(module-level classes, bound methods, no lambdas or open files): see docs/plugins.md"
        ) from None
    manifest["checkpoint_sim_time_s"] = float(sim.checkpoint_time_s)
    run_dir.write_manifest(manifest)


def _write_outputs(run_dir: RunDir, result: RunResult, manifest: dict[str, Any]) -> None:
    """The tables, then the manifest (last: only now does the directory look complete).

    A write that fails (e.g. a full disk) marks the directory ``failed`` where it still can
    and raises a one-line :class:`~simfl.errors.RunDirError`.
    """
    try:
        for name in TABLES:
            run_dir.write_table(name, result.table(name))
        run_dir.write_manifest(manifest)
    except RunDirError as exc:
        run_dir.try_write_manifest({**manifest, "status": "failed", "error": str(exc)})
        raise
