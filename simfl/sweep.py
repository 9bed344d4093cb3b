"""Running a sweep: every planned run into ``DIR/runs/<run_id>/``, one summary row per run.

Runs execute in local worker processes (``workers``) or on a Dask distributed cluster
(``scheduler``: the workers must see ``DIR`` at the same path, e.g. a shared filesystem).
A run is skipped when its directory is ``complete``; failed, interrupted or never-started
runs are (re)run, so rerunning the same command resumes a sweep. A failing run is recorded
(``status: failed`` with its error) and the others continue. ``DIR/summary.parquet`` is
rebuilt from ``DIR/runs`` at the start of every invocation and rewritten atomically as runs
finish and at the end.

``DIR`` belongs to one sweep and one process at a time (:mod:`simfl.sweepdir`): its manifest
records the sweep, a lock keeps a second ``simfl sweep`` out, and files simfl did not write are
never touched. Ctrl-C or SIGTERM stops every local worker's run between two events (each is
recorded ``interrupted``); local workers also stop when the main process dies (they watch it),
so a killed sweep leaves no orphan computing on.

Each run is single-threaded in its worker (``torch.set_num_threads(1)``): parallelism comes
from running several at once, and the results do not depend on how many run together.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from tqdm import tqdm  # the console bar: tqdm.auto warns in a Jupyter kernel without ipywidgets

from simfl.checkpoint import CHECKPOINT
from simfl.config.load import config_from_dict, dump_config
from simfl.config.sweepfile import PlannedRun, SweepSpec, expand_sweep, load_sweep, sweep_search_path
from simfl.errors import RunDirError, SimflError
from simfl.results.rundir import clear_partial_run, read_manifest, read_parquet_file, run_status
from simfl.results.summary import summarize_tables, target_column
from simfl.sweepdir import claim_sweep_dir, sweep_fingerprint, sweep_lock

__all__ = ["SweepOutcome", "SweepIncomplete", "run_sweep", "plan_sweep", "execute_run", "read_summary", "SUMMARY"]

SUMMARY = "summary.parquet"
#: Run statuses that are final: a rerun of the sweep skips them (a diverged run diverges again).
DONE = ("complete", "diverged")
RUNS = "runs"
_WRITE_EVERY_S = 2.0
#: Seconds an orphaned worker (its main process died) has to record its run before it exits.
_ORPHAN_GRACE_S = 10.0
#: Seconds between a worker's checks that its main process is alive.
_WATCH_EVERY_S = 0.25


class SweepIncomplete(SimflError):
    """Some runs could not finish (a worker died, or the sweep was interrupted); rerun to resume."""


@dataclass
class SweepOutcome:
    """What a sweep invocation did."""

    path: Path
    summary: pd.DataFrame
    planned: int
    ran: int
    skipped: int

    @property
    def counts(self) -> dict[str, int]:
        """Runs per status in the summary."""
        return self.summary.status.value_counts().to_dict()


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


def _pool_run(config_yaml: str, run_dir: str, targets: list[float], search_path: tuple[str, ...],
              tags: dict[str, Any] | None = None) -> dict[str, Any]:
    """:func:`execute_run` in a local worker, unless the sweep is stopping (then nothing is started)."""
    stop = _worker["stop"]
    if stop is not None and stop.is_set():
        return {"status": "pending", "error": None}
    return execute_run(config_yaml, run_dir, targets, search_path, tags)


def _limit_threads() -> None:
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    else:
        os.environ.setdefault("OMP_NUM_THREADS", "1")


def execute_run(config_yaml: str, run_dir: str, targets: list[float], search_path: tuple[str, ...] = (),
                tags: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one config into ``run_dir`` and return its summary row (the worker's entry point).

    ``tags`` (the run's swept keys and values) label it in the trackers ``tracking`` names.

    The config travels as YAML text, so this works in any process that has simfl installed;
    plugin modules are looked up in ``search_path`` (which a Dask worker must see at the same
    path, like the output directory). Errors are recorded, not raised: the row has
    ``status: failed`` and the error.
    """
    from simfl.runner import run

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
        # an interrupted run with a checkpoint continues from it (same tables as an uninterrupted run)
        resume = (Path(run_dir) / CHECKPOINT).is_file() and run_status(run_dir) not in (None, "complete")
        result = run(config, out=run_dir, overwrite=True, progress=False, resume=resume, tags=tags)
    except KeyboardInterrupt:
        return {"status": "interrupted", "error": "interrupted"}
    except Exception as exc:  # recorded in the summary and the run's manifest
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    finally:
        _worker["in_run"] = False
        if _worker["orphaned"]:
            os._exit(1)  # the run is recorded; nobody is left to take its row
    row = summarize_tables(result.client_updates, result.evals, result.manifest, targets)
    row.update(status=result.status, error=None)
    return row


