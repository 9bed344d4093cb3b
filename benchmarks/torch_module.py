"""A user-defined module (``model.type: torch``) through the batched executor, against a plain PyTorch loop.

The model is the BatchNorm CNN of ``examples/own_model_and_data/models.py`` on digits. simfl
trains it with ``train.executor: batched`` (``torch.func.vmap`` over ``functional_call``) and,
with ``--sequential``, ``sequential`` for reference. The plain loop is what one would write by hand: the same module
from the same factory, ``torch.optim.SGD``, ``loss.backward()`` in train mode, the same
minibatches of the same clients for every task the batched run trained, one task after another.
Both run in this process, interleaved ``--repeat`` times (the fastest of each counts, which
keeps a busy machine from deciding the ratio), so the ratio is measured in one run on one
machine, with the same number of torch threads (``--threads``, default 1). Evaluation runs only
at the end (``eval.every_s: null``).

    python benchmarks/torch_module.py                       # BatchNorm CNN on digits, concurrency 32
    python benchmarks/torch_module.py --set model.kwargs.channels=[16,32] --set model.kwargs.hidden=64
    python benchmarks/torch_module.py --smoke               # tiny sizes (the test suite runs this)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import simfl
from simfl.data import load_data
from simfl.rng import SeedTree
from simfl.training.torchmodel import ModuleModel, build_module

sys.path.insert(0, str(Path(__file__).resolve().parent))
from training_overhead import batch_plans  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own_model_and_data"
BASE = {
    "data": {"dataset": "digits", "partition": "iid", "num_clients": 128},
    "model": {"type": "torch", "factory": "models:bn_cnn", "kwargs": {"channels": [8, 16], "hidden": 32}},
    "train": {"local_steps": 20, "batch_size": 10, "lr": 0.05},
    "algorithm": {"type": "fedasync"},
    "eval": {"every_s": None},
}


def plain_pytorch(config, tasks) -> tuple[tuple[float, float], int]:
    """Host seconds of the same SGD steps in a hand-written loop: ((wall, CPU) seconds, steps)."""
    tree = SeedTree(config.seed)
    data = load_data(config.data, tree)
    module, _ = build_module(config.model, data.info.input_shape, data.info.num_classes, tree, config.search_path)
    dtype = torch.float64 if config.train.dtype == "float64" else torch.float32
    module.to(dtype)
    start = torch.from_numpy(ModuleModel(module, data.info.input_shape, dtype, torch.device("cpu"), "m").init())
    state = [t for t in module.state_dict(keep_vars=True).values() if t.is_floating_point()]
    x = torch.from_numpy(data.x).to(dtype)
    y = torch.from_numpy(data.y)
    tr = config.train
    plans = batch_plans(config, data, tree, tasks)  # drawn outside the timed loop
    module.train()
    steps = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for idx, batch in plans:
        with torch.no_grad():  # every task starts from the same model and statistics
            offset = 0
            for t in state:
                t.copy_(start[offset : offset + t.numel()].view_as(t))
                offset += t.numel()
        opt = torch.optim.SGD(module.parameters(), lr=tr.lr, momentum=tr.momentum, weight_decay=tr.weight_decay)
        xs, ys = x[idx], y[idx]
        for s in range(0, len(idx), batch):
            opt.zero_grad()
            F.cross_entropy(module(xs[s : s + batch]), ys[s : s + batch]).backward()
            opt.step()
            steps += 1
    return (time.perf_counter() - t0, time.process_time() - c0), steps


def timed_run(config) -> tuple[tuple[float, float], simfl.RunResult]:
    """A simfl run and its (wall, CPU) host seconds."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = simfl.run(config, progress=False)
    return (time.perf_counter() - t0, time.process_time() - c0), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="config override KEY=VALUE")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[32])
    ap.add_argument("--repeat", type=int, default=3,
                    help="measurements of each, interleaved; the fastest counts (robust to a busy machine)")
    ap.add_argument("--sequential", action="store_true", help="also time simfl's sequential executor")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for all (default 1: on a shared machine extra threads measure the "
                         "scheduler, not the executor)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script runs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sim_time = "2" if args.smoke else "20"
    repeat = 1 if args.smoke else args.repeat
    print(f"BASE model: {BASE['model']}; overrides: {args.overrides}; torch threads: {args.threads}; "
          f"best of {repeat}")
    print("times: wall / CPU seconds of this process (with one thread, CPU time does not count other processes)")
    print(f"{'model':14s} {'conc':>4s} {'tasks':>6s} {'steps':>6s} {'batched s':>13s} {'plain s':>13s} "
          f"{'plain/batched wall':>18s} {'plain/batched CPU':>17s}" + (f" {'seq/batched CPU':>15s}" if args.sequential else ""))
    for conc in args.concurrency:
        overrides = [f"stop.sim_time_s={sim_time}", f"algorithm.concurrency={conc}", *args.overrides]
        config = simfl.config_from_dict(BASE, overrides, search_path=[EXAMPLE])
        timed_run(simfl.config_from_dict(BASE, [*overrides, "stop.sim_time_s=2.1"], search_path=[EXAMPLE]))  # warm-up
        batched, plain = [], []
        for _ in range(repeat):
            seconds, result = timed_run(config)
            if result.manifest.get("executor") != "batched":
                raise SystemExit(f"the batched executor fell back to sequential jobs: {result.manifest.get('executor')}")
            batched.append(seconds)
            applied = result.client_updates.query("status == 'applied'")
            tasks = list(zip(applied.client_id.tolist(), applied.task_index.tolist()))
            seconds, steps = plain_pytorch(config, tasks)
            plain.append(seconds)
        (bw, bc), (pw, pc) = (tuple(min(t[i] for t in runs) for i in (0, 1)) for runs in (batched, plain))
        line = (f"{config.model.factory:14s} {conc:4d} {len(tasks):6d} {steps:6d} {bw:6.2f} /{bc:6.2f} {pw:6.2f} /{pc:6.2f} "
                f"{pw / bw:17.1f}x {pc / bc:16.1f}x")
        if args.sequential:
            (_, sc), _ = timed_run(simfl.config_from_dict(BASE, [*overrides, "train.executor=sequential"],
                                                          search_path=[EXAMPLE]))
            line += f" {sc / bc:14.1f}x"
        print(line, flush=True)


if __name__ == "__main__":
    main()
