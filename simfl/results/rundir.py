"""Run directories: ``config.yaml``, four parquet tables and ``manifest.json`` (docs/architecture.md).

A run directory is *complete* only when ``manifest.json`` says so, and the manifest is
written last (atomically, by rename). While a run is going its status is ``running``; a
failure writes ``failed`` with the error, Ctrl-C (or SIGTERM) writes ``interrupted`` after
saving what was recorded. Every file is written to a temporary name and renamed, so a crash
never leaves a half-written file under a final name; a write that fails (e.g. a full disk) is
a one-line :class:`~simfl.errors.RunDirError`.

User files are never replaced: a run is written only into a new or empty folder, and
``overwrite`` replaces only a folder that is a simfl run directory (its manifest says so), and
then only simfl's own files in it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from simfl.errors import RunDirError

__all__ = ["TABLES", "MANIFEST", "RUN_KIND", "RunDir", "read_manifest", "run_status", "is_run_dir", "versions",
           "read_parquet_file", "finished_run_manifest", "clear_partial_run"]

TABLES = ("client_updates", "aggregations", "evals", "clients")
MANIFEST = "manifest.json"
CONFIG = "config.yaml"
#: ``manifest["kind"]`` of a run directory.
RUN_KIND = "simfl run"
_OWN_FILES = {f"{t}.parquet" for t in TABLES} | {MANIFEST, CONFIG, "checkpoint.pkl"}
_TEMPORARY = re.compile(r"\..+\.tmp-\d+")  # what _atomic_write writes before renaming


def versions() -> dict[str, str]:
    """Versions of simfl, Python and the libraries that shape results."""
    import numpy
    import simpy

    from simfl.version import __version__

    out = {
        "simfl": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "simpy": simpy.__version__,
        "platform": platform.platform(),
    }
    if "torch" in sys.modules:  # only when training ran; a dry run never imports torch
        out["torch"] = sys.modules["torch"].__version__
    return out


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file renamed into place; an OSError becomes a :class:`RunDirError`."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise RunDirError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def read_manifest(path: str | Path) -> dict[str, Any] | None:
    """The manifest of a run directory, or None if there is none (or it is unreadable or not a mapping)."""
    try:
        manifest = json.loads((Path(path) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def clear_partial_run(path: str | Path) -> None:
    """Remove what a run killed before its first manifest can leave in ``path`` (simfl's own file
    names and temporary files), so that the folder is empty again. For callers that own ``path``
    (a sweep's ``runs/<run_id>``); other files are left, and :meth:`RunDir.create` then refuses."""
    p = Path(path)
    if not p.is_dir() or is_run_dir(p):
        return
    for f in p.iterdir():
        if f.is_file() and (f.name in _OWN_FILES or _TEMPORARY.fullmatch(f.name)):
            f.unlink(missing_ok=True)


def is_run_dir(path: str | Path) -> bool:
    """True when ``path`` holds a simfl run's manifest (``kind: simfl run``, or simfl's versions)."""
    manifest = read_manifest(path)
    if manifest is None:
        return False
    versions_ = manifest.get("versions")
    return manifest.get("kind") == RUN_KIND or (isinstance(versions_, dict) and "simfl" in versions_)


def read_parquet_file(path: str | Path, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """A parquet table holding the ``required`` columns.

    Raises:
        RunDirError: one line: the file is missing, truncated or corrupt, or lacks a required column.
    """
    try:
        frame = pd.read_parquet(path)
    except FileNotFoundError:
        raise RunDirError(f"{path}: missing") from None
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        first = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise RunDirError(f"{path}: unreadable (truncated or corrupt?): {first}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise RunDirError(f"{path}: not a table simfl wrote (no column {', '.join(missing)})")
    return frame


def finished_run_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a run directory whose results can be read: a run that ended (complete,
    interrupted, ...) with all its tables.

    Raises:
        RunDirError: one line: not a run directory, a run still ``running`` (or whose process
            died), a ``failed`` run, or a table missing.
    """
    p = Path(path)
    manifest = read_manifest(p)
    if manifest is None:
        raise RunDirError(f"{p}: not a simfl run directory (no readable manifest.json)")
    status = manifest.get("status")
    if status == "running":
        raise RunDirError(f"{p}: the run has not finished (status running: still going, or its process died); "
                          "no results to read yet")
    if status == "failed":
        raise RunDirError(f"{p}: the run failed ({manifest.get('error') or 'no error recorded'}); no results to read")
    missing = [f"{t}.parquet" for t in TABLES if not (p / f"{t}.parquet").is_file()]
    if missing:
        raise RunDirError(f"{p}: incomplete run directory (status {status}): no {', '.join(missing)}")
    return manifest


def run_status(path: str | Path) -> str | None:
    """``complete``, ``running``, ``failed``, ``interrupted``, or None (no manifest)."""
    manifest = read_manifest(path)
    return None if manifest is None else manifest.get("status")


class RunDir:
    """Writer for one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, path: str | Path, overwrite: bool = False, resume: bool = False) -> "RunDir":
        """Make the directory, new or empty.

        A non-empty folder is refused, and nothing in it changes, unless ``overwrite`` is set
        *and* the folder is a simfl run directory (:func:`is_run_dir`); then simfl's own files
        in it are removed (other files are kept). With ``resume`` the folder must be a run
        directory whose run is continued; nothing is removed.

        Raises:
            RunDirError: the folder cannot be used (one line naming ``--out`` or ``--resume``).
        """
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise RunDirError(f"--out {p}: exists and is not a directory")
        if resume:
            if read_manifest(p) is None:
                raise RunDirError(f"--resume {p}: not a simfl run directory (no readable manifest.json)")
            return cls(p)
        if p.is_dir() and any(p.iterdir()):
            if not is_run_dir(p):
                hint = "--overwrite replaces only a simfl run directory; " if overwrite else ""
                raise RunDirError(
                    f"--out {p}: a folder holding files that are not a simfl run (no simfl manifest.json); "
                    f"{hint}choose a new or empty folder"
                )
            if not overwrite:
                raise RunDirError(
                    f"--out {p}: already holds a {run_status(p)} run; pass --overwrite or choose another --out"
                )
            try:
                for name in _OWN_FILES:
                    (p / name).unlink(missing_ok=True)
            except OSError as exc:
                raise RunDirError(f"--out {p}: cannot replace the previous run ({exc.strerror or exc})") from None
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"--out {p}: cannot create directory ({exc.strerror})") from None
        return cls(p)

    def write_text(self, name: str, text: str) -> None:
        """Write a text file atomically."""
        _atomic_write(self.path / name, lambda tmp: tmp.write_text(text))

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write ``manifest.json`` atomically (stamped ``kind: simfl run``)."""
        self.write_text(MANIFEST, json.dumps({"kind": RUN_KIND, **manifest}, indent=2, sort_keys=True, default=str) + "\n")

    def try_write_manifest(self, manifest: dict[str, Any]) -> bool:
        """:meth:`write_manifest`, returning False instead of raising when it cannot be written."""
        try:
            self.write_manifest(manifest)
        except RunDirError:
            return False
        return True

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        """Write ``name.parquet`` atomically (pyarrow)."""
        # zstd: smaller than the default snappy (10^6 task rows: 57 MB against 69 MB); dictionary
        # encoding only for columns that are not floating point (times and weights hardly repeat:
        # trying it costs 13% of the write and saves nothing); pyarrow and pandas read it as any parquet
        dictionary = [c for c in frame.columns if frame[c].dtype.kind != "f"]
        _atomic_write(self.path / f"{name}.parquet",
                      lambda tmp: frame.to_parquet(tmp, engine="pyarrow", index=False, compression="zstd",
                                                   use_dictionary=dictionary))
