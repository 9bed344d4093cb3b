"""Who owns a sweep directory: its manifest (which sweep it holds) and its lock (who is writing it).

A sweep directory ``DIR`` holds only names simfl writes:

* ``DIR/sweep_manifest.json`` — ``kind: simfl sweep``, the sweep's record (base, grid, zip,
  variants, seeds, targets, target rule, dry run) and its *fingerprint*: a SHA-256 of the planned
  runs (each run's id and point in the sweep), the targets and the target rule (a ``first`` rule
  adds nothing, so a folder written before target rules existed is the same sweep under
  ``first``). Rerunning the same sweep finds the same fingerprint and resumes; a different
  sweep is refused unless ``replace`` is asked for (``simfl sweep --replace-sweep``): then the
  folder becomes the new sweep's, its summary is rewritten, and run directories are kept (a
  run's id is a hash of its config, so runs the two sweeps share are reused, not recomputed,
  unless their user files changed: see :mod:`simfl.identity.fingerprint`). The fingerprint covers
  configs, not the user files they name, so editing a plugin or a data file leaves the sweep
  (and its folder) the same sweep: its runs that used the file are recomputed in place.
* ``DIR/summary.parquet`` and ``DIR/runs/<run_id>/`` (see :mod:`simfl.sweep`); a tuned sweep
  also ``DIR/tuning.parquet`` and ``DIR/tuning/<run_id>/`` (its trials, see :mod:`simfl.tuning`).
* ``DIR/.simfl-sweep.lock`` — held (an OS file lock, ``flock``) by the one process running the
  sweep; a second ``simfl sweep`` on the same folder is refused at once. The operating system
  releases the lock when its process dies, however it dies, so a killed sweep never blocks the
  next one. It is taken only after a read-only check (:func:`check_sweep_dir`) accepted the
  folder, so a refused sweep leaves no lock file behind.

A simfl run directory (``manifest.json`` of ``kind: simfl run``) is never made a sweep directory,
``--replace-sweep`` or not. Other files in ``DIR`` (e.g. the sweep file itself when ``DIR`` is its folder) are never
written, replaced or removed. A folder that holds a ``summary.parquet``, a ``runs`` or a ``tuning``
folder without a sweep manifest is refused, unless it is a sweep directory written by an older simfl
(a ``sweep.yaml`` record and a summary with ``run_id`` and ``status`` columns), which is adopted
when it holds the same runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

import yaml

from simfl.errors import RunDirError

__all__ = ["SWEEP_MANIFEST", "SWEEP_KIND", "LOCK_FILE", "sweep_fingerprint", "sweep_lock", "check_sweep_dir",
           "claim_sweep_dir", "read_sweep_manifest"]

SWEEP_MANIFEST = "sweep_manifest.json"
#: ``kind`` of a sweep manifest.
SWEEP_KIND = "simfl sweep"
LOCK_FILE = ".simfl-sweep.lock"
_SUMMARY = "summary.parquet"
_RUNS = "runs"
_TUNING = "tuning"
_LEGACY_RECORD = "sweep.yaml"


def sweep_fingerprint(points: Sequence[tuple[str, dict[str, Any]]], targets: Sequence[float]) -> str:
    """SHA-256 of a sweep's planned runs ``(run_id, point)`` and its targets (order-free)."""
    runs = sorted((rid, yaml.safe_dump(point, sort_keys=True, default_flow_style=True)) for rid, point in points)
    text = json.dumps({"runs": runs, "targets": sorted(float(t) for t in targets)})
    return hashlib.sha256(text.encode()).hexdigest()


