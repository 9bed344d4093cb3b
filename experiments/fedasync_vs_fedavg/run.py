"""Flagship: FedAvg vs FedAsync vs FedBuff on one seed, as client-speed heterogeneity grows.

    python experiments/fedasync_vs_fedavg/run.py [--sigma 0.25 1.5] [--dry-run] [--out DIR] [--set KEY=VALUE ...]

For each spread sigma of the clients' lognormal speeds (``seconds_per_sample``, whose mean
config.yaml fixes at 10 ms per sample, so only the spread moves), runs the three
algorithms in the same world (same seed: same clients, links and per-task jitter) and writes
one run directory per (sigma, algorithm) under ``--out`` plus ``convergence.png``: test accuracy
against simulated time, one panel per sigma, one line per algorithm (client updates received
instead of accuracy in a dry run).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # writes a file, never opens a window
import matplotlib.pyplot as plt  # noqa: E402

import simfl  # noqa: E402
from simfl.plots import plot_convergence  # noqa: E402

HERE = Path(__file__).resolve().parent
ALGORITHMS = ("fedavg", "fedasync", "fedbuff")
DEFAULT_SIGMAS = (0.25, 1.5)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(HERE / "config.yaml"), help="the world (default: config.yaml here)")
    ap.add_argument("--sigma", type=float, nargs="+", default=list(DEFAULT_SIGMAS),
                    help=f"speed spreads to compare (default: {' '.join(map(str, DEFAULT_SIGMAS))})")
    ap.add_argument("--dry-run", action="store_true", help="timing only, no training")
    ap.add_argument("--out", default=str(HERE / "results"), help="output folder (default: results/ here)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config key, e.g. --set stop.sim_time_s=600")
    args = ap.parse_args(argv)

    out = Path(args.out)
    extra = ["train.enabled=false"] if args.dry_run else []
    y = "client_updates" if args.dry_run else "test_accuracy"
    fig, axes = plt.subplots(1, len(args.sigma), figsize=(5.2 * len(args.sigma), 4.0), sharey=True,
                             layout="constrained", squeeze=False)
    try:
        for ax, sigma in zip(axes[0], args.sigma):
            evals = {}
            for algorithm in ALGORITHMS:
                overrides = [*args.overrides, *extra, f"heterogeneity.compute.seconds_per_sample.sigma={sigma}",
                             f"algorithm.type={algorithm}"]
                config = simfl.load_config(args.config, overrides)
                result = simfl.run(config, out=out / f"sigma_{sigma:g}" / algorithm, overwrite=True)
                evals[algorithm] = result.evals
                m = result.manifest
                print(f"sigma {sigma:<5g} {algorithm:9s} {m['client_updates']:6d} client updates, "
                      f"{m['server_updates']:5d} versions"
                      + ("" if args.dry_run else f", final test accuracy {result.evals.test_accuracy.iloc[-1]:.3f}"))
            plot_convergence(evals, y=y, ax=ax, title=f"speed spread σ = {sigma:g} (mean fixed)")
    except simfl.SimflError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    fig.suptitle(f"FedAvg vs FedAsync vs FedBuff, same clients (seed {config.seed}, {config.data.num_clients} clients)")
    path = out / "convergence.png"
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
