"""Executors: client updates per host second of the LEAF CNN on each executor, and the ratio to
the local executor measured in the same run.

The LEAF CNN (Caldas et al. 2018, FEMNIST): conv 5x5 (32) → ReLU → max-pool 2 → conv 5x5 (64) →
ReLU → max-pool 2 → dense 2048 → ReLU → dense (62 classes), on 28x28 one-channel inputs: 6.6 M
parameters, 26 MB per model in float32. The data are random images of that shape (speed does
not depend on pixel values), written to a temporary ``.npz`` (``data.dataset: arrays``).

Each executor runs the same FedAsync run (same tasks, same updates: the final models are
compared); its host wall time covers the whole ``simfl.run`` (the Dask cluster is started
before and not counted). Best of ``--repeat`` interleaved measurements. Executors: local
sequential, local batched (``torch.func.vmap``), Dask with 1 and 2 worker processes (one task
thread each; as many torch threads as this process, which is bitwise equal to sequential, or
one), and ``cuda`` / every GPU (``devices``) when CUDA is present (the script says what it found and skips what is absent).

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
    """(label, executor, device, workers, torch threads per worker) of every executor measured here."""
    rows = [("local sequential", "sequential", "cpu", 0, None), ("local batched", "batched", "cpu", 0, None)]
    for n in args.workers:
        for threads in args.worker_threads:
            label = f"dask {n} worker{'s' * (n > 1)}, " + (f"{threads} torch thr" if threads else "torch thr as here")
            rows.append((label, "dask", "cpu", n, threads))
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        found.append(f"CUDA: {count} device(s), {torch.cuda.get_device_name(0)}")
        rows.append(("cuda batched", "batched", "cuda", 0, None))
        if count > 1:
            rows.append((f"devices ({count} GPUs)", {"type": "devices"}, "cuda", 0, None))
    else:
        found.append("CUDA: absent (torch.cuda.is_available() is false): cuda and devices skipped")
    return rows


def measure(row, data, args):
    """Host seconds of the run and its tables (a Dask cluster is started first, not counted)."""
    label, executor, device, workers, threads = row
    if workers == 0:
        seconds, result = timed(config(data, executor, args, device))
        return seconds, result
    from distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=50) as cluster:
        spec = {"type": "dask", "address": cluster.scheduler_address, "max_in_flight": args.concurrency,
                "torch_threads": threads}
        return timed(config(data, spec, args, device))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--per-client", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10, help="local SGD steps per update (batch 10)")
    ap.add_argument("--updates", type=int, default=32, help="client updates per run")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Dask worker counts")
    ap.add_argument("--worker-threads", type=int, nargs="+", default=[0, 1],
                    help="torch threads per Dask worker (0: as many as here, bitwise equal to sequential)")
    ap.add_argument("--repeat", type=int, default=2,
                    help="measurements of each, interleaved; the fastest counts (robust to a busy machine)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script runs")
    args = ap.parse_args()
    if args.smoke:
        args.clients, args.per_client, args.concurrency, args.steps, args.updates = 8, 20, 2, 2, 4
        args.worker_threads, args.repeat = [0], 1
    args.worker_threads = [t or None for t in args.worker_threads]
    found = [f"CPU: {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} torch threads here"]
    rows = executors(args, found)
    print("found: " + "; ".join(found))
    print(f"LEAF CNN ({sum(p.numel() for p in leaf_cnn((1, 28, 28), 62).parameters()):,} parameters); "
          f"{args.clients} clients x {args.per_client} samples; FedAsync concurrency {args.concurrency}; "
          f"{args.steps} steps of batch 10 per update; {args.updates} updates per run; best of {args.repeat}, "
          "interleaved; Dask: one task thread per worker, cluster start-up not counted")
    with tempfile.TemporaryDirectory() as tmp:
        data = write_data(Path(tmp) / "leaf_like.npz", args.clients, args.per_client)
        best: dict[str, tuple[float, simfl.RunResult]] = {}
        for _ in range(args.repeat):
            for row in rows:
                seconds, result = measure(row, data, args)
                if row[0] not in best or seconds < best[row[0]][0]:
                    best[row[0]] = (seconds, result)
    report(rows, best)


def report(rows, best) -> None:
    """One line per executor: updates per second and its ratio to local sequential."""
    print(f"{'executor':28s} {'updates':>7s} {'wall s':>8s} {'updates/s':>9s} {'ratio to local sequential':>26s}  notes")
    ref_seconds, ref = best[rows[0][0]]
    ref_rate = int((ref.client_updates.status == "applied").sum()) / ref_seconds
    for label, *_ in rows:
        seconds, result = best[label]
        updates = int((result.client_updates.status == "applied").sum())
        same = np.array_equal(result.final_params, ref.final_params)
        print(f"{label:28s} {updates:7d} {seconds:8.2f} {updates / seconds:9.2f} {updates / seconds / ref_rate:26.2f}  "
              f"{'bitwise equal to sequential' if same else 'not bitwise equal to sequential'}; "
              f"ran: {result.manifest.get('executor')}")


if __name__ == "__main__":
    main()