def _row_from_dir(run_dir: Path, targets: list[float]) -> dict[str, Any]:
    manifest = read_manifest(run_dir)
    if manifest is None:
        return {"status": "pending", "error": None}
    status = manifest.get("status")
    if status in DONE:
        try:
            tables = {t: read_parquet_file(run_dir / f"{t}.parquet") for t in ("client_updates", "evals")}
        except SimflError as exc:  # a damaged run directory is run again
            return {"status": "interrupted", "error": str(exc)}
        row = summarize_tables(tables["client_updates"], tables["evals"], manifest, targets)
        row.update(status=status, error=None)
        return row
    if status == "failed":
        return {"status": "failed", "error": manifest.get("error")}
    return {"status": "interrupted", "error": None}  # interrupted, or running when its process died


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return value


class _Summary:
    """The summary table, kept in memory and written atomically."""

    def __init__(self, path: Path, spec: SweepSpec, runs: list[PlannedRun]) -> None:
        self.path = path
        self.spec = spec
        self.runs = runs
        self.rows: dict[str, dict[str, Any]] = {}
        self._written = 0.0

    def set(self, planned: PlannedRun, row: dict[str, Any]) -> None:
        self.rows[planned.run_id] = row

    def frame(self) -> pd.DataFrame:
        metric_cols = [target_column(t) for t in self.spec.targets]
        records = []
        for planned in self.runs:
            row = self.rows.get(planned.run_id, {"status": "pending", "error": None})
            identity = {"run_id": planned.run_id, **{k: _cell(v) for k, v in planned.point.items()}, "seed": planned.seed}
            records.append({**identity, "status": row.get("status"), "error": row.get("error"),
                            **{k: v for k, v in row.items() if k not in ("status", "error")}})
        df = pd.DataFrame.from_records(records)
        for col in metric_cols:
            if col not in df:
                df[col] = math.nan
        return df

    def write(self, force: bool = False) -> pd.DataFrame | None:
        now = time.monotonic()
        if not force and now - self._written < _WRITE_EVERY_S:
            return None
        self._written = now
        df = self.frame()
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        df.to_parquet(tmp, index=False)
        os.replace(tmp, self.path)
        return df


def plan_sweep(path: str | Path, dry_run: bool = False) -> tuple[SweepSpec, dict[str, Any], list[PlannedRun]]:
    """Load, validate and expand a sweep file (every run's config is validated)."""
    from simfl.runner import check_config

    spec, base = load_sweep(path)
    extra = ["train.enabled=false"] if dry_run else []
    runs = expand_sweep(spec, base, extra, sweep_search_path(path))
    checked = set()
    for planned in runs:
        key = dump_config(planned.config.model_copy(update={"seed": 0, "name": None}))
        if key not in checked:  # one check per distinct config up to the seed
            check_config(planned.config)
            checked.add(key)
    return spec, base, runs


def _record(spec: SweepSpec, base: dict[str, Any], dry_run: bool) -> dict[str, Any]:
    """What the sweep is, kept in its directory's manifest."""
    return {
        "name": spec.name,
        "base": base,
        "grid": spec.grid,
        "zip": spec.zip,
        "variants": spec.variants,
        "seeds": spec.seeds,
        "targets": spec.targets,
        "dry_run": dry_run,
    }


def _local(todo, out, targets, workers, on_done, bar) -> None:
    if workers == 1:
        for planned in todo:
            row = execute_run(dump_config(planned.config), str(out / RUNS / planned.run_id), targets,
                              planned.config.search_path, planned.point)
            on_done(planned, row)
            bar.update()
            if row.get("status") == "interrupted":  # Ctrl-C or SIGTERM reached this process: stop the sweep
                raise KeyboardInterrupt
        return
    ctx = multiprocessing.get_context("spawn")  # no fork: the parent may hold threads (tqdm, torch)
    stop = ctx.Event()
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(os.getpid(), stop)) as pool:
        futures = {
            pool.submit(_pool_run, dump_config(p.config), str(out / RUNS / p.run_id), targets, p.config.search_path,
                        p.point): p
            for p in todo
        }
        try:
            for fut in as_completed(futures):
                on_done(futures[fut], fut.result())
                bar.update()
        except BrokenProcessPool:
            for fut in futures:
                fut.cancel()
            raise SweepIncomplete("a worker process died (killed or out of memory)") from None
        except KeyboardInterrupt:
            stop.set()  # runs already queued to a worker are not started
            for fut in futures:
                fut.cancel()
            # The signal may have reached this process only (kill, timeout, a scheduler): pass it on,
            # so the runs in progress stop between two events and are recorded interrupted.
            for process in list(getattr(pool, "_processes", None) or {}):
                _signal_quietly(process, signal.SIGTERM)
            raise


