"""Running a sweep: every planned run into ``DIR/runs/<run_id>/``, one summary row per run.

Runs execute in local worker processes (``workers``) or on a Dask distributed cluster
(``scheduler``: the workers must see ``DIR`` at the same path, e.g. a shared filesystem).
A run is skipped when its directory is ``complete`` (or ``diverged``) and the user files it
used (plugins, data, traces: :mod:`simfl.identity.fingerprint`, recorded in its manifest) are unchanged;
failed, interrupted or never-started runs, and finished runs whose files changed since, are
(re)run, so rerunning the same command resumes a sweep and never reuses a stale run. A run's id
stays a hash of its config: the sweep, its directory and its run folders keep their names when
a file changes, and the run folder's content is replaced. A failing run is recorded
(``status: failed`` with its error) and the others continue. ``DIR/summary.parquet`` is
rebuilt from ``DIR/runs`` at the start of every invocation and rewritten atomically as runs
finish and at the end.

``DIR`` belongs to one sweep and one process at a time (:mod:`simfl.results.sweepdir`): its manifest
records the sweep, a lock keeps a second ``simfl sweep`` out, and files simfl did not write are
never touched. Ctrl-C or SIGTERM stops every local worker's run between two events (each is
recorded ``interrupted``); local workers also stop when the main process dies (they watch it),
so a killed sweep leaves no orphan computing on.

Each run is single-threaded in its worker (``torch.set_num_threads(1)``): parallelism comes
from running several at once, and the results do not depend on how many run together.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm  # the console bar: tqdm.auto warns in a Jupyter kernel without ipywidgets

from simfl.config.load import dump_config
from simfl.sweep.spec import PlannedRun, SweepSpec, expand_sweep, load_sweep, sweep_search_path
from simfl.errors import RunDirError, SimflError
from simfl.identity.fingerprint import STALE, FileFingerprints, stale_reason
from simfl.results.cells import cell_value, one_kind
from simfl.results.rundir import read_manifest, read_parquet_file
from simfl.results.summary import summarize_tables, target_column
from simfl.results.targetrule import FIRST, SUSTAINED, TargetRule
from simfl.results.sweepdir import check_sweep_dir, claim_sweep_dir, sweep_fingerprint, sweep_lock
from simfl.sweep.workers import Job, SweepIncomplete, Workers, execute_run
from simfl.tracking.writers import with_sweep_group

__all__ = ["SweepOutcome", "SweepIncomplete", "SweepPlan", "run_sweep", "plan_sweep", "execute_run", "read_summary",
           "SUMMARY"]

SUMMARY = "summary.parquet"
#: Run statuses that are final: a rerun of the sweep skips them (a diverged run diverges again).
DONE = ("complete", "diverged")
RUNS = "runs"
_WRITE_EVERY_S = 2.0


@dataclass
class SweepOutcome:
    """What a sweep invocation did."""

    path: Path
    summary: pd.DataFrame
    planned: int
    ran: int
    skipped: int
    tuning: pd.DataFrame | None = None  #: ``tuning.parquet`` of a tuned sweep
    trials_ran: int = 0  #: tuning trial runs computed by this invocation
    #: Of the runs run now, those that had finished under other versions of their user files.
    recomputed: int = 0

    @property
    def counts(self) -> dict[str, int]:
        """Runs per status in the summary."""
        return self.summary.status.value_counts().to_dict()


def _row_from_dir(run_dir: Path, targets: list[float], fingerprints: dict[str, Any] | None = None,
                  rule: TargetRule = SUSTAINED) -> dict[str, Any]:
    """The summary row of a run directory (time to ``targets`` under ``rule``); a finished run whose user
    files are not ``fingerprints`` (:func:`simfl.identity.fingerprint.stale_reason`) is pending: simfl wrote it, so it is
    recomputed in place."""
    manifest = read_manifest(run_dir)
    if manifest is None:
        return {"status": "pending", "error": None}
    status = manifest.get("status")
    stale = stale_reason(manifest, fingerprints) if status in DONE else None
    if stale is not None:
        return {"status": "pending", "error": stale}
    if status in DONE:
        try:
            tables = {t: read_parquet_file(run_dir / f"{t}.parquet") for t in ("client_updates", "evals")}
        except SimflError as exc:  # a damaged run directory is run again
            return {"status": "interrupted", "error": str(exc)}
        row = summarize_tables(tables["client_updates"], tables["evals"], manifest, targets, rule)
        row.update(status=status, error=None)
        return row
    if status == "failed":
        return {"status": "failed", "error": manifest.get("error")}
    return {"status": "interrupted", "error": None}  # interrupted, or running when its process died


class _Summary:
    """The summary table, kept in memory and written atomically. ``failed`` holds rows decided
    before running (a contest whose tuning failed: its runs are not executed); ``tuned`` the
    chosen setting of each tuned run, which becomes its ``tuned:<key>`` columns."""

    def __init__(self, path: Path, spec: SweepSpec, runs: list[PlannedRun],
                 tuned: dict[str, dict[str, Any]] | None = None) -> None:
        self.path = path
        self.spec = spec
        self.runs = runs
        self.tuned = tuned or {}
        self.rows: dict[str, dict[str, Any]] = {}
        self._written = 0.0

    def set(self, planned: PlannedRun, row: dict[str, Any]) -> None:
        self.rows[planned.run_id] = row

    def frame(self) -> pd.DataFrame:
        metric_cols = [target_column(t) for t in self.spec.targets]
        records = []
        for planned in self.runs:
            row = self.rows.get(planned.run_id, {"status": "pending", "error": None})
            identity = {"run_id": planned.run_id, **{k: cell_value(v) for k, v in planned.point.items()}, "seed": planned.seed}
            tuned = {f"tuned:{k}": cell_value(v) for k, v in self.tuned.get(planned.run_id, {}).items()}
            records.append({**identity, **tuned, "status": row.get("status"), "error": row.get("error"),
                            **{k: v for k, v in row.items() if k not in ("status", "error")}})
        df = one_kind(pd.DataFrame.from_records(records))  # a key swept over numbers and mappings
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


@dataclass
class SweepPlan:
    """A validated sweep: its spec and base, its runs (untuned), and for a tuned sweep its contests."""

    spec: SweepSpec
    base: dict[str, Any]
    runs: list[PlannedRun]
    extra: list[str] = field(default_factory=list)
    search_path: tuple[str, ...] = ()
    contests: list = field(default_factory=list)
    horizon: float | None = None


def _check_configs(configs) -> None:
    """:func:`simfl.running.check_config` once per distinct config up to the seed and name."""
    from simfl.running.world import check_config

    checked = set()
    for config in configs:
        key = dump_config(config.model_copy(update={"seed": 0, "name": None}))
        if key not in checked:
            check_config(config)
            checked.add(key)


def make_plan(path: str | Path, dry_run: bool = False) -> SweepPlan:
    """Load, validate and expand a sweep file: every run's config (and every tuning trial's) is
    validated and its data checked before anything is written."""
    spec, base = load_sweep(path)
    extra = ["train.enabled=false"] if dry_run else []
    search_path = sweep_search_path(path)
    runs = expand_sweep(spec, base, extra, search_path)
    _check_configs(p.config for p in runs)
    plan = SweepPlan(spec, base, runs, extra, search_path)
    if spec.tune is not None:
        from simfl.tuning import plan_contests

        plan.contests, plan.horizon = plan_contests(spec, base, runs, extra, search_path)
        _check_configs(trials[0].config for c in plan.contests for trials in c.trials.values())
    return plan


def plan_sweep(path: str | Path, dry_run: bool = False) -> tuple[SweepSpec, dict[str, Any], list[PlannedRun]]:
    """Load, validate and expand a sweep file (every run's config is validated); see :func:`make_plan`."""
    plan = make_plan(path, dry_run)
    return plan.spec, plan.base, plan.runs


def _record(spec: SweepSpec, base: dict[str, Any], dry_run: bool, horizon: float | None = None) -> dict[str, Any]:
    """What the sweep is, kept in its directory's manifest (the tuning protocol included, with the
    trials' resolved ``horizon_s``)."""
    record = {
        "name": spec.name,
        "base": base,
        "grid": spec.grid,
        "zip": spec.zip,
        "variants": spec.variants,
        "seeds": spec.seeds,
        "targets": spec.targets,
        "target_rule": spec.target_rule.model_dump(mode="json"),
        "dry_run": dry_run,
    }
    if spec.tune is not None:
        record["tune"] = {**spec.tune.model_dump(mode="json"), "by": spec.tune_by,
                          "tuning_seeds": spec.tune.tuning_seeds(spec.seed_list), "horizon_s": horizon}
    return record


def run_sweep(
    path: str | Path,
    out: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    replace_sweep: bool = False,
) -> SweepOutcome:
    """Run (or resume) a sweep: its tuning first when it has a ``tune:`` section, then its runs.

    Args:
        path: the sweep file.
        out: output directory (default ``sweeps/<name>``).
        workers: local worker processes (default: the number of cores).
        scheduler: address of a Dask distributed scheduler (instead of local workers).
        dry_run: timing only for every run.
        progress: progress bars over trials and runs (None: only on a terminal).
        replace_sweep: allow ``out`` to hold another sweep until now (see :mod:`simfl.results.sweepdir`).

    Raises:
        ConfigError: the sweep file or one of its configs is invalid (nothing is written).
        RunDirError: ``out`` holds another sweep or files simfl did not write, or another
            process is running a sweep in it (nothing is written).
        SweepIncomplete: some runs could not finish; what finished is kept.
    """
    plan = make_plan(path, dry_run)
    spec, runs = plan.spec, plan.runs
    out = Path(out) if out is not None else Path("sweeps") / spec.name
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"--out {out}: cannot create directory ({exc.strerror or exc})") from None
    record = _record(spec, plan.base, dry_run, plan.horizon)
    points = [(p.run_id, p.point) for p in runs]
    if spec.tune is not None:  # the runs' ids depend on the tuning: the protocol is part of the sweep
        points.append(("tune", record["tune"]))
    if spec.target_rule != FIRST:  # part of what the summary means; first hashes as before rules existed
        points.append(("target_rule", record["target_rule"]))
    fingerprint, run_ids = sweep_fingerprint(points, spec.targets), [p.run_id for p in runs]
    check_sweep_dir(out, fingerprint, run_ids, replace_sweep)  # refused before the lock: no lock file left behind
    with sweep_lock(out):
        claim_sweep_dir(out, record, fingerprint, run_ids, replace_sweep)
        (out / RUNS).mkdir(exist_ok=True)
        with Workers(workers, scheduler) as pool:
            if spec.tune is None:
                return _run_claimed(out, spec, runs, pool, progress)
            return _run_tuned(out, plan, pool, progress)


