"""``tracking: {wandb: {project, group, mode, dir}}``: one Weights & Biases run per simfl run.

Each simfl run is one W&B run (``wandb.init(..., reinit="create_new")``, so a process runs many
in turn: a sweep's worker), named like its TensorBoard directory (its run directory's name, else
its run id), in ``project`` and ``group`` (a sweep's runs: the sweep's name unless ``group`` is
given), with

* **config**: the run's resolved config (as ``config.yaml`` holds it) and ``simfl``: its
  ``run_id``, ``name`` and ``tags`` (the sweep's swept keys and values, the seed);
* **tags**: ``key=value`` for each of those tags (W&B allows 64 characters: a longer one is cut
  to 63 and ends with ``…``; the full value is in the config);
* **history**: at each evaluation the scalars of :mod:`simfl.tracking.scalars` (TensorBoard's),
  logged with ``step`` = the evaluation's index (0, 1, 2, ...) and plotted by default against
  simulated time: every metric's x-axis is ``evals/sim_time_s``
  (``define_metric("*", step_metric="evals/sim_time_s")``);
* **summary**: the last value of each scalar (the final evaluation's accuracy and loss), and
  ``simfl/status``, ``simfl/stop_reason``, ``simfl/sim_end_s``;
* **exit code**: 0 for a ``complete`` or ``paused`` run, 1 otherwise (failed, diverged,
  interrupted): W&B marks those runs failed.

The console is not captured (``console="off"``): simfl's own output stays where it is.
``mode: offline`` writes runs under ``DIR/wandb/offline-run-*`` (upload later: ``wandb sync``);
``mode: null`` leaves the choice to wandb (``WANDB_MODE``, else online). Needs the ``wandb``
package: ``pip install 'simfl[wandb]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from simfl.config.schema import WandbTracking
from simfl.errors import ConfigError
from simfl.tracking.callback import Callback
from simfl.tracking.records import RunInfo, UpdateCounts
from simfl.tracking.scalars import evaluation_scalars, run_tags

__all__ = ["WandbWriter", "X_AXIS", "MAX_TAG", "wandb_tags"]

#: The metric every other one is plotted against: simulated seconds.
X_AXIS = "evals/sim_time_s"
#: Longest tag W&B accepts.
MAX_TAG = 64
#: Statuses a W&B run ends with exit code 0 (others: 1).
_SUCCESS = ("complete", "paused")


def _wandb_module():
    try:
        import wandb
    except ImportError:
        raise ConfigError("tracking.wandb: needs the wandb package: pip install 'simfl[wandb]'") from None
    return wandb


def wandb_tags(tags: Mapping[str, Any]) -> list[str]:
    """``key=value`` for each tag, cut to :data:`MAX_TAG` characters (ending with ``…`` when cut)."""
    out = []
    for key, value in tags.items():
        text = f"{key}={value}"
        out.append(text if len(text) <= MAX_TAG else text[: MAX_TAG - 1] + "…")
    return out


class WandbWriter(Callback):
    """Logs each simfl run as a W&B run (see the module docstring).

    Args:
        settings: the ``tracking.wandb`` section.

    Raises:
        ConfigError: the ``wandb`` package is not installed.
    """

    def __init__(self, settings: WandbTracking) -> None:
        self._wandb = _wandb_module()
        self.settings = settings
        self.run = None
        self._step = 0

    def on_run_start(self, info: RunInfo) -> None:
        s, wandb = self.settings, self._wandb
        if s.dir is not None:
            Path(s.dir).mkdir(parents=True, exist_ok=True)  # else wandb falls back to a temporary folder
        tags = run_tags(info)
        config = {**info.config.model_dump(mode="json"),
                  "simfl": {"run_id": info.run_id, "name": info.config.name, "tags": tags}}
        self.run = wandb.init(project=s.project, group=s.group, name=info.name, dir=s.dir, mode=s.mode,
                              config=config, tags=wandb_tags(tags), reinit="create_new",
                              settings=wandb.Settings(console="off"))
        self.run.define_metric(X_AXIS)
        self.run.define_metric("*", step_metric=X_AXIS)

    def on_evaluation(self, row: Mapping[str, Any], updates: UpdateCounts) -> None:
        self.run.log(evaluation_scalars(row, updates), step=self._step)
        self._step += 1

    def on_run_end(self, status: str, manifest: Mapping[str, Any]) -> None:
        if self.run is None:
            return
        self.run.summary.update({"simfl/status": status, "simfl/stop_reason": manifest.get("stop_reason"),
                                 "simfl/sim_end_s": manifest.get("sim_end_s")})
        self.run.finish(exit_code=0 if status in _SUCCESS else 1)
        self.run = None
