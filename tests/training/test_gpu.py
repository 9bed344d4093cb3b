"""Training on a GPU (``train.device: cuda``, the ``devices`` executor): run where CUDA is present,
skipped cleanly where it is not.

CPU and GPU kernels round differently, so results agree within a float tolerance, documented in
docs/scale.md: after a short run, ``max |w_gpu − w_cpu| ≤ TOL · max(1, max |w_cpu|)``. The
simulated times never depend on the device (every timing column is equal).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import simfl
from simfl.engine.protocols import Job
from tests.conftest import _merge
from tests.training.helpers import TRAIN_BASE

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not present on this machine")

#: Largest CPU↔GPU gap after a short run, relative to the largest parameter (at least 1).
TOL = {"float32": 1e-3, "float64": 1e-9}
TIMING = ["task_id", "client_id", "task_index", "dispatch_time_s", "download_s", "compute_s", "upload_s",
          "end_time_s", "arrival_time_s", "status"]


def _config(device: str = "cpu", executor="batched", dtype: str = "float32", model: str = "cnn"):
    return simfl.config_from_dict(_merge(TRAIN_BASE, {
        "data": {"num_clients": 8}, "model": {"type": model},
        "train": {"device": device, "executor": executor, "dtype": dtype},
        "algorithm": {"type": "fedbuff", "concurrency": 4, "buffer_size": 2},
        "stop": {"sim_time_s": 15.0}, "eval": {"every_s": 5.0}}))


def _trainer(config):
    from simfl.running.world import build_world

    return build_world(config, None, None, None).trainer


def _close_enough(gpu: np.ndarray, cpu: np.ndarray, dtype: str) -> None:
    scale = max(1.0, float(np.abs(cpu).max()))
    assert float(np.abs(gpu - cpu).max()) <= TOL[dtype] * scale


def test_data_and_training_are_on_the_device():
    trainer = _trainer(_config("cuda"))
    assert trainer.x.device.type == "cuda" and trainer.y.device.type == "cuda"
    assert trainer.x_test.device.type == "cuda"
    w0 = trainer.initial_params()
    params, _ = trainer.compute_job(Job(0, 1, 0, w0))
    assert isinstance(params, np.ndarray) and params.dtype == np.float32  # back on the host for the engine


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_batched_group_on_the_device_agrees_with_the_cpu(dtype):
    gpu, cpu = _trainer(_config("cuda", dtype=dtype)), _trainer(_config("cpu", dtype=dtype))
    w0 = cpu.initial_params()
    jobs = [Job(i, i % 8, i // 8, w0) for i in range(12)]
    batched, _ = gpu.compute_group(jobs)
    for job, row in zip(jobs, batched):
        _close_enough(row, cpu.compute_job(job)[0], dtype)


def test_a_short_run_on_the_gpu_agrees_with_the_cpu_run():
    cpu = simfl.run(_config("cpu"), progress=False)
    gpu = simfl.run(_config("cuda"), progress=False)
    pd.testing.assert_frame_equal(gpu.client_updates[TIMING], cpu.client_updates[TIMING], check_exact=True)
    _close_enough(gpu.final_params, cpu.final_params, "float32")


def test_the_devices_executor_on_every_gpu_agrees_with_one_gpu():
    one = simfl.run(_config("cuda"), progress=False)
    every = simfl.run(_config("cuda", executor={"type": "devices"}), progress=False)
    pd.testing.assert_frame_equal(every.client_updates[TIMING], one.client_updates[TIMING], check_exact=True)
    _close_enough(every.final_params, one.final_params, "float32")


def test_sequential_on_several_gpus_equals_sequential_on_one_bitwise():
    """Same kernels on the same device type: bitwise (cuDNN's deterministic algorithms)."""
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    one = simfl.run(_config("cuda", executor="sequential"), progress=False)
    devices = [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    every = simfl.run(_config("cuda", executor={"type": "devices", "devices": devices, "batched": False}),
                      progress=False)
    np.testing.assert_array_equal(every.final_params, one.final_params)
