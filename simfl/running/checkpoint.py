"""Checkpoint files: the whole state of a run mid-way, signed so only simfl's own are loaded.

A checkpoint is a pickle (the engine's events, tasks in flight, models, optimizer states, the
policy and the selector, the recorded rows, the trainer's pending jobs), which can run code
when loaded. So every checkpoint carries an HMAC-SHA256 of its bytes under a key private to the
user: ``$SIMFL_CHECKPOINT_KEY`` (hex) if set, else ``$XDG_CONFIG_HOME/simfl/checkpoint.key``
(default ``~/.config/simfl/checkpoint.key``, created on first use, readable by its owner only).
A file whose signature does not match — crafted, corrupted, or written under another key (another
user, or another machine without a shared home: set the same ``SIMFL_CHECKPOINT_KEY`` there) — is
refused with one line before anything in it is unpickled.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import pickle
import secrets
import time
from pathlib import Path
from typing import Any

from simfl.engine.simpy_fence import PENDING
from simfl.errors import RunDirError

__all__ = ["FORMAT", "CHECKPOINT", "CheckpointRejected", "write_checkpoint", "read_checkpoint", "set_aside",
           "checkpoint_key"]

#: The layout of a checkpoint's state; raised whenever the engine's state changes shape.
FORMAT = 5  # 5: the simulation holds a ClientPool and a Ledger; 4: distributions hold their {mean, cv} forms

#: The checkpoint's file name in a run directory.
CHECKPOINT = "checkpoint.pkl"
_MAGIC = b"SIMFL-CHECKPOINT-1\n"


class CheckpointRejected(RunDirError):
    """A checkpoint that is not loaded: not simfl's, altered, another key's or another format's.

    Attributes:
        path: the checkpoint file.
        reason: what is wrong with it (no path, no advice).
        hint: what a user of ``simfl run --resume`` can do ("" when nothing needs saying).
    """

    def __init__(self, path: str | Path, reason: str, hint: str = "") -> None:
        self.path, self.reason, self.hint = Path(path), reason, hint
        super().__init__(f"{path}: {reason}" + (f"; {hint}" if hint else ""))


def checkpoint_key() -> bytes:
    """The signing key (see the module docstring)."""
    env = os.environ.get("SIMFL_CHECKPOINT_KEY")
    if env:
        try:
            return bytes.fromhex(env)
        except ValueError:
            raise RunDirError("SIMFL_CHECKPOINT_KEY: expected a hex string (e.g. 64 hex digits)") from None
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "simfl"
    path = base / "checkpoint.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    except ValueError:
        raise RunDirError(f"{path}: not a checkpoint key (hex); delete it to make a new one") from None
    base.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return bytes.fromhex(key)


#: Singletons that must stay themselves through a pickle (SimPy tells an untriggered event by
#: ``event._value is PENDING``).
_SINGLETONS = {"simpy.PENDING": PENDING}
_IDS = {id(obj): name for name, obj in _SINGLETONS.items()}


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return _IDS.get(id(obj))


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        try:
            return _SINGLETONS[pid]
        except KeyError:
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}") from None


def _dumps(payload: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(payload)
    return buffer.getvalue()


def write_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Pickle ``payload``, sign it and write it atomically (a temporary name, then a rename)."""
    path = Path(path)
    data = _dumps(payload)
    mac = hmac.new(checkpoint_key(), data, hashlib.sha256).hexdigest().encode()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(_MAGIC + mac + b"\n" + data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Verify and unpickle a checkpoint; a file simfl did not sign is refused before unpickling."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read the checkpoint ({exc.strerror})") from None
    if not raw.startswith(_MAGIC) or len(raw) < len(_MAGIC) + 65:
        raise CheckpointRejected(path, "not a simfl checkpoint")
    mac, data = raw[len(_MAGIC):len(_MAGIC) + 64], raw[len(_MAGIC) + 65:]
    expected = hmac.new(checkpoint_key(), data, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(mac, expected):
        raise CheckpointRejected(path, "the checkpoint's signature does not match this user's key (not written by "
                                 "simfl here, or altered); it is not loaded",
                                 "to start the run over, move it away and rerun with --overwrite")
    try:
        payload = _Unpickler(io.BytesIO(data)).load()  # noqa: S301 - signed by this user's key above
    except Exception as exc:
        raise CheckpointRejected(path, f"the checkpoint cannot be loaded ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict):
        raise CheckpointRejected(path, "a checkpoint of an unknown format")
    if payload.get("format") != FORMAT:
        raise CheckpointRejected(path, f"a checkpoint of format {payload.get('format')!r}, written by another simfl "
                                 f"version (this one reads format {FORMAT})", "rerun without --resume")
    return payload


def set_aside(path: str | Path) -> Path:
    """Rename a rejected checkpoint ``<name>.rejected-<UTC time>`` beside it (never deleted: it may be
    evidence, or someone's file) and return the new path."""
    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside, n = path.with_name(f"{path.name}.rejected-{stamp}"), 1
    while aside.exists():  # two rejections within a second
        n += 1
        aside = path.with_name(f"{path.name}.rejected-{stamp}-{n}")
    path.rename(aside)
    return aside