def read_sweep_manifest(path: str | Path) -> dict[str, Any] | None:
    """The sweep manifest of ``path``, or None (none, unreadable, or not a simfl sweep's)."""
    try:
        manifest = json.loads((Path(path) / SWEEP_MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("kind") == SWEEP_KIND else None


@contextlib.contextmanager
def sweep_lock(path: Path) -> Iterator[None]:
    """Hold ``path/.simfl-sweep.lock`` exclusively while the block runs.

    Raises:
        RunDirError: another process holds it (one line naming its pid when known).
    """
    lock = path / LOCK_FILE
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise RunDirError(f"--out {path}: cannot create the sweep lock {LOCK_FILE} ({exc.strerror or exc})") from None
    try:
        if not _try_lock(fd):
            os.lseek(fd, 0, os.SEEK_SET)
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            raise RunDirError(
                f"--out {path}: another simfl sweep (pid {holder}) is running in this folder; wait for it to end "
                "(rerunning then resumes) or choose another --out"
            )
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock; the file stays (removing it would race a waiting process)


def _try_lock(fd: int) -> bool:
    """Take an exclusive lock on ``fd`` without waiting; False when another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _legacy_run_ids(path: Path) -> set[str] | None:
    """The run ids of a sweep directory written by an older simfl (no manifest), else None."""
    if not (path / _LEGACY_RECORD).is_file():
        return None
    try:
        import pandas as pd

        summary = pd.read_parquet(path / _SUMMARY, columns=["run_id", "status"])
    except Exception:  # not a simfl summary
        return None
    return set(map(str, summary["run_id"]))


def check_sweep_dir(path: Path, fingerprint: str, run_ids: Sequence[str], replace: bool = False) -> bool:
    """Whether ``path`` may become this sweep's directory; nothing is written (not even the lock).

    :func:`simfl.sweep.run_sweep` calls it before taking :func:`sweep_lock`, so that a refused
    sweep leaves no ``.simfl-sweep.lock`` in a folder that is not a sweep's; :func:`claim_sweep_dir`
    calls it again under the lock.

    Returns:
        True when ``path`` already holds this very sweep (same fingerprint).

    Raises:
        RunDirError: ``path`` is a simfl run directory (never made a sweep's, even with
            ``replace``), holds another sweep (and not ``replace``), or files simfl did not write.
    """
    from simfl.results.rundir import is_run_dir

    if is_run_dir(path):
        raise RunDirError(f"--out {path}: is a simfl run directory, not a sweep's (--replace-sweep replaces only "
                          "another sweep); choose another --out")
    manifest = read_sweep_manifest(path)
    if manifest is None and (path / SWEEP_MANIFEST).exists():
        raise RunDirError(f"--out {path}: {SWEEP_MANIFEST} is not a simfl sweep manifest; choose another --out")
    if manifest is not None:
        if manifest.get("fingerprint") == fingerprint:
            return True
        if not replace:
            theirs = set(manifest.get("runs") or ())
            what = (f"another sweep ({manifest.get('name')!r}: {len(theirs)} runs, "
                    f"{len(theirs & set(run_ids))} of them in this sweep)")
            if theirs == set(run_ids):  # e.g. a folder written before target rules: its summary used first crossings
                what = ("this sweep's runs under other targets, target rule or tuning (a folder written before simfl "
                        "had target rules is resumed with target_rule: first)")
            raise RunDirError(
                f"--out {path}: holds {what}; pass --replace-sweep to make it this sweep's "
                "folder (its summary is rewritten; run directories are kept and reused), or choose another --out"
            )
        return False
    _check_unclaimed(path, run_ids, replace)
    return False


def _check_unclaimed(path: Path, run_ids: Sequence[str], replace: bool) -> None:
    """Refuse a folder without a sweep manifest that holds sweep names simfl did not write."""
    summary, runs, tuning = path / _SUMMARY, path / _RUNS, path / _TUNING
    if tuning.exists():
        raise RunDirError(f"--out {path}: holds {_TUNING}/ that simfl did not write (no {SWEEP_MANIFEST}); "
                          "choose another --out")
    if summary.exists() or (runs.exists() and any(runs.iterdir())):
        legacy = _legacy_run_ids(path)
        if legacy is None:
            found = " and ".join(n for n, p in ((_SUMMARY, summary), (f"{_RUNS}/", runs)) if p.exists())
            raise RunDirError(
                f"--out {path}: holds {found} that simfl did not write (no {SWEEP_MANIFEST}); "
                "choose another --out"
            )
        if legacy != set(run_ids) and not replace:
            raise RunDirError(
                f"--out {path}: holds another sweep ({len(legacy)} runs, {len(legacy & set(run_ids))} of them in "
                "this sweep); pass --replace-sweep to make it this sweep's folder, or choose another --out"
            )


def claim_sweep_dir(path: Path, record: dict[str, Any], fingerprint: str, run_ids: Sequence[str],
                    replace: bool = False) -> None:
    """Make ``path`` this sweep's directory (call while holding :func:`sweep_lock`).

    Args:
        path: the sweep directory (exists).
        record: what the sweep is (name, base, grid, ...), kept in the manifest.
        fingerprint: :func:`sweep_fingerprint` of the planned runs.
        run_ids: the planned run ids.
        replace: allow ``path`` to hold another sweep until now.

    Raises:
        RunDirError: see :func:`check_sweep_dir`.
    """
    if check_sweep_dir(path, fingerprint, run_ids, replace):
        return
    from simfl.results.rundir import versions

    new = {
        "kind": SWEEP_KIND,
        "name": record.get("name"),
        "fingerprint": fingerprint,
        "runs": sorted(run_ids),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "sweep": record,
    }
    tmp = path / f".{SWEEP_MANIFEST}.tmp-{os.getpid()}"
    try:
        tmp.write_text(json.dumps(new, indent=2, sort_keys=False, default=str) + "\n")
        os.replace(tmp, path / SWEEP_MANIFEST)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunDirError(f"--out {path}: cannot write {SWEEP_MANIFEST} ({exc.strerror or exc})") from None
