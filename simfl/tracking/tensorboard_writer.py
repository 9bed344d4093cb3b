"""``tracking: {tensorboard: DIR}``: TensorBoard event files, one sub-directory per run.

Simulated time is the x-axis. TensorBoard's step is an integer and its wall time a float in
seconds, so each evaluation's scalars are written with

* ``walltime`` = the evaluation's ``sim_time_s`` (exactly: event files store it as a double), so
  TensorBoard's *Relative* axis is simulated seconds since the start (the first evaluation is
  at 0) and its *Wall* axis is simulated time as a clock time from 1970-01-01 00:00 UTC;
* ``step`` = the evaluation's index (0, 1, 2, ...): distinct and increasing, which TensorBoard
  needs (simulated milliseconds would collide or round), and proportional to simulated time
  under ``eval.every_s`` except for the final evaluation;
* the scalar ``evals/sim_time_s`` too, for tools that only read steps and values.

The run-start records (sweep tags in the HParams dashboard and as text) carry wall time 0.
In the HParams dashboard each run is a session whose hyperparameters are its tags and whose
metrics are its scalars (their last values).
Events are written by ``torch.utils.tensorboard.SummaryWriter`` (PyTorch's documented writer;
it needs the ``tensorboard`` package: ``pip install 'simfl[tracking]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from simfl.errors import ConfigError
from simfl.tracking.callback import Callback
from simfl.tracking.records import RunInfo, UpdateCounts
from simfl.tracking.scalars import evaluation_scalars, run_tags

__all__ = ["TensorBoardWriter", "EVENTS_PREFIX", "FLUSH_S"]

#: How TensorBoard event files are named (older ones of a run are removed when it is written again).
EVENTS_PREFIX = "events.out.tfevents."
#: Seconds between flushes of the event file to disk (what TensorBoard shows lags by at most this).
FLUSH_S = 5


def _summary_writer():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # e.g. torch: "TensorBoard logging requires TensorBoard ..."
        raise ConfigError(
            f"tracking.tensorboard: cannot import torch.utils.tensorboard ({exc}): pip install 'simfl[tracking]'"
        ) from None
    return SummaryWriter


def _markdown_table(rows: Mapping[str, Any]) -> str:
    lines = ["| key | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows.items()]
    return "\n".join(lines)


class TensorBoardWriter(Callback):
    """Writes each run's scalars to ``root/<run name>/`` (see the module docstring).

    A run written again (``--overwrite``, a sweep resuming a failed run) replaces its event
    files, as its run directory is replaced: TensorBoard shows one curve per run.

    Args:
        root: the directory named in ``tracking.tensorboard`` (relative: to the current directory).

    Raises:
        ConfigError: the ``tensorboard`` package is not installed.
    """

    def __init__(self, root: str | Path) -> None:
        self._writer_class = _summary_writer()
        self.root = Path(root)
        self.path: Path | None = None
        self._writer = None
        self._step = 0

    def on_run_start(self, info: RunInfo) -> None:
        from torch.utils.tensorboard.summary import hparams

        self.path = self.root / info.name
        if self.path.is_dir():
            for old in self.path.glob(f"{EVENTS_PREFIX}*"):
                old.unlink()
        self._writer = self._writer_class(log_dir=str(self.path), flush_secs=FLUSH_S)
        tags = run_tags(info)
        # the HParams dashboard: this run's tags (its session). No experiment summary: with
        # none, TensorBoard builds the table from every run's tags and scalars, so the runs of a
        # sweep whose variants set different keys all show (it would take one run's instead).
        _, session_start, session_end = hparams(tags, {})
        for summary in (session_start, session_end):
            self._writer.file_writer.add_summary(summary, 0, 0.0)
        about = {"run id": info.run_id, "name": info.config.name or "", **tags}
        self._writer.add_text("run/tags", _markdown_table(about), 0, walltime=0.0)

    def on_evaluation(self, row: Mapping[str, Any], updates: UpdateCounts) -> None:
        t = float(row["sim_time_s"])
        for tag, value in evaluation_scalars(row, updates).items():
            self._writer.add_scalar(tag, value, self._step, walltime=t)
        self._step += 1

    def on_run_end(self, status: str, manifest: Mapping[str, Any]) -> None:
        if self._writer is None:
            return
        end = float(manifest.get("sim_end_s", 0.0) or 0.0)
        self._writer.add_text("run/status", f"{status} ({manifest.get('stop_reason') or manifest.get('error') or ''})",
                              self._step, walltime=end)
        self._writer.close()
        self._writer = None
