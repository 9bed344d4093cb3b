"""From a validated config to results: :func:`run` builds the world, simulates it, and records it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from simfl.config.schema import Config
from simfl.engine.protocols import Trainer
from simfl.errors import ConfigError, RunDirError
from simfl.results.runresult import RunResult, load_run
from simfl.running.progress import SimulationProgress
from simfl.running.record import RunRecord
from simfl.running.world import build_world, check_config, model_name, with_model
from simfl.tracking import trackers_from_config

__all__ = ["RunResult", "run", "load_run", "RunDirLock"]


def run(
    config: Config,
    *,
    trainer: Trainer | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    resume: bool = False,
    callbacks: Sequence[object] = (),
    tags: Mapping[str, Any] | None = None,
    model: Callable | None = None,
    pause_at_s: float | None = None,
) -> RunResult:
    """Run one simulation.

    Args:
        config: a validated config (see :func:`simfl.load_config`).
        trainer: a trainer to use instead of the one built from the config (tests, stubs).
            Ignored, with no trainer at all, when ``train.enabled`` is false (a dry run). When it
            holds data (a ``client_sizes`` attribute, one positive integer per client), those sizes
            weight FedAvg and time the tasks instead of the sizes ``config.data`` gives, and the
            manifest records ``client_sizes_from: trainer``; the manifest names the trainer's class.
        out: a run directory to write (config.yaml, four parquet tables, manifest.json).
        overwrite: allow ``out`` to hold a previous run.
        progress: show a progress bar (None: only on a terminal).
        resume: continue the run in ``out`` from its checkpoint (``run.checkpoint_every_s``): the
            tables equal those of an uninterrupted run. Without a checkpoint, the run starts over.
        callbacks: tracking callbacks (:class:`simfl.tracking.Callback`), told of the run as it
            goes after the writers and callbacks ``config.tracking`` names (those are built anew
            for each run); they never change its results, and one that raises is warned about and
            dropped (the run goes on).
        tags: how trackers label the run, e.g. a sweep's swept keys and values.
        model: a model factory (a callable returning a ``torch.nn.Module``, called as
            ``model(input_shape=..., num_classes=..., **kwargs)`` like ``model.factory``; see
            :mod:`simfl.training.torchmodel`) used instead of ``config.model``. The run's config
            then reads ``model: {type: torch, factory: <its module:qualname, or null if that is
            not importable (a lambda, a function of __main__)>, kwargs}`` (``kwargs`` kept from a ``type: torch`` section) and the
            manifest's ``model`` names the callable.
        pause_at_s: stop once the simulation has reached this simulated time, keeping a checkpoint
            there (needs ``out``): the run directory says ``paused`` (``paused_at_s``), its tables
            hold what happened so far, and ``resume=True`` continues it — to a later pause or to its
            end — with the same tables as an uninterrupted run (tuning stops poor settings early
            this way, :mod:`simfl.tuning`). Ignored when the run ends before.

    Returns:
        The run's tables. ``result.status`` is ``interrupted`` after Ctrl-C, ``diverged`` when the
        model held NaN or inf (the run stopped then).

    Raises:
        RunDirError: another process is writing a run into ``out`` (see :class:`RunDirLock`).
    """
    arguments = dict(trainer=trainer, out=out, overwrite=overwrite, progress=progress, resume=resume,
                     callbacks=callbacks, tags=tags, model=model, pause_at_s=pause_at_s)
    lock = RunDirLock(out, resume) if out is not None else None
    try:
        if lock is not None:
            lock.take()  # an existing folder: before anything in it is replaced
        return _run(config, lock=lock, **arguments)
    finally:
        if lock is not None:
            lock.release()


class RunDirLock:
    """An exclusive OS lock on a run directory while one process writes a run into it, so a second
    ``simfl run`` (``--out``, ``--overwrite`` or ``--resume``) on the same folder is refused in one line
    instead of computing beside it or replacing its files.

    The lock is on the directory itself (no file is added to it), and the OS releases it when its
    process dies, however it dies. Where there is no such lock (Windows), nothing is locked.
    """

    def __init__(self, path: str | Path, resume: bool = False) -> None:
        self.path = Path(path)
        self.flag = "--resume" if resume else "--out"
        self._fd: int | None = None

    def take(self) -> None:
        """Lock the directory if it exists and is not locked by this object yet (a folder that does
        not exist yet is locked by the call after it is made).

        Raises:
            RunDirError: another process holds it.
        """
        try:
            import fcntl
        except ImportError:  # Windows: no flock
            return
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:  # not a directory (yet): RunDir.create says what is wrong with it
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            doing = "continuing this run" if self.flag == "--resume" else "writing a run into this folder"
            raise RunDirError(f"{self.flag} {self.path}: another simfl process is {doing}; wait for it to end "
                              "(rerunning then resumes from its last checkpoint)") from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _run(config: Config, *, trainer, out, overwrite, progress, resume, callbacks, tags, model,
         pause_at_s, lock: RunDirLock | None) -> RunResult:
    """:func:`run`, holding ``lock`` on its directory (taken here when the directory is new)."""
    started = time.perf_counter()
    if pause_at_s is not None and out is None:
        raise ConfigError("pause_at_s: a paused run keeps its checkpoint in its run directory: give out")
    if model is not None:
        config = with_model(config, model)
    checked = None
    if trainer is None or not config.train.enabled:
        checked = check_config(config, model)  # bad data sources and absurd sizes fail before any directory exists
    trackers = trackers_from_config(config.tracking, callbacks)  # each run its own; a failing one: before any file
    record = RunRecord(config, out, overwrite=overwrite, resume=resume, lock=lock, started=started)
    record.start(model_name(config, model), trackers, tags)
    bar = world = None
    try:
        world = build_world(config, trainer, model, checked)
        bar = SimulationProgress(config.stop, label=config.name or config.algorithm.type, enabled=progress)
        sim = record.simulation(world, bar)
        outcome = sim.run(checkpoint=record.checkpoint(world.trainer, pause_at_s), pause_at_s=pause_at_s)
    except BaseException as exc:
        blamed = record.fail(exc)
        if blamed is not None:
            raise blamed from blamed.__cause__
        raise
    finally:
        if bar is not None:
            bar.close()
        if trainer is None and world is not None:
            _close_trainer(world.trainer)
    return record.finish(outcome, world)


def _close_trainer(trainer) -> None:
    """Release what the trainer built from the config holds (its executor's cluster or threads)."""
    close = getattr(trainer, "close", None)
    if callable(close):
        close()
