"""``train.executor``: where and when a run's training jobs are computed.

``sequential`` or ``batched`` (the local executor, in the simulator's process on
``train.device``), or a mapping with ``type: dask`` (a ``dask.distributed`` cluster) or
``type: devices`` (several devices of this machine). A bare ``dask`` or ``devices`` is that
mapping with its defaults. See docs/scale.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag

from simfl.config.params import key_error
from simfl.strict import StrictModel

__all__ = ["DaskExecutorSpec", "DevicesExecutorSpec", "EXECUTORS", "LOCAL_EXECUTORS", "ExecutorField", "executor_spec"]

#: The local executor's two ways of computing jobs.
LOCAL_EXECUTORS = ("sequential", "batched")


class DaskExecutorSpec(StrictModel):
    """A dask.distributed cluster: one task per job, bitwise equal to sequential (address null: a local cluster)."""

    type: Literal["dask"] = Field("dask", description="dask: this executor")
    address: str | None = Field(
        None, min_length=1,
        description="the scheduler's address (tcp://host:8786); null = start a LocalCluster of `workers` processes "
        "on this machine for the run",
    )
    workers: int = Field(2, ge=1, description="worker processes of the local cluster (address null), one thread each")
    max_in_flight: int = Field(
        64, ge=1,
        description="most jobs on the cluster and not yet collected (each holds a start model and an update in "
        "worker memory); later jobs wait in this process and go as others are collected",
    )
    torch_threads: int | None = Field(
        None, ge=1,
        description="torch threads of each worker's jobs; null = as many as this process uses, which makes the "
        "updates bitwise equal to the in-process sequential run (CPU kernels round by thread count); 1 for "
        "throughput on many workers per machine (then equal to a sequential run with one torch thread)",
    )
    timeout_s: float = Field(60.0, gt=0, allow_inf_nan=False,
                             description="seconds to connect to the scheduler or start the local cluster; also how long the "
                             "cluster may have no worker at all while results are awaited before the run fails")


class DevicesExecutorSpec(StrictModel):
    """Several devices of this machine: jobs spread over them by task id, each device batched (or sequential)."""

    type: Literal["devices"] = Field("devices", description="devices: this executor")
    devices: list[str] | None = Field(
        None, min_length=1,
        description="torch devices ([cuda:0, cuda:1]); null = every visible CUDA device; [cpu, cpu] tests the spreading",
    )
    batched: bool = Field(True, description="each device trains its pending jobs together (false: one at a time)")


#: ``type`` → spec of the executors given as a mapping.
EXECUTORS = {"dask": DaskExecutorSpec, "devices": DevicesExecutorSpec}


def _tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "local"
    if isinstance(value, dict):
        return value.get("type")
    return getattr(value, "type", None)


_tag.__name__ = "type_tag"

#: The annotation of ``train.executor``.
ExecutorField = Annotated[
    Union[Annotated[Literal["sequential", "batched"], Tag("local")],
          Annotated[DaskExecutorSpec, Tag("dask")], Annotated[DevicesExecutorSpec, Tag("devices")]],
    Discriminator(_tag),
]


def executor_spec(value: Any) -> Any:
    """``train.executor`` before validation: a bare ``dask`` / ``devices`` becomes its mapping;
    anything else that names no executor is a one-line error."""
    allowed = f"{', '.join(LOCAL_EXECUTORS)}, or a mapping with type: {' | '.join(EXECUTORS)}"
    if isinstance(value, str):
        if value in EXECUTORS:
            return {"type": value}
        if value not in LOCAL_EXECUTORS:
            raise key_error("train.executor", f"unknown executor {value!r}; allowed: {allowed}")
        return value
    if isinstance(value, dict):
        if value.get("type") not in EXECUTORS:
            raise key_error("train.executor.type", f"expected one of {', '.join(EXECUTORS)}, got {value.get('type')!r}")
        return value
    if isinstance(value, StrictModel):
        return value
    raise key_error("train.executor", f"expected {allowed}, got {value!r}")
