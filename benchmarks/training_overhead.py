"""Training speed: a simfl training run against a plain PyTorch loop doing the same SGD steps.

The plain loop is what one would write by hand: an ``nn.Module`` of the same architecture,
``torch.optim.SGD``, ``loss.backward()``, the same minibatches of the same clients for every
task the simulation trained, one client after another. Both run in this process, one after
the other, so each ratio is measured in one run on one machine. Evaluation runs only at the
end of the simfl run (``eval.every_s: null``), so the ratio measures everything around the
SGD steps (the simulation, job bookkeeping, data gathering) and how the steps are executed.

    python benchmarks/training_overhead.py                   # the matrix of the performance issue
    python benchmarks/training_overhead.py --config configs/flagship.yaml --set train.executor=sequential
    python benchmarks/training_overhead.py --smoke           # tiny sizes (the test suite runs this)
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

import simfl
from simfl.data import load_data
from simfl.rng import Purpose, SeedTree
from simfl.scenario.population import samples_per_task
from simfl.training import batch_plan, build_model

#: dataset overrides of the matrix: synthetic (FedProx Synthetic(1,1)) and digits
DATASETS = {
    "synthetic": [],
    "digits": ["data.dataset=digits", "data.partition=iid"],
}


def batch_plans(config, data, tree: SeedTree, tasks) -> list[tuple[torch.Tensor, int]]:
    """Per task ``(client, k)``: the sample indices simfl's job trains on, in order, and its batch size."""
    samples = samples_per_task(config.train, data.client_sizes)
    plans = []
    for client, k in tasks:
        lo, hi = data.offsets[client], data.offsets[client + 1]
        idx = torch.from_numpy(batch_plan(hi - lo, int(samples[client]), tree.generator(Purpose.TRAIN, client, k)) + lo)
        plans.append((idx, min(config.train.batch_size, hi - lo)))
    return plans


def plain_pytorch(config, tasks) -> tuple[float, int]:
    """Host seconds of the same SGD steps in a hand-written loop; returns (seconds, steps)."""
    tree = SeedTree(config.seed)
    data = load_data(config.data, tree)
    flat = build_model(config.model, data.info.input_shape, data.info.num_classes)
    module = flat.module()
    dtype = torch.float64 if config.train.dtype == "float64" else torch.float32
    module.to(dtype)
    x = torch.from_numpy(data.x).to(dtype)
    y = torch.from_numpy(data.y)
    tr = config.train
    plans = batch_plans(config, data, tree, tasks)  # drawn outside the timed loop
    start_params = torch.nn.utils.parameters_to_vector(module.parameters()).detach().clone()
    steps = 0
    t0 = time.perf_counter()
    for idx, batch in plans:
        torch.nn.utils.vector_to_parameters(start_params, module.parameters())
        opt = torch.optim.SGD(module.parameters(), lr=tr.lr, momentum=tr.momentum, weight_decay=tr.weight_decay)
        xs, ys = x[idx], y[idx]
        for s in range(0, len(idx), batch):
            opt.zero_grad()
            loss = F.cross_entropy(module(xs[s : s + batch]), ys[s : s + batch])
            loss.backward()
            opt.step()
            steps += 1
    return time.perf_counter() - t0, steps


def measure(config) -> dict:
    """One simfl run and the plain loop over the tasks it trained."""
    t0 = time.perf_counter()
    result = simfl.run(config, progress=False)
    simfl_s = time.perf_counter() - t0
    applied = result.client_updates.query("status == 'applied'")
    tasks = list(zip(applied.client_id.tolist(), applied.task_index.tolist()))
    plain_s, steps = plain_pytorch(config, tasks)
    return {"tasks": len(tasks), "steps": steps, "simfl_s": simfl_s, "plain_s": plain_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="one config to measure instead of the matrix")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--concurrency", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script runs")
    args = ap.parse_args()
    common = ["eval.every_s=null", "data.num_clients=128", "algorithm.type=fedasync",
              "stop.sim_time_s=" + ("3" if args.smoke else "60"), *args.overrides]
    if args.config:
        cases = [(args.config, "", "", [])]
    else:
        cases = [(None, ds, model, [*extra, f"model.type={model}"])
                 for ds, extra in DATASETS.items() for model in ("logreg", "mlp")]
    print(f"{'case':26s} {'conc':>4s} {'tasks':>6s} {'steps':>7s} {'simfl s':>8s} {'plain s':>8s} {'plain/simfl':>11s}")
    for path, ds, model, extra in cases:
        for conc in args.concurrency if not args.config else [None]:
            over = [*common, *extra] + ([f"algorithm.concurrency={conc}"] if conc else [])
            config = simfl.load_config(path, over)
            m = measure(config)
            name = f"{ds}/{model} {config.train.executor}" if ds else f"{path} {config.train.executor}"
            print(f"{name:26s} {config.algorithm.concurrency:4d} {m['tasks']:6d} {m['steps']:7d} "
                  f"{m['simfl_s']:8.3f} {m['plain_s']:8.3f} {m['plain_s'] / m['simfl_s']:10.1f}x")


if __name__ == "__main__":
    main()
