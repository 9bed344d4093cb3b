"""Which files outside a run or sweep directory simfl wrote, so that it never replaces a user's.

``simfl partition --out FILE.parquet`` and ``simfl plot --out DIR`` write where the user says.
An existing file there is replaced only when simfl wrote it, or when ``--replace`` is given:

* a label-count table carries a key ``simfl`` in its parquet key-value metadata
  (``{"kind": "simfl label counts"}``); a parquet file without it is the user's;
* a figures folder holds ``.simfl-figures.json``, listing each figure simfl wrote there with the
  SHA-256 of its bytes; a figure file is simfl's while its bytes are the recorded ones (a figure the
  user edited or saved over under the same name is theirs again). The default folder of a run or
  sweep directory, ``DIR/plots``, is simfl's: the figures named there are replaced.

Anything else (another name, another content, a folder where a file is expected) is refused in one
line that names the flag to pass.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

import pandas as pd

from simfl.errors import SimflError

__all__ = ["PARQUET_KEY", "FIGURES_RECORD", "is_simfl_parquet", "write_simfl_parquet", "check_figures_replaceable",
           "record_figures"]

#: key of simfl's mark in the parquet key-value metadata of a file it writes for the user.
PARQUET_KEY = b"simfl"
#: what simfl wrote in a figures folder: ``{"kind": "simfl figures", "files": {name: sha256}}``.
FIGURES_RECORD = ".simfl-figures.json"
_FIGURES_KIND = "simfl figures"


def is_simfl_parquet(path: Path, kind: str) -> bool:
    """True when ``path`` is a parquet file simfl wrote as ``kind`` (its metadata says so)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
        return json.loads(meta.get(PARQUET_KEY, b"{}")).get("kind") == kind
    except Exception:  # not parquet, unreadable, or a mark that is not simfl's
        return False


def write_simfl_parquet(frame: pd.DataFrame, path: Path, kind: str, replace: bool = False) -> None:
    """Write ``frame`` to ``path`` marked as simfl's ``kind``, atomically.

    Raises:
        SimflError: ``path`` exists and is not simfl's ``kind`` (and not ``replace``), or cannot be written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.exists() and not replace and not is_simfl_parquet(path, kind):
        raise SimflError(f"--out {path}: exists and simfl did not write it (no {kind} mark); pass --replace "
                         "to replace it, or choose another --out")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    mark = json.dumps({"kind": kind}).encode()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), PARQUET_KEY: mark})
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SimflError(f"--out {path}: cannot write ({exc.strerror or exc})") from None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _recorded(folder: Path) -> dict[str, str]:
    try:
        record = json.loads((folder / FIGURES_RECORD).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict) or record.get("kind") != _FIGURES_KIND or not isinstance(record.get("files"), dict):
        return {}
    return record["files"]


def check_figures_replaceable(folder: Path, names: Iterable[str], own_folder: bool = False) -> None:
    """Refuse to write figures ``names`` into ``folder`` where that would replace a user's file.

    Args:
        folder: where the figures go (``--out``).
        names: the figure file names.
        own_folder: ``folder`` is simfl's (``DIR/plots`` of a run or sweep): its figure names are simfl's.

    Raises:
        SimflError: ``folder`` is not a folder, or a figure file there is not simfl's (one line).
    """
    if folder.exists() and not folder.is_dir():
        raise SimflError(f"--out {folder}: exists and is not a folder; give a folder for the figure files")
    if own_folder or not folder.is_dir():
        return
    recorded = _recorded(folder)
    theirs = [n for n in names if (folder / n).exists()
              and (not (folder / n).is_file() or recorded.get(n) != _digest(folder / n))]
    if theirs:
        more = f" (and {len(theirs) - 1} more)" if len(theirs) > 1 else ""
        raise SimflError(f"--out {folder}: {theirs[0]}{more} exists and simfl did not write it; pass --replace to "
                         "replace it, or choose another --out")


def record_figures(folder: Path, paths: Iterable[Path]) -> None:
    """Add the figure files ``paths`` (just written in ``folder``) to its record of simfl's figures."""
    files = {**_recorded(folder), **{p.name: _digest(p) for p in paths}}
    tmp = folder / f".{FIGURES_RECORD}.tmp-{os.getpid()}"
    try:
        tmp.write_text(json.dumps({"kind": _FIGURES_KIND, "files": files}, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, folder / FIGURES_RECORD)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SimflError(f"--out {folder}: cannot write {FIGURES_RECORD} ({exc.strerror or exc})") from None
