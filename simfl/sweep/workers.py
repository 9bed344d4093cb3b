"""Where a sweep's runs execute: one at a time in this process, in local worker processes, or on a
Dask distributed cluster.

A :class:`Job` is one run (its config as YAML text, its run directory, and optionally a
simulated time to pause at); :meth:`Workers.run` executes a batch of jobs and reports each
one's summary row as it finishes. The same :class:`Workers` serves every batch of a sweep — the
rungs of its tuning and its evaluation runs — so local worker processes start once.

Local workers: each run is single-threaded (``torch.set_num_threads(1)``): parallelism comes from
running several at once, and results do not depend on how many run together. Ctrl-C or SIGTERM
stops every local worker's run between two events (each is recorded ``interrupted``); workers
also stop when the main process dies (they watch it), so a killed sweep leaves no orphan
computing on. Dask workers must see the output directory at the same path (a shared filesystem).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from simfl.running.checkpoint import CHECKPOINT, CheckpointRejected, set_aside
from simfl.config.load import config_from_dict
from simfl.errors import SimflError
from simfl.identity.fingerprint import file_fingerprints, stale_reason
from simfl.results.rundir import RunDir, clear_partial_run, read_manifest, run_status
from simfl.results.summary import summarize_tables
from simfl.results.targetrule import SUSTAINED, TargetRule

__all__ = ["Job", "Workers", "SweepIncomplete", "execute_run"]

#: Seconds an orphaned worker (its main process died) has to record its run before it exits.
_ORPHAN_GRACE_S = 10.0
#: Seconds between a worker's checks that its main process is alive.
_WATCH_EVERY_S = 0.25


class SweepIncomplete(SimflError):
    """Some runs could not finish (a worker died, or the sweep was interrupted); rerun to resume."""


@dataclass(frozen=True)
class Job:
    """One run to execute: ``config_yaml`` into ``run_dir`` (see :func:`execute_run`)."""

    config_yaml: str
    run_dir: str
    search_path: tuple[str, ...] = ()
    targets: tuple[float, ...] = ()
    tags: dict[str, Any] | None = field(default=None, hash=False)
    pause_at_s: float | None = None
    target_rule: TargetRule = SUSTAINED  #: how the summary row reads the time to each target

    def execute(self) -> dict[str, Any]:
        """Run the job in this process (see :func:`execute_run`)."""
        return execute_run(self.config_yaml, self.run_dir, list(self.targets), self.search_path, self.tags,
                           self.pause_at_s, self.target_rule)


# ------------------------------------------------------------------ local workers
_worker: dict[str, Any] = {"in_run": False, "orphaned": False, "stop": None}


def _worker_signal(signum, frame) -> None:
    """SIGINT/SIGTERM in a local worker: interrupt the run in progress (recorded ``interrupted``);
    while idle, exit if orphaned, else ignore (the main process stops the pool)."""
    if _worker["in_run"]:
        raise KeyboardInterrupt
    if _worker["orphaned"]:
        os._exit(1)


def _watch_parent(parent: int) -> None:
    """Stop this worker when the process that started it dies (no orphan computing on)."""
    while os.getppid() == parent:
        time.sleep(_WATCH_EVERY_S)
    _worker["orphaned"] = True
    os.kill(os.getpid(), signal.SIGTERM)  # a run in progress stops between two events and is recorded
    time.sleep(_ORPHAN_GRACE_S)
    os._exit(1)


def _init_worker(parent: int, stop) -> None:
    """Initializer of a local worker process (see :func:`_worker_signal` and :func:`_watch_parent`);
    ``stop`` is the sweep's event: once set, queued runs are not started."""
    _worker["stop"] = stop
    signal.signal(signal.SIGINT, _worker_signal)
    signal.signal(signal.SIGTERM, _worker_signal)
    threading.Thread(target=_watch_parent, args=(parent,), name="simfl-watch-parent", daemon=True).start()


def _pool_run(job: Job) -> dict[str, Any]:
    """:meth:`Job.execute` in a local worker, unless the sweep is stopping (then nothing is started)."""
    stop = _worker["stop"]
    if stop is not None and stop.is_set():
        return {"status": "pending", "error": None}
    return job.execute()


def _limit_threads() -> None:
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    else:
        os.environ.setdefault("OMP_NUM_THREADS", "1")