def _signal_quietly(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:  # already gone
        pass


def _dask(todo, out, targets, scheduler, on_done, bar) -> None:
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError:
        raise SimflError("--scheduler needs dask.distributed: pip install 'simfl[cluster]'") from None
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise SimflError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})") from None
    try:
        futures = {
            client.submit(execute_run, dump_config(p.config), str(out / RUNS / p.run_id), targets, p.config.search_path,
                          p.point, pure=False): p
            for p in todo
        }
        for fut in dask_completed(futures):
            planned = futures[fut]
            try:
                row = fut.result()
            except Exception as exc:  # e.g. KilledWorker: the run could not be executed
                row = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            on_done(planned, row)
            bar.update()
    finally:
        client.close()


def run_sweep(
    path: str | Path,
    out: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    replace_sweep: bool = False,
) -> SweepOutcome:
    """Run (or resume) a sweep.

    Args:
        path: the sweep file.
        out: output directory (default ``sweeps/<name>``).
        workers: local worker processes (default: the number of cores).
        scheduler: address of a Dask distributed scheduler (instead of local workers).
        dry_run: timing only for every run.
        progress: a progress bar over runs (None: only on a terminal).
        replace_sweep: allow ``out`` to hold another sweep until now (see :mod:`simfl.sweepdir`).

    Raises:
        ConfigError: the sweep file or one of its configs is invalid (nothing is written).
        RunDirError: ``out`` holds another sweep or files simfl did not write, or another
            process is running a sweep in it (nothing is written).
        SweepIncomplete: some runs could not finish; what finished is kept.
    """
    spec, base, runs = plan_sweep(path, dry_run)
    out = Path(out) if out is not None else Path("sweeps") / spec.name
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"--out {out}: cannot create directory ({exc.strerror or exc})") from None
    with sweep_lock(out):
        fingerprint = sweep_fingerprint([(p.run_id, p.point) for p in runs], spec.targets)
        claim_sweep_dir(out, _record(spec, base, dry_run), fingerprint, [p.run_id for p in runs], replace_sweep)
        (out / RUNS).mkdir(exist_ok=True)
        return _run_claimed(out, spec, runs, workers, scheduler, progress)


def _run_claimed(out: Path, spec: SweepSpec, runs: list[PlannedRun], workers: int | None, scheduler: str | None,
                 progress: bool | None) -> SweepOutcome:
    """The body of :func:`run_sweep` once ``out`` is this sweep's and locked."""
    summary = _Summary(out / SUMMARY, spec, runs)
    todo: list[PlannedRun] = []
    for planned in runs:  # the summary is rebuilt from runs/: what a dead process left is seen as it is
        run_dir = out / RUNS / planned.run_id
        row = _row_from_dir(run_dir, spec.targets) if run_dir.exists() else {"status": "pending", "error": None}
        summary.set(planned, row)
        if row["status"] not in DONE:  # failed, interrupted, never started, or done but damaged
            todo.append(planned)
    summary.write(force=True)
    skipped = len(runs) - len(todo)

    def on_done(planned: PlannedRun, row: dict[str, Any]) -> None:
        summary.set(planned, row)
        summary.write()

    bar = tqdm(total=len(todo), unit="run", desc=spec.name, disable=None if progress is None else not progress)
    try:
        if todo:
            if scheduler:
                _dask(todo, out, spec.targets, scheduler, on_done, bar)
            else:
                _local(todo, out, spec.targets, workers or os.cpu_count() or 1, on_done, bar)
    except (SweepIncomplete, KeyboardInterrupt):
        for planned in todo:  # settle what the dead or interrupted workers left behind
            if summary.rows[planned.run_id].get("status") in ("pending", "interrupted", None):
                summary.set(planned, _row_from_dir(out / RUNS / planned.run_id, spec.targets))
        summary.write(force=True)
        raise
    finally:
        bar.close()
    df = summary.write(force=True)
    return SweepOutcome(out, df, len(runs), len(todo), skipped)


def read_summary(path: str | Path) -> pd.DataFrame:
    """``DIR/summary.parquet`` of a sweep directory."""
    f = Path(path) / SUMMARY
    if not f.is_file():
        raise SimflError(f"{path}: no {SUMMARY} (not a sweep directory)")
    return read_parquet_file(f)

