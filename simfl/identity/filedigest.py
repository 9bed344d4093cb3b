"""Content digests (SHA-256) of files and folders: streamed, and cached per user.

A file's digest is the SHA-256 of its bytes, read in blocks of :data:`BLOCK` bytes (never the
whole file in memory), the number ``sha256sum FILE`` prints. A folder's digest is the SHA-256 of
the lines ``<sha256>  <name>\\n`` of every file under it, sorted by name, where ``name`` is the
file's path relative to the folder with ``/`` between parts: the output of ``sha256sum`` on the
sorted list of files. Names starting with a dot (hidden files and folders) are skipped.

**The cache.** Hashing a 10 GB dataset takes tens of seconds, so digests are kept in a SQLite
database, ``digests.sqlite3`` in the user's cache folder (:func:`cache_dir`: ``$SIMFL_CACHE_DIR``,
else ``$XDG_CACHE_HOME/simfl``, else ``~/.cache/simfl``), keyed by the file's absolute path,
size, ``mtime_ns``, ``ctime_ns`` and inode. A write to a file changes its mtime and its ctime
(which no program can set back, unlike the mtime), and an editor that saves by renaming gives it
a new inode, so a cached digest is only ever used for the bytes it was computed from. Two writes
within one tick of the filesystem's clock leave the same times, though, so a digest is cached
only once the file's last change is :data:`SETTLE_S` seconds old, and only when the file did not
change while it was read (its status before and after reading agree); until then the file is
simply hashed again.

Several processes (a sweep's workers) share the cache: SQLite locks it, a writer waits up to
a few seconds. A cache that cannot be opened, read or written never fails anything: the file is
hashed anyway, and one :class:`DigestCacheWarning` per process says why.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from typing import Iterable

__all__ = ["BLOCK", "SETTLE_S", "CACHE_ENV", "DigestCacheWarning", "cache_dir", "file_sha256", "folder_sha256",
           "folder_files", "lines_sha256"]

#: Bytes read at a time.
BLOCK = 1 << 20
#: A digest is cached only once the file's last change (mtime and ctime) is this many seconds old.
SETTLE_S = 5.0
#: Environment variable naming the cache folder.
CACHE_ENV = "SIMFL_CACHE_DIR"
_DB = "digests.sqlite3"
_SCHEMA = ("CREATE TABLE IF NOT EXISTS file_sha256 (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
           "ctime_ns INTEGER, inode INTEGER, sha256 TEXT NOT NULL)")


class DigestCacheWarning(UserWarning):
    """The digest cache cannot be used (files are hashed anyway)."""


def cache_dir() -> Path:
    """The user's simfl cache folder: ``$SIMFL_CACHE_DIR``, ``$XDG_CACHE_HOME/simfl`` or ``~/.cache/simfl``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "simfl"
    return Path.home() / ".cache" / "simfl"


def _now_ns() -> int:
    return time.time_ns()


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


class _Cache:
    """The SQLite digest cache of this process (one connection, opened on first use)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._owner: tuple[int, Path] | None = None  # (pid, folder) the connection was opened for
        self._warned = False

    def _connection(self) -> sqlite3.Connection:
        owner = (os.getpid(), cache_dir())
        if self._db is None or self._owner != owner:  # first use, a forked child, or another folder
            owner[1].mkdir(parents=True, exist_ok=True, mode=0o700)
            db = sqlite3.connect(owner[1] / _DB, timeout=10.0, isolation_level=None, check_same_thread=False)
            db.execute(_SCHEMA)
            self._db, self._owner = db, owner
        return self._db

    def _failed(self, exc: Exception) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(f"the file digest cache {cache_dir() / _DB} cannot be used ({type(exc).__name__}: {exc}); "
                          f"files are hashed every time (set {CACHE_ENV} to a writable folder)",
                          DigestCacheWarning, stacklevel=4)

    def get(self, path: str, key: tuple[int, int, int, int]) -> str | None:
        with self._lock:
            try:
                row = self._connection().execute(
                    "SELECT sha256 FROM file_sha256 WHERE path = ? AND size = ? AND mtime_ns = ? AND ctime_ns = ? "
                    "AND inode = ?", (path, *key)).fetchone()
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc)
                return None
        return row[0] if row else None

    def put(self, path: str, key: tuple[int, int, int, int], digest: str) -> None:
        with self._lock:
            try:
                self._connection().execute("INSERT OR REPLACE INTO file_sha256 VALUES (?, ?, ?, ?, ?, ?)",
                                           (path, *key, digest))
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc)


_cache = _Cache()


def _hash_open_file(f) -> str:
    """SHA-256 of the rest of an open binary file, read block by block."""
    h = hashlib.sha256()
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    while n := f.readinto(buf):
        h.update(view[:n])
    return h.hexdigest()


def file_sha256(path: str | Path, cache: bool = True) -> str:
    """SHA-256 (hex) of a file's bytes, from the cache when the file is unchanged (see the module docstring).

    Raises:
        OSError: the file cannot be read.
    """
    name = os.path.abspath(path)
    st = os.stat(name)
    if cache:
        hit = _cache.get(name, _stat_key(st))
        if hit is not None:
            return hit
    with open(name, "rb") as f:
        before = os.fstat(f.fileno())
        digest = _hash_open_file(f)
        after = os.fstat(f.fileno())
    settled = _now_ns() - max(after.st_mtime_ns, after.st_ctime_ns) > SETTLE_S * 1e9
    if cache and settled and _stat_key(before) == _stat_key(after) == _stat_key(os.stat(name)):
        _cache.put(name, _stat_key(after), digest)
    return digest


def lines_sha256(entries: Iterable[tuple[str, str]]) -> str:
    """SHA-256 of ``<sha256>  <name>\\n`` lines, sorted by name (``sha256sum``'s output format)."""
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(entries))
    return hashlib.sha256(text.encode()).hexdigest()


def folder_files(path: str | Path) -> list[str]:
    """Every file under a folder, as ``/``-separated names relative to it, hidden names skipped, sorted."""
    root = os.path.abspath(path)
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = os.path.relpath(folder, root)
        for name in files:
            if not name.startswith(".") and os.path.isfile(os.path.join(folder, name)):
                found.append(name if rel == "." else f"{Path(rel).as_posix()}/{name}")
    return sorted(found)


def folder_sha256(path: str | Path, cache: bool = True) -> tuple[str, int]:
    """The folder's digest (see the module docstring) and how many files it covers.

    Raises:
        OSError: a file cannot be read.
    """
    names = folder_files(path)
    return lines_sha256((name, file_sha256(os.path.join(path, name), cache)) for name in names), len(names)