def execute_run(config_yaml: str, run_dir: str, targets: list[float], search_path: tuple[str, ...] = (),
                tags: dict[str, Any] | None = None, pause_at_s: float | None = None,
                target_rule: TargetRule = SUSTAINED) -> dict[str, Any]:
    """Run one config into ``run_dir`` and return its summary row (the worker's entry point).

    ``tags`` (the run's swept keys and values) label it in the trackers ``tracking`` names;
    ``pause_at_s`` stops it there with a checkpoint (status ``paused``, see :func:`simfl.run`);
    ``target_rule`` says when the row's ``time_to_{t}_s`` counts a target reached.
    An interrupted or paused run with a checkpoint continues from it, unless the user files it
    used (:mod:`simfl.identity.fingerprint`) changed since: then it starts over.

    The config travels as YAML text, so this works in any process that has simfl installed;
    plugin modules are looked up in ``search_path`` (which a Dask worker must see at the same
    path, like the output directory). Errors are recorded, not raised: the row has
    ``status: failed`` and the error.
    """
    from simfl.running.runner import run

    try:
        config = config_from_dict(yaml.safe_load(config_yaml), source=run_dir, search_path=search_path)
    except Exception as exc:  # e.g. a plugin this worker cannot import
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    _limit_threads()
    if config.train.enabled:
        import torch

        torch.set_num_threads(1)
    _worker["in_run"] = True
    try:
        clear_partial_run(run_dir)  # a run killed before its first manifest (kill -9) left a few files
        # an interrupted (or paused) run with a checkpoint continues from it (same tables as an uninterrupted run),
        # unless its user files changed since (then it starts over)
        resume = ((Path(run_dir) / CHECKPOINT).is_file() and run_status(run_dir) not in (None, "complete")
                  and stale_reason(read_manifest(run_dir), file_fingerprints(config)) is None)
        try:
            result = run(config, out=run_dir, overwrite=True, progress=False, resume=resume, tags=tags,
                         pause_at_s=pause_at_s)
        except CheckpointRejected as exc:  # a sweep never fails a run on a bad checkpoint: it starts over
            aside = set_aside(Path(run_dir) / CHECKPOINT)
            restarted = f"{CHECKPOINT}: {exc.reason}; set aside as {aside.name} and the run started over"
            result = run(config, out=run_dir, overwrite=True, progress=False, tags=tags, pause_at_s=pause_at_s)
            _note_in_manifest(run_dir, restarted_because=restarted)
    except KeyboardInterrupt:
        return {"status": "interrupted", "error": "interrupted"}
    except Exception as exc:  # recorded in the summary and the run's manifest
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    finally:
        _worker["in_run"] = False
        if _worker["orphaned"]:
            os._exit(1)  # the run is recorded; nobody is left to take its row
    row = summarize_tables(result.client_updates, result.evals, result.manifest, targets, target_rule)
    row.update(status=result.status, error=None)
    return row


def _note_in_manifest(run_dir: str, **notes: Any) -> None:
    """Add ``notes`` to a finished (or paused, or interrupted) run's manifest."""
    manifest = read_manifest(run_dir)
    if manifest is not None:
        manifest.pop("kind", None)
        RunDir(Path(run_dir)).write_manifest({**manifest, **notes})


def _signal_quietly(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:  # already gone
        pass


OnDone = Callable[[Job, dict[str, Any]], None]


class Workers:
    """Executes batches of jobs: ``workers`` local processes (1: in this process), or the Dask
    cluster at ``scheduler``. Use as a context manager: processes and clients start with the first
    batch that has work, and stop at the end."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.scheduler = scheduler
        self._pool: ProcessPoolExecutor | None = None
        self._stop = None
        self._client = None

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the local processes (waiting for them) and close the Dask client."""
        self._shutdown_pool()
        if self._client is not None:
            self._client.close()
            self._client = None

    def run(self, jobs: Sequence[Job], on_done: OnDone, bar=None) -> None:
        """Execute ``jobs``, calling ``on_done(job, row)`` in this process as each one ends.

        Raises:
            KeyboardInterrupt: Ctrl-C or SIGTERM; the runs in progress are recorded ``interrupted``.
            SweepIncomplete: a local worker process died.
            SimflError: the Dask scheduler cannot be reached.
        """
        if not jobs:
            return
        if self.scheduler:
            self._run_dask(jobs, on_done, bar)
        elif self.workers == 1:
            self._run_here(jobs, on_done, bar)
        else:
            self._run_pool(jobs, on_done, bar)

    def _run_here(self, jobs: Sequence[Job], on_done: OnDone, bar) -> None:
        for job in jobs:
            row = job.execute()
            on_done(job, row)
            if bar is not None:
                bar.update()
            if row.get("status") == "interrupted":  # Ctrl-C or SIGTERM reached this process: stop the sweep
                raise KeyboardInterrupt

    def _start_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")  # no fork: the parent may hold threads (tqdm, torch)
            self._stop = ctx.Event()
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_init_worker,
                                             initargs=(os.getpid(), self._stop))
        return self._pool

    def _shutdown_pool(self) -> None:
        """Wait for the local processes to end (their runs recorded), and forget the pool."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _run_pool(self, jobs: Sequence[Job], on_done: OnDone, bar) -> None:
        pool = self._start_pool()
        futures = {pool.submit(_pool_run, job): job for job in jobs}
        try:
            for fut in as_completed(futures):
                on_done(futures[fut], fut.result())
                if bar is not None:
                    bar.update()
        except BrokenProcessPool:
            for fut in futures:
                fut.cancel()
            self._shutdown_pool()  # what the other workers were running is recorded before the caller looks
            raise SweepIncomplete("a worker process died (killed or out of memory)") from None
        except KeyboardInterrupt:
            self._stop.set()  # runs already queued to a worker are not started
            for fut in futures:
                fut.cancel()
            # The signal may have reached this process only (kill, timeout, a scheduler): pass it on,
            # so the runs in progress stop between two events and are recorded interrupted.
            for process in list(getattr(pool, "_processes", None) or {}):
                _signal_quietly(process, signal.SIGTERM)
            self._shutdown_pool()
            raise

    def _connect(self):
        if self._client is None:
            try:
                from distributed import Client
            except ImportError:
                raise SimflError("--scheduler needs dask.distributed: pip install 'simfl[cluster]'") from None
            try:
                self._client = Client(self.scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise SimflError(f"--scheduler {self.scheduler}: cannot reach the Dask scheduler ({exc})") from None
        return self._client

    def _run_dask(self, jobs: Sequence[Job], on_done: OnDone, bar) -> None:
        from distributed import as_completed as dask_completed

        client = self._connect()
        futures = {client.submit(execute_run, job.config_yaml, job.run_dir, list(job.targets), job.search_path,
                                 job.tags, job.pause_at_s, job.target_rule, pure=False): job for job in jobs}
        for fut in dask_completed(futures):
            try:
                row = fut.result()
            except Exception as exc:  # e.g. KilledWorker: the run could not be executed
                row = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            on_done(futures[fut], row)
            if bar is not None:
                bar.update()
