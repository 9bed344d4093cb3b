"""The ``simfl`` command line: ``run``, ``validate``, ``sweep``, ``report`` and ``plot``.

Exit codes: 0 success; 2 bad input (config, sweep file, flags, data files, output
directory), with one line on stderr naming the key and what is allowed; 130 interrupted
(what was recorded is kept: the run directory says ``interrupted``, a sweep resumes when
rerun); 1 a sweep left unfinished runs (a worker died), or an internal error (traceback).
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import datetime
from pathlib import Path
from typing import Sequence

from simfl.errors import SimflError

__all__ = ["main"]

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line and exits with 2."""

    def error(self, message: str):  # noqa: D102 - argparse hook
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="YAML config file")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (dotted path; VALUE is YAML), e.g. --set algorithm.type=fedavg; repeatable",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="simfl", description="Simulate federated learning under device heterogeneity.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p_run = sub.add_parser("run", help="run one experiment", description="Run one experiment from a YAML config.")
    _add_config_args(p_run)
    p_run.add_argument("--out", help="run directory to write (default: runs/<name>-<timestamp>)")
    p_run.add_argument("--dry-run", action="store_true", help="timing only: no training (train.enabled=false)")
    p_run.add_argument("--overwrite", action="store_true", help="allow --out to hold a previous run")
    p_run.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="progress bar (default: only on a terminal)",
    )
    p_run.set_defaults(func=_cmd_run)

    p_val = sub.add_parser("validate", help="check a config", description="Validate a config and its data source.")
    _add_config_args(p_val)
    p_val.add_argument("--dry-run", action="store_true", help="validate as a dry run (train.enabled=false)")
    p_val.set_defaults(func=_cmd_validate)

    p_sw = sub.add_parser(
        "sweep", help="run a sweep of configs",
        description="Run (or resume) a sweep: base config x grid (x zip) x seeds, one run directory each.",
    )
    p_sw.add_argument("sweep", help="sweep YAML file (base, grid, zip, seeds, targets)")
    p_sw.add_argument("--out", help="sweep directory (default: sweeps/<name>); rerunning resumes it")
    p_sw.add_argument("--workers", type=_positive_int, help="local worker processes (default: number of cores)")
    p_sw.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask distributed scheduler, e.g. tcp://host:8786")
    p_sw.add_argument("--dry-run", action="store_true", help="timing only: no training in any run")
    p_sw.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                      help="progress bar over runs (default: only on a terminal)")
    p_sw.set_defaults(func=_cmd_sweep)

    p_rep = sub.add_parser(
        "report", help="paired statistics of a sweep",
        description="Paired comparisons across seeds (same seed = same world) from a sweep's summary.",
    )
    p_rep.add_argument("dir", help="a sweep directory (or a run directory)")
    p_rep.add_argument("--by", default="algorithm.type", help="swept key whose values are compared (default: algorithm.type)")
    p_rep.add_argument("--reference", help="value of --by to compare against (default: fedavg, else the first)")
    p_rep.add_argument("--level", type=_level, default=0.95, help="confidence level (default: 0.95)")
    p_rep.add_argument("--horizon", type=float, metavar="SECONDS",
                       help="horizon τ of the restricted mean time to target (default: per world, the longest time "
                            "every method's Kaplan–Meier curve is defined at, at most the longest run)")
    p_rep.set_defaults(func=_cmd_report)

    p_plot = sub.add_parser(
        "plot", help="write PNG figures of a run or a sweep",
        description="Write the standard figures of a run directory or a sweep directory as PNG files.",
    )
    p_plot.add_argument("dir", help="a run directory or a sweep directory")
    p_plot.add_argument("--out", help="folder for the PNG files (default: DIR/plots)")
    p_plot.add_argument("--by", default="algorithm.type", help="sweep: swept key that gives one line per value (default: algorithm.type)")
    p_plot.set_defaults(func=_cmd_plot)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {value}")
    return value


def _version() -> str:
    from simfl import __version__

    return f"simfl {__version__}"


def _load(args):
    from simfl.config.load import load_config

    overrides = list(args.overrides)
    if getattr(args, "dry_run", False):
        overrides.append("train.enabled=false")
    return load_config(args.config, overrides)


def _cmd_validate(args) -> int:
    from simfl.runner import check_config

    config = _load(args)
    summary = check_config(config)
    alg = config.algorithm
    print(
        f"ok: {args.config}: {alg.type} on {config.data.dataset} with {config.data.num_clients} clients, "
        f"{config.model.type} model ({summary['parameters']} parameters, {summary['model_bytes']} bytes on the wire)"
    )
    return 0


