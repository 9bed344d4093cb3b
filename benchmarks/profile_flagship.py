"""Where the time of one flagship run goes: data, simulation engine, training, evaluation, I/O.

Profiles ``simfl.run`` of the flagship world (``configs/flagship.yaml``, FedAsync by default)
with cProfile and splits its host time by the entry points that own each part; the engine's
share is what remains of the simulation loop once training and evaluation are taken out.
Then prints the functions with the most own time.

    python benchmarks/profile_flagship.py [--set algorithm.type=fedavg] [--top 15]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time

import simfl

#: (label, file fragment, function name) of the entry points whose cumulative time is reported
PARTS = [
    ("data: generate and partition", "simfl/data/federated.py", "load_data"),
    ("training: local SGD jobs", "simfl/training/trainer.py", "results"),
    ("evaluation: test set", "simfl/training/trainer.py", "evaluate"),
    ("simulation loop (incl. training, evaluation)", "simfl/engine/simulation.py", "run"),
    ("writing the run directory", "simfl/results/rundir.py", "write_table"),
]


def cumulative(stats: pstats.Stats, fragment: str, name: str) -> float:
    return sum(v[3] for (f, _, fn), v in stats.stats.items() if fn == name and fragment in f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/flagship.yaml")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    config = simfl.load_config(args.config, args.overrides)
    profile = cProfile.Profile()
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        profile.enable()
        result = simfl.run(config, out=f"{out}/run", progress=False)
        profile.disable()
        wall = time.perf_counter() - t0
    stats = pstats.Stats(profile)
    total = cumulative(stats, "simfl/running/runner.py", "run")
    parts = {label: cumulative(stats, frag, fn) for label, frag, fn in PARTS}
    loop = parts["simulation loop (incl. training, evaluation)"]
    engine = loop - parts["training: local SGD jobs"] - parts["evaluation: test set"]
    m = result.manifest
    print(f"{config.name} / {config.algorithm.type}: {m['client_updates']} client updates, "
          f"{m['server_updates']} versions, {len(result.evals)} evaluations; {wall:.2f} host s "
          f"({total:.2f} s under the profiler)")
    for label, seconds in parts.items():
        print(f"  {label:48s} {seconds:7.3f} s  {100 * seconds / total:5.1f}%")
    print(f"  {'engine (loop minus training and evaluation)':48s} {engine:7.3f} s  {100 * engine / total:5.1f}%")
    rest = total - parts["data: generate and partition"] - loop - parts["writing the run directory"]
    print(f"  {'other: set-up, first import of torch':48s} {rest:7.3f} s  {100 * rest / total:5.1f}%")
    print(f"\ntop {args.top} functions by own time:")
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