def _run_tuned(out: Path, plan: SweepPlan, pool: Workers, progress: bool | None) -> SweepOutcome:
    """Tune every contest, then run the evaluation seeds with the chosen settings."""
    from simfl.tuning import TUNING_DIR, evaluation_runs, run_tuning
    from simfl.tuning.plan import contest_key

    spec, by = plan.spec, plan.spec.tune_by
    (out / TUNING_DIR).mkdir(exist_ok=True)
    tuning = run_tuning(plan.contests, spec.tune, plan.horizon, out, pool, spec.name, by, progress)
    chosen = evaluation_runs(spec, plan.base, plan.runs, tuning.choices, plan.extra, plan.search_path)
    runs, failed, tuned = [], {}, {}
    for untuned, planned in zip(plan.runs, chosen):
        key = contest_key(untuned.point, by)
        if planned is None:  # every setting failed: nothing to evaluate
            failed[untuned.run_id] = {"status": "failed", "error": f"tuning failed: {tuning.errors.get(key)}"}
            runs.append(untuned)
        else:
            runs.append(planned)
            tuned[planned.run_id] = tuning.choices[key].values
    outcome = _run_claimed(out, spec, runs, pool, progress, failed=failed, tuned=tuned)
    outcome.tuning, outcome.trials_ran = tuning.table, tuning.ran
    return outcome