def _fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


def _cmd_run(args) -> int:
    from simfl.runner import check_config, run

    config = _load(args)
    check_config(config)  # bad data paths or model/data mismatches fail before any directory exists
    out = args.out or Path("runs") / f"{config.name or 'run'}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    try:
        result = run(config, out=out, overwrite=args.overwrite, progress=args.progress)
    except KeyboardInterrupt:
        print(f"interrupted: {out} (status: interrupted)", file=sys.stderr)
        return EXIT_INTERRUPTED
    m = result.manifest
    acc = result.evals["test_accuracy"].iloc[-1] if len(result.evals) else float("nan")
    print(
        f"{m['status']}: {out} — stopped by {m['stop_reason']} at {m['sim_end_s']:.4g} simulated s; "
        f"{m['client_updates']} client updates, {m['server_updates']} server versions, "
        f"final accuracy {_fmt(acc)}; {m['host_seconds']:.3g} host s"
    )
    return EXIT_INTERRUPTED if m["status"] == "interrupted" else 0


def _cmd_sweep(args) -> int:
    from simfl.sweep import SweepIncomplete, run_sweep

    if args.workers and args.scheduler:
        raise SimflError("--workers and --scheduler exclude each other: local processes or a Dask cluster")
    try:
        outcome = run_sweep(args.sweep, out=args.out, workers=args.workers, scheduler=args.scheduler,
                            dry_run=args.dry_run, progress=args.progress)
    except SweepIncomplete as exc:
        print(f"simfl sweep: {exc}; what finished is kept, rerun the same command to resume", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("simfl sweep: interrupted; what finished is kept, rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    counts = ", ".join(f"{n} {status}" for status, n in sorted(outcome.counts.items()))
    print(f"{outcome.path}: {outcome.planned} runs ({outcome.ran} run now, {outcome.skipped} already complete): {counts}")
    print(f"summary: {outcome.path / 'summary.parquet'}")
    return 0 if outcome.counts.get("complete", 0) == outcome.planned else 1


def _cmd_report(args) -> int:
    from simfl.results.report import report_text

    print(report_text(args.dir, by=args.by, reference=args.reference, level=args.level, horizon=args.horizon))
    return 0


def _cmd_plot(args) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    from simfl.plots import run_figures, sweep_figures
    from simfl.results import busy_intervals, load_sweep_tables, offline_intervals, swept_columns
    from simfl.results.rundir import read_manifest

    d = Path(args.dir)
    if (d / "summary.parquet").is_file():
        tables = load_sweep_tables(d, ["evals", "client_updates", "clients"])
        summary = tables["summary"]
        targets = [float(c[len("time_to_"):-2]) for c in summary.columns if c.startswith("time_to_")]
        swept = swept_columns(summary)
        if args.by not in swept:
            raise SimflError(f"--by {args.by}: not a swept key of this sweep; swept keys: {', '.join(swept) or 'none'}")
        events = _shared_drift(d)
        figures = sweep_figures(summary, tables["evals"], tables["client_updates"], tables["clients"], swept,
                                targets, by=args.by, events=events)
    elif read_manifest(d) is not None:
        from simfl.runner import load_run

        result = load_run(d)
        end = result.manifest.get("sim_end_s") or float(result.evals.sim_time_s.max())
        figures = run_figures(result, offline=offline_intervals(result.config, end),
                              busy=busy_intervals(result.config, end))
    else:
        raise SimflError(f"{d}: neither a sweep directory (summary.parquet) nor a run directory (manifest.json)")
    out = Path(args.out) if args.out else d / "plots"
    out.mkdir(parents=True, exist_ok=True)
    for name, fig in figures.items():
        fig.savefig(out / f"{name}.png", dpi=110)
        plt.close(fig)
        print(out / f"{name}.png")
    return 0


def _shared_drift(sweep_dir: Path):
    """Drift events of a sweep, when every run has the same ones (else None)."""
    from simfl.config.load import config_from_dict, read_yaml
    from simfl.results import drift_times

    found = set()
    for cfg in sorted((sweep_dir / "runs").glob("*/config.yaml")):
        found.add(tuple(drift_times(config_from_dict(read_yaml(cfg)))))
        if len(found) > 1:
            return None
    return list(found.pop()) if found else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``simfl`` console script."""
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except SimflError as exc:
        for line in str(exc).splitlines():
            print(f"simfl {args.command}: error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
