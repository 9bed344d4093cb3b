"""What a tracking callback is told: one small record per kind of event."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple

if TYPE_CHECKING:
    from simfl.config.schema import Config

__all__ = ["RunInfo", "UpdateCounts", "Aggregation", "TaskEnd"]


@dataclass(frozen=True)
class RunInfo:
    """The run about to start.

    Attributes:
        name: the tracker run's name: the run directory's name (a sweep's runs: their run id),
            else the run id.
        run_id: the first 12 hex digits of the SHA-256 of the resolved config, as a sweep names
            its runs (``tracking`` and ``name`` are not part of it).
        config: the resolved config.
        tags: the swept keys and their values when the run belongs to a sweep (``label`` for a
            variant), else empty.
        path: the run directory (None when the run is not written).
    """

    name: str
    run_id: str
    config: "Config"
    tags: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None


class UpdateCounts(NamedTuple):
    """Client tasks by status so far (at an evaluation), and the staleness of applied updates.

    Every dispatched task is counted once, under the status the server has given it by then,
    so the counts add up to the tasks dispatched so far; a status can still change later
    (``buffered`` → ``applied``, ``in_flight`` → anything). ``applied`` equals the updates in the
    evaluated model: the sum of ``num_client_updates`` over the aggregations up to its version.
    """

    applied: int
    dropped_stale: int
    lost_offline: int
    discarded_deadline: int
    buffered: int
    in_flight: int  # running, or arrived and waiting for the server
    mean_staleness: float  # of the applied updates (nan: none yet)


class Aggregation(NamedTuple):
    """A new global model: its row of the ``aggregations`` table."""

    server_version: int
    sim_time_s: float
    num_client_updates: int  # updates applied since the previous version
    extra: Mapping[str, Any]  # the policy's extra columns (e.g. FedAvg's ``round``), maybe empty


class TaskEnd(NamedTuple):
    """A client task ended: its row of the ``client_updates`` table as it stands then.

    ``status`` is the one the server has given the task by then: ``applied``,
    ``dropped_stale``, ``buffered`` (held for a later aggregation), ``lost_offline``,
    ``discarded_deadline`` (stopped by the server, or missed its round), or ``in_flight`` when
    its update waits for the server (``heterogeneity.server.aggregation_s_per_update`` > 0). The
    table's final status may differ (a ``buffered`` update is applied or discarded later).
    ``staleness`` is None until the server has looked at the update.
    """

    task_id: int
    client_id: int
    task_index: int  # the client's k-th task
    round: int | None  # synchronous methods' round (None: asynchronous)
    base_version: int
    dispatch_time_s: float
    end_time_s: float  # arrival, or when the client went offline / the task was stopped
    download_s: float
    compute_s: float
    upload_s: float
    status: str
    staleness: int | None
    weight: float  # the factor the update entered the model with (nan: not yet)
