"""Executors: client updates per host second of the LEAF CNN on each executor, and the ratio to
the local executor measured in the same run.

The LEAF CNN (Caldas et al. 2018, FEMNIST): conv 5x5 (32) → ReLU → max-pool 2 → conv 5x5 (64) →
ReLU → max-pool 2 → dense 2048 → ReLU → dense (62 classes), on 28x28 one-channel inputs: 6.6 M
parameters, 26 MB per model in float32. The data are random images of that shape (speed does
not depend on pixel values), written to a temporary ``.npz`` (``data.dataset: arrays``).

Each executor runs the same FedAsync run (same tasks, same updates: the tables are compared);
its host wall time covers the whole ``simfl.run`` (the Dask cluster is started before, its
start-up printed apart). Executors: local sequential, local batched (``torch.func.vmap``), Dask
with 1 and 2 worker processes (one torch thread each), and ``cuda`` / every GPU (``devices``)
when CUDA is present (the script says what it found and skips what is absent).

    python benchmarks/executors.py                 # ~10 min on a 2-core machine
    python benchmarks/executors.py --smoke         # tiny sizes, to check the script runs
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)  # workers

import simfl  # noqa: E402


def leaf_cnn(input_shape, num_classes):
    """The LEAF FEMNIST CNN (5x5 convolutions, padding 2, so 28 → 14 → 7 after the pools)."""
    c, h, w = input_shape
    return nn.Sequential(
        nn.Conv2d(c, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * (h // 4) * (w // 4), 2048), nn.ReLU(), nn.Linear(2048, num_classes),
    )


def write_data(path: Path, clients: int, per_client: int, classes: int = 62) -> Path:
    """Random 1x28x28 images, ``per_client`` training and 4 held-out rows per client."""
    rng = np.random.default_rng(0)
    n, m = clients * per_client, clients * 4
    np.savez(path, x=rng.random((n, 1, 28, 28), dtype=np.float32), y=rng.integers(0, classes, n),
             client_id=np.repeat(np.arange(clients), per_client),
             x_test=rng.random((m, 1, 28, 28), dtype=np.float32), y_test=rng.integers(0, classes, m),
             client_id_test=np.repeat(np.arange(clients), 4))
    return path


def config(data: Path, executor, args, device: str = "cpu"):
    return simfl.config_from_dict({
        "seed": 0,
        "data": {"dataset": "arrays", "path": str(data)},
        "model": {"type": "torch"},
        "train": {"executor": executor, "device": device, "local_steps": args.steps, "batch_size": 10, "lr": 0.01},
        "algorithm": {"type": "fedasync", "concurrency": args.concurrency},
        "heterogeneity": {"compute": {"seconds_per_sample": 0.01, "jitter": 1.0}},
        "stop": {"sim_time_s": None, "client_updates": args.updates},
        "eval": {"every_s": None},
    })


def timed(cfg) -> tuple[float, simfl.RunResult]:
    t0 = time.perf_counter()
    result = simfl.run(cfg, model=leaf_cnn, progress=False)
    return time.perf_counter() - t0, result


def executors(args, found: list[str]):
    """(label, executor, device, workers) of every executor to measure here."""
    rows = [("local sequential", "sequential", "cpu", 0), ("local batched", "batched", "cpu", 0)]
    rows += [(f"dask {n} worker{'s' * (n > 1)}", "dask", "cpu", n) for n in args.workers]
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        found.append(f"CUDA: {count} device(s), {torch.cuda.get_device_name(0)}")
        rows.append(("cuda batched", "batched", "cuda", 0))
        if count > 1:
            rows.append((f"devices ({count} GPUs)", {"type": "devices"}, "cuda", 0))
    else:
        found.append("CUDA: absent (torch.cuda.is_available() is false): cuda and devices skipped")
    return rows


def measure(label, executor, device, workers, data, args):
    """Host seconds of the run, its update count and tables (a Dask cluster is started first)."""
    if workers == 0:
        seconds, result = timed(config(data, executor, args, device))
        return seconds, result, None
    from distributed import LocalCluster

    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=50) as cluster:
        startup = time.perf_counter() - t0
        spec = {"type": "dask", "address": cluster.scheduler_address, "max_in_flight": args.concurrency,
                "torch_threads": args.worker_threads}
        seconds, result = timed(config(data, spec, args, device))
    return seconds, result, startup


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--per-client", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10, help="local SGD steps per update (batch 10)")
    ap.add_argument("--updates", type=int, default=48, help="client updates per run")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Dask worker counts")
    ap.add_argument("--worker-threads", type=int, default=None,
                    help="torch threads per Dask worker (default: as many as here, bitwise equal to sequential)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script runs")
    args = ap.parse_args()
    if args.smoke:
        args.clients, args.per_client, args.concurrency, args.steps, args.updates = 8, 20, 2, 2, 4
    found = [f"CPU: {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} torch threads here"]
    rows = executors(args, found)
    print("found: " + "; ".join(found))
    print(f"Dask workers: one task thread each, torch threads {args.worker_threads or 'as here'}")
    print(f"LEAF CNN ({sum(p.numel() for p in leaf_cnn((1, 28, 28), 62).parameters()):,} parameters); "
          f"{args.clients} clients x {args.per_client} samples; FedAsync concurrency {args.concurrency}; "
          f"{args.steps} steps of batch 10 per update; {args.updates} updates per run")
    print(f"{'executor':22s} {'updates':>7s} {'wall s':>8s} {'updates/s':>9s} {'ratio to local sequential':>26s}  notes")
    with tempfile.TemporaryDirectory() as tmp:
        data = write_data(Path(tmp) / "leaf_like.npz", args.clients, args.per_client)
        reference = None
        for label, executor, device, workers in rows:
            seconds, result, startup = measure(label, executor, device, workers, data, args)
            updates = int((result.client_updates.status == "applied").sum())
            rate = updates / seconds
            reference = reference or (rate, result)
            same = np.array_equal(result.final_params, reference[1].final_params)
            notes = [f"cluster start-up {startup:.1f} s (not counted)" if startup is not None else "",
                     "bitwise equal to sequential" if same else "not bitwise equal to sequential",
                     f"ran: {result.manifest.get('executor')}"]
            print(f"{label:22s} {updates:7d} {seconds:8.2f} {rate:9.2f} {rate / reference[0]:26.2f}  "
                  + "; ".join(n for n in notes if n))


if __name__ == "__main__":
    main()
