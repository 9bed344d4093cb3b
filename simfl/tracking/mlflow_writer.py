"""``tracking: {mlflow: {tracking_uri, experiment}}``: one MLflow run per simfl run.

Written through ``mlflow.tracking.MlflowClient`` (MLflow's documented client: no global active
run, so several simfl runs in one process do not interfere). A run is named like its
TensorBoard directory (its run directory's name, else its run id); its params are the sweep's
swept keys and the seed, its tags ``simfl.run_id``, ``simfl.name`` and, at the end,
``simfl.status``; its MLflow status is FAILED for a failed run, KILLED for an interrupted one,
FINISHED otherwise.

The metrics are those of :mod:`simfl.tracking.scalars`, logged at each evaluation with
``step`` = the evaluation's index and ``timestamp`` = its simulated time in milliseconds, so
MLflow's *relative time* axis is simulated time (``evals/sim_time_s`` is logged too).
``pip install 'simfl[mlflow]'`` installs the client and what a local ``sqlite:///`` store needs.
"""

from __future__ import annotations

from typing import Any, Mapping

from simfl.errors import ConfigError
from simfl.tracking.callback import Callback
from simfl.tracking.records import RunInfo, UpdateCounts
from simfl.tracking.scalars import evaluation_scalars, run_tags

__all__ = ["MlflowWriter"]

_STATUS = {"failed": "FAILED", "interrupted": "KILLED"}


def _client_class():
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ConfigError("tracking.mlflow: needs the mlflow package: pip install 'simfl[mlflow]'") from None
    return MlflowClient


class MlflowWriter(Callback):
    """Logs each simfl run as an MLflow run of ``experiment`` (created when missing).

    Args:
        tracking_uri: where MLflow stores runs (None: MLflow's default, ``MLFLOW_TRACKING_URI``).
        experiment: the experiment's name.

    Raises:
        ConfigError: the ``mlflow`` package is not installed.
    """

    def __init__(self, tracking_uri: str | None, experiment: str) -> None:
        self._client_class = _client_class()
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.run_id: str | None = None
        self._client = None
        self._step = 0

    def on_run_start(self, info: RunInfo) -> None:
        from mlflow.entities import Param

        client = self._client_class(tracking_uri=self.tracking_uri)
        found = client.get_experiment_by_name(self.experiment)
        experiment_id = found.experiment_id if found is not None else client.create_experiment(self.experiment)
        run = client.create_run(
            experiment_id, run_name=info.name, tags={"simfl.run_id": info.run_id, "simfl.name": info.config.name or ""}
        )
        self._client, self.run_id = client, run.info.run_id
        params = [Param(key, str(value)) for key, value in run_tags(info).items()]
        client.log_batch(self.run_id, params=params)

    def on_evaluation(self, row: Mapping[str, Any], updates: UpdateCounts) -> None:
        from mlflow.entities import Metric

        timestamp = round(float(row["sim_time_s"]) * 1000)
        metrics = [Metric(tag, value, timestamp, self._step) for tag, value in evaluation_scalars(row, updates).items()]
        self._client.log_batch(self.run_id, metrics=metrics)
        self._step += 1

    def on_run_end(self, status: str, manifest: Mapping[str, Any]) -> None:
        if self._client is None:
            return
        self._client.set_tag(self.run_id, "simfl.status", status)
        self._client.set_terminated(self.run_id, _STATUS.get(status, "FINISHED"))
        self._client = None
