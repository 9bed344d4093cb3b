"""Reading W&B offline run folders back, with wandb's own record format, and a network-free setup.

An offline run is ``DIR/wandb/offline-run-<time>-<id>/run-<id>.wandb``: a ``:W&B`` header, then
protobuf ``wandb.proto.wandb_internal_pb2.Record``\\ s in LevelDB log framing (32 KiB blocks; each
chunk: CRC32, length, type FULL/FIRST/MIDDLE/LAST). wandb 0.31 writes no ``wandb-summary.json``
offline, so the summary is rebuilt from the summary records; values are JSON (doubles: exact).

wandb's service process writes that file and may complete it a moment after ``run.finish()``
returns (measured: up to about a second), so :func:`offline_runs` waits for every run's exit record.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator


_HEADER = b":W&B"
_HEADER_SIZE = 7  # ident (4), magic (2), version (1)
_BLOCK = 32 * 1024
_CHUNK = 7  # crc (4), length (2), type (1)
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[bytes]:
    """The records of a ``.wandb`` file, checksums verified."""
    data = path.read_bytes()
    assert data[:4] == _HEADER, f"{path}: not a W&B transaction log"
    pos, pending = _HEADER_SIZE, b""
    while pos + _CHUNK <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _CHUNK:  # a block's tail too short for a chunk header is padding
            pos += left
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos:pos + _CHUNK])
        if kind == 0 and length == 0:  # zero padding up to the block's end
            pos += left
            continue
        chunk = data[pos + _CHUNK:pos + _CHUNK + length]
        assert zlib.crc32(bytes([kind]) + chunk) == crc, f"{path}: bad checksum at byte {pos}"
        pos += _CHUNK + length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pending + chunk


def _key(item) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


@dataclass
class OfflineRun:
    """What one offline run folder holds."""

    folder: Path
    name: str = ""
    project: str = ""
    group: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    step_metrics: dict[str, str] = field(default_factory=dict)  # metric (or glob) -> its x-axis
    exit_code: int | None = None

    def series(self, key: str) -> list[Any]:
        """The values of ``key`` in the history rows that have it, in order."""
        return [row[key] for row in self.history if key in row]


def read_offline_run(folder: Path) -> OfflineRun:
    from wandb.proto import wandb_internal_pb2 as pb

    (log,) = folder.glob("run-*.wandb")
    run = OfflineRun(folder)
    for raw in records(log):
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run.name, run.project, run.group, run.tags = r.display_name, r.project, r.run_group, list(r.tags)
            run.config.update({u.key: json.loads(u.value_json) for u in r.config.update})
        elif kind == "config":
            run.config.update({_key(u): json.loads(u.value_json) for u in record.config.update})
        elif kind == "history":
            run.history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            run.summary.update({_key(u): json.loads(u.value_json) for u in record.summary.update})
        elif kind == "metric":
            m = record.metric
            if m.step_metric:
                run.step_metrics[m.glob_name or m.name] = m.step_metric
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    return run


def offline_runs(root: Path, count: int = 1, timeout_s: float = 60.0) -> list[OfflineRun]:
    """The offline runs under ``root/wandb``, by name, once ``count`` of them are complete (have their
    exit record), or what is there after ``timeout_s`` (the caller's assertions then fail)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            runs = [read_offline_run(folder) for folder in sorted((root / "wandb").glob("offline-run-*"))]
        except (AssertionError, ValueError, struct.error):  # a file still being written
            runs = []
        done = [r for r in runs if r.exit_code is not None]
        if len(done) >= count and len(done) == len(runs) or time.monotonic() > deadline:
            return sorted(runs, key=lambda r: r.name)
        time.sleep(0.05)
