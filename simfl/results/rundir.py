"""Run directories: ``config.yaml``, four parquet tables and ``manifest.json`` (DESIGN §4).

A run directory is *complete* only when ``manifest.json`` says so, and the manifest is
written last (atomically, by rename). While a run is going its status is ``running``; a
failure writes ``failed`` with the error, Ctrl-C writes ``interrupted`` after saving what was
recorded. Every file is written to a temporary name and renamed, so a crash never leaves a
half-written file under a final name.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from simfl.errors import RunDirError

__all__ = ["TABLES", "MANIFEST", "RunDir", "read_manifest", "run_status", "versions"]

TABLES = ("client_updates", "aggregations", "evals", "clients")
MANIFEST = "manifest.json"
CONFIG = "config.yaml"
_OWN_FILES = {f"{t}.parquet" for t in TABLES} | {MANIFEST, CONFIG, "checkpoint.pkl"}


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
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_manifest(path: str | Path) -> dict[str, Any] | None:
    """The manifest of a run directory, or None if there is none (or it is unreadable)."""
    try:
        return json.loads((Path(path) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


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
        """Make the directory; refuse a non-empty one unless ``overwrite`` (then clear simfl's files)
        or ``resume`` (a run directory whose run is continued)."""
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise RunDirError(f"--out {p}: exists and is not a directory")
        if resume:
            if read_manifest(p) is None:
                raise RunDirError(f"--resume {p}: not a simfl run directory (no readable manifest.json)")
            return cls(p)
        if p.is_dir() and any(p.iterdir()):
            if not overwrite:
                status = run_status(p)
                what = f"a {status} run" if status else "files"
                raise RunDirError(f"--out {p}: already holds {what}; pass --overwrite or choose another --out")
            for name in _OWN_FILES:
                (p / name).unlink(missing_ok=True)
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"--out {p}: cannot create directory ({exc.strerror})") from None
        return cls(p)

    def write_text(self, name: str, text: str) -> None:
        """Write a text file atomically."""
        _atomic_write(self.path / name, lambda tmp: tmp.write_text(text))

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write ``manifest.json`` atomically."""
        self.write_text(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        """Write ``name.parquet`` atomically (pyarrow)."""
        # zstd: smaller than the default snappy and faster to write (10^6 task rows: 5 MB in 0.16 s
        # against 8.4 MB in 0.25 s here); pyarrow and pandas read it as any parquet
        _atomic_write(self.path / f"{name}.parquet",
                      lambda tmp: frame.to_parquet(tmp, engine="pyarrow", index=False, compression="zstd"))