def _run_claimed(out: Path, spec: SweepSpec, runs: list[PlannedRun], pool: Workers, progress: bool | None,
                 failed: dict[str, dict[str, Any]] | None = None,
                 tuned: dict[str, dict[str, Any]] | None = None) -> SweepOutcome:
    """Run what is left of ``runs`` (``out`` is this sweep's and locked); ``failed``: rows decided
    without running (their runs are skipped)."""
    failed = failed or {}
    summary = _Summary(out / SUMMARY, spec, runs, tuned)
    files = FileFingerprints()  # each user file hashed once (and from the user's cache when unchanged)
    todo: list[PlannedRun] = []
    recomputed = 0
    for planned in runs:  # the summary is rebuilt from runs/: what a dead process left is seen as it is
        if planned.run_id in failed:
            summary.set(planned, failed[planned.run_id])
            continue
        run_dir = out / RUNS / planned.run_id
        row = (_row_from_dir(run_dir, spec.targets, files(planned.config), spec.target_rule) if run_dir.exists()
               else {"status": "pending", "error": None})
        summary.set(planned, row)
        if row["status"] not in DONE:  # failed, interrupted, never started, done but damaged, or files changed
            todo.append(planned)
            recomputed += str(row.get("error")).startswith(STALE)
    summary.write(force=True)
    skipped = len(runs) - len(todo) - len(failed)
    by_dir = {str(out / RUNS / p.run_id): p for p in todo}

    def on_done(job: Job, row: dict[str, Any]) -> None:
        summary.set(by_dir[job.run_dir], row)
        summary.write()

    group = out.resolve().name  # W&B groups the sweep's runs under its name (unless tracking.wandb.group says)
    jobs = [Job(dump_config(with_sweep_group(p.config, group)), str(out / RUNS / p.run_id), p.config.search_path,
                tuple(spec.targets), p.point, target_rule=spec.target_rule) for p in todo]
    bar = tqdm(total=len(todo), unit="run", desc=spec.name, disable=None if progress is None else not progress)
    try:
        pool.run(jobs, on_done, bar)
    except (SweepIncomplete, KeyboardInterrupt):
        for planned in todo:  # settle what the dead or interrupted workers left behind
            if summary.rows[planned.run_id].get("status") in ("pending", "interrupted", None):
                summary.set(planned, _row_from_dir(out / RUNS / planned.run_id, spec.targets, files(planned.config),
                                                       spec.target_rule))
        summary.write(force=True)
        raise
    finally:
        bar.close()
    df = summary.write(force=True)
    return SweepOutcome(out, df, len(runs), len(todo), skipped, recomputed=recomputed)


def read_summary(path: str | Path) -> pd.DataFrame:
    """``DIR/summary.parquet`` of a sweep directory."""
    f = Path(path) / SUMMARY
    if not f.is_file():
        raise SimflError(f"{path}: no {SUMMARY} (not a sweep directory)")
    return read_parquet_file(f)

