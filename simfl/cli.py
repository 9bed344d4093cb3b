"""The ``simfl`` command line: ``run``, ``validate``, ``sweep``, ``report``, ``plot`` and ``partition``.

Exit codes: 0 success; 2 bad input (config, sweep file, flags, data files, output
directory, a full disk), with one line on stderr naming the key and what is allowed; 3 the
run diverged (NaN or inf in the model: status ``diverged``, tables kept); 130 interrupted by
Ctrl-C (SIGINT) or SIGTERM (what ``kill``, ``timeout`` and cluster schedulers send), at any
moment from start-up on (what was recorded is kept: the run directory says ``interrupted``, a
sweep resumes when rerun); 1 a sweep left unfinished runs (a worker died), or an internal error
(traceback).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Sequence

from simfl import interrupts
from simfl.errors import SimflError

__all__ = ["main"]

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
#: A write the machine refused (a full disk, a read-only folder).
EXIT_FAILED = 1
#: ``simfl plot --format`` values (the same as :data:`simfl.plots.style.FORMATS`; not imported
#: from there so that the command line starts without matplotlib).
PLOT_FORMATS = ("png", "pdf", "svg")
EXIT_INTERRUPTED = 130
#: ``simfl plot --dpi`` bounds (a figure at 10^5 dpi would need terabytes of memory).
DPI_RANGE = (10, 2400)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line and exits with 2."""

    def error(self, message: str):  # noqa: D102 - argparse hook
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_config_args(p: argparse.ArgumentParser, optional: bool = False) -> None:
    if optional:
        p.add_argument("config", nargs="?", help="YAML config file (omit with --resume)")
    else:
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

    _add_run_command(sub)
    _add_validate_command(sub)
    _add_sweep_command(sub)
    _add_report_command(sub)
    _add_plot_command(sub)
    _add_partition_command(sub)
    _add_docs_command(sub)
    return parser


def _add_docs_command(sub: argparse._SubParsersAction) -> None:
    """``simfl docs``: the configuration reference, a kind's names, or one component's keys."""
    from simfl import registry

    p_docs = sub.add_parser(
        "docs", help="print the keys of the config, or of one component (a plugin too)",
        description="Print every config key (no argument), the names of a kind of component (KIND), or one "
                    "component's keys (KIND NAME), e.g. `simfl docs staleness my_rules:LinearCutoff`. KIND is one "
                    f"of {', '.join(registry.KINDS)}, or the config key naming it (e.g. algorithm.staleness).",
    )
    p_docs.add_argument("kind", nargs="?", help="the kind of component, or the config key that names it")
    p_docs.add_argument("name", nargs="?", help="a built-in name or a plugin's import path package.module:Name")
    p_docs.add_argument("--dir", default=".", metavar="DIR",
                        help="folder searched first for a plugin's module, like a config's folder (default: the "
                             "current folder), then the Python path")
    p_docs.set_defaults(func=_cmd_docs)


def _add_run_command(sub: argparse._SubParsersAction) -> None:
    """``simfl run``: run one experiment, or resume one."""
    p_run = sub.add_parser(
        "run", help="run one experiment",
        description="Run one experiment from a YAML config, or continue an interrupted one (--resume DIR).",
    )
    _add_config_args(p_run, optional=True)
    p_run.add_argument("--out", help="run directory to write (default: runs/<name>-<timestamp>)")
    p_run.add_argument(
        "--resume", metavar="DIR",
        help="continue the interrupted, killed or preempted run in DIR from its last checkpoint "
             "(run.checkpoint_every_s; from the start if it has none): the tables equal an uninterrupted run's",
    )
    p_run.add_argument("--dry-run", action="store_true", help="timing only: no training (train.enabled=false)")
    p_run.add_argument("--overwrite", action="store_true", help="allow --out to hold a previous run")
    p_run.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="progress bar (default: only on a terminal)",
    )
    p_run.set_defaults(func=_cmd_run)


def _add_validate_command(sub: argparse._SubParsersAction) -> None:
    """``simfl validate``: check a config and its data source."""
    p_val = sub.add_parser("validate", help="check a config", description="Validate a config and its data source.")
    _add_config_args(p_val)
    p_val.add_argument("--dry-run", action="store_true", help="validate as a dry run (train.enabled=false)")
    p_val.set_defaults(func=_cmd_validate)


def _add_sweep_command(sub: argparse._SubParsersAction) -> None:
    """``simfl sweep``: run or resume a sweep."""
    p_sw = sub.add_parser(
        "sweep", help="run a sweep of configs",
        description="Run (or resume) a sweep: base config x grid (x zip) x seeds, one run directory each.",
    )
    p_sw.add_argument("sweep", help="sweep YAML file (base, grid, zip, seeds, targets)")
    p_sw.add_argument("--out", help="sweep directory (default: sweeps/<name>); rerunning resumes it")
    p_sw.add_argument("--workers", type=_positive_int, help="local worker processes (default: number of cores)")
    p_sw.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask distributed scheduler, e.g. tcp://host:8786")
    p_sw.add_argument("--dry-run", action="store_true", help="timing only: no training in any run")
    p_sw.add_argument("--replace-sweep", action="store_true",
                      help="allow --out to hold another sweep: it becomes this sweep's folder (its summary is "
                           "rewritten; run directories are kept and reused). Without it, a folder holding another "
                           "sweep is refused")
    p_sw.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                      help="progress bar over runs (default: only on a terminal)")
    p_sw.set_defaults(func=_cmd_sweep)


def _add_report_command(sub: argparse._SubParsersAction) -> None:
    """``simfl report``: paired statistics of a sweep."""
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
    _add_targets_arg(p_rep)
    p_rep.set_defaults(func=_cmd_report)


def _add_plot_command(sub: argparse._SubParsersAction) -> None:
    """``simfl plot``: write the figures of a run, a sweep or a label-count table."""
    p_plot = sub.add_parser(
        "plot", help="write the figures of a run or a sweep",
        description="Write the standard figures of a run directory or a sweep directory (PNG, PDF or SVG). "
                    "A sweep that varies the algorithm and a heterogeneity key gets a headline figure per target; "
                    "a run that trained also gets the client x label heatmap; a label-count table of simfl "
                    "partition (FILE.parquet) gets its heatmap (beside it by default).",
    )
    p_plot.add_argument("dir", help="a run directory, a sweep directory, or a label-count table (.parquet) of simfl partition")
    p_plot.add_argument("--out", help="folder for the figure files (default: DIR/plots)")
    p_plot.add_argument("--replace", action="store_true",
                        help="allow replacing files in --out that simfl did not write (without it, only figures "
                             "simfl wrote there, as recorded in its .simfl-figures.json, are replaced)")
    p_plot.add_argument("--by", default="algorithm.type",
                        help="sweep: swept key that gives one colour per value (default: algorithm.type)")
    p_plot.add_argument("--reference", help="sweep: value of --by the others are compared with (default: fedavg, "
                                            "else the first)")
    p_plot.add_argument("--format", dest="fmt", choices=PLOT_FORMATS, default="png", help="file format (default: png)")
    p_plot.add_argument("--dpi", type=_dpi, default=200,
                        help=f"resolution of PNG files, {DPI_RANGE[0]} to {DPI_RANGE[1]} (default: 200)")
    p_plot.add_argument("--size", choices=("column", "text"),
                        help="figures as wide as a journal column (3.3 in) or the full text (6.75 in), "
                             "ticks at 7 pt or more (default: each figure's own size)")
    p_plot.add_argument("--style", default="paper",
                        help="paper (default), default (matplotlib's), a matplotlib style name or a .mplstyle file")
    p_plot.add_argument("--label", dest="labels", action="append", default=[], metavar="KEY=TEXT",
                        help="text for a config key or method in the figures, e.g. "
                             "--label heterogeneity.compute.seconds_per_sample.sigma='speed spread σ'; repeatable")
    p_plot.add_argument("--level", type=_level, default=0.95, help="confidence level of intervals (default: 0.95)")
    p_plot.add_argument("--horizon", type=float, metavar="SECONDS",
                        help="sweep: horizon τ of the censoring-aware time to target (default: per world)")
    p_plot.add_argument("--budget", type=float, metavar="SECONDS",
                        help="sweep: time budget of the headline's accuracy panel (default: half the shortest run)")
    _add_targets_arg(p_plot)
    p_plot.set_defaults(func=_cmd_plot)


def _add_partition_command(sub: argparse._SubParsersAction) -> None:
    """``simfl partition``: per-client label counts of a config."""
    p_part = sub.add_parser(
        "partition", help="what each client holds: per-client label counts",
        description=(
            "Build a config's clients' data and count the labels of each client's training split "
            "(held-out samples excluded, as a run trains). Prints clients, client sizes "
            "(min / median / max) and mean labels per client; with --out, writes the counts "
            "(columns client_id, client_name, label, count; one row per client and label present), which "
            "'simfl plot FILE.parquet' draws as a client x label heatmap."
        ),
    )
    _add_config_args(p_part)
    p_part.add_argument("--out", metavar="FILE.parquet", help="write the label counts to this parquet file")
    p_part.add_argument("--replace", action="store_true",
                        help="allow --out to replace a file simfl did not write (without it, only a label-count "
                             "table simfl wrote is replaced)")
    p_part.set_defaults(func=_cmd_partition)

def _add_targets_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--targets", nargs="+", type=_target, metavar="ACC",
                   help="accuracy targets in place of the sweep file's, e.g. --targets 0.5 0.65: time to each is "
                        "recomputed from the runs' stored evaluations (nothing is rerun or written); on a run "
                        "directory, its time to each")
    p.add_argument("--relative-targets", nargs="+", type=_target, metavar="FRACTION",
                   help="sweep: targets relative to each world's best, e.g. --relative-targets 0.9: 90%% of the best "
                        "accuracy a complete run reached with the same seed and other swept keys (columns "
                        "time_to_rel0.9_s), added to the targets")
    p.add_argument("--target-rule", choices=("sustained", "first"),
                   help="when a run has reached a target, in place of the sweep's rule (times recomputed likewise): "
                        "sustained = the first evaluation after which accuracy stays >= it (for the rest of the run, "
                        "or --target-window evaluations), first = the first evaluation >= it (default: the sweep's "
                        "own; a run directory: sustained)")
    p.add_argument("--target-window", type=_positive_int, metavar="K",
                   help="with sustained: accuracy stays >= the target for K evaluations, that one included "
                        "(a crossing fewer than K evaluations before the run's end does not count)")


def _target_rule(args):
    """The ``--target-rule`` / ``--target-window`` flags as a rule (None: neither given)."""
    if args.target_rule is None and args.target_window is None:
        return None
    from simfl.results.targetrule import TargetRule

    if args.target_rule == "first" and args.target_window is not None:
        raise SimflError("--target-window: only with --target-rule sustained (a first crossing is one evaluation)")
    return TargetRule(type=args.target_rule or "sustained", window=args.target_window)


def _target(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an accuracy in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected an accuracy in (0, 1], got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _dpi(text: str) -> int:
    lo, hi = DPI_RANGE
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer from {lo} to {hi}, got {text!r}") from None
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"expected an integer from {lo} to {hi}, got {value}")
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
    from simfl.version import __version__

    return f"simfl {__version__}"


def _load(args):
    from simfl.config.load import load_config

    overrides = list(args.overrides)
    if getattr(args, "dry_run", False):
        _check_enabled(args.config, overrides)  # the override below would hide a bad value
        overrides.append("train.enabled=false")
    return load_config(args.config, overrides)


def _check_enabled(path, overrides: list[str]) -> None:
    """``train.enabled`` as the file and ``--set`` give it must be true or false, before ``--dry-run`` replaces it."""
    from simfl.config.load import parse_override, read_yaml

    raw = read_yaml(path) if path else {}
    value = raw.get("train", {}).get("enabled", False) if isinstance(raw, dict) and isinstance(raw.get("train"), dict) \
        else False
    for text in overrides:
        key, new = parse_override(text)
        value = new if key == "train.enabled" else value
    if not isinstance(value, bool):
        raise SimflError(f"train.enabled: {value!r} is not true or false (--dry-run sets it to false only in a "
                         "valid config)")


def _cmd_validate(args) -> int:
    from simfl.running.world import check_components, check_config

    config = _load(args)
    summary = check_config(config)
    check_components(config)  # a plugin whose constructor raises fails here, not at run time
    alg = config.algorithm
    print(
        f"ok: {args.config}: {alg.type} on {config.data.dataset} with {config.data.num_clients} clients, "
        f"{config.model.type} model ({summary['parameters']} parameters, {summary['model_bytes']} bytes on the wire)"
    )
    return 0


def _fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


def _resume_config(args):
    """The config of the run to continue (``--resume DIR``): the one it recorded."""
    from simfl.results.rundir import read_manifest
    from simfl.results.runresult import read_run_config

    if args.config or args.overrides or args.dry_run or args.out or args.overwrite:
        raise SimflError("--resume DIR continues a run with its own config: give no CONFIG, --set, --dry-run, --out "
                         "or --overwrite")
    d = Path(args.resume)
    manifest = read_manifest(d)
    if manifest is None:
        raise SimflError(f"--resume {d}: not a simfl run directory (no readable manifest.json)")
    if manifest.get("status") in ("complete", "diverged"):
        raise SimflError(f"--resume {d}: the run is already over (status {manifest['status']})")
    return read_run_config(d, plugins=True), d  # imports from the run directory and the Python path only


def _cmd_run(args) -> int:
    from simfl.running.runner import run

    if args.resume:
        config, out = _resume_config(args)
    else:
        if not args.config:
            raise SimflError("give a CONFIG file to run, or --resume DIR to continue a run")
        config = _load(args)  # run() checks the data and sizes before any directory exists
        out = args.out or Path("runs") / f"{config.name or 'run'}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    try:
        result = run(config, out=out, overwrite=args.overwrite, progress=args.progress, resume=bool(args.resume))
    except KeyboardInterrupt:
        print(f"interrupted: {out} (status: interrupted)", file=sys.stderr)
        return EXIT_INTERRUPTED
    m = result.manifest
    if m["status"] == "diverged":
        print(f"diverged: {out} — {m['diverged_because']} at {m['diverged_at_s']:.4g} simulated s (server version "
              f"{m['diverged_version']}); the run stopped there, its tables are kept; {m['host_seconds']:.3g} host s")
        return EXIT_DIVERGED
    if m["status"] == "failed":
        print(f"failed: {out} — {m.get('error')}", file=sys.stderr)
        return 1
    split = result.config.eval.split
    column = f"{split}_accuracy"
    acc = result.evals[column].iloc[-1] if len(result.evals) and column in result.evals else float("nan")
    resumed = f" (resumed at {m['resumed_from_s']:.4g} s)" if "resumed_from_s" in m else ""
    print(
        f"{m['status']}: {out}{resumed} — stopped by {m['stop_reason']} at {m['sim_end_s']:.4g} simulated s; "
        f"{m['client_updates']} client updates, {m['server_updates']} server versions, "
        f"final {split} accuracy {_fmt(acc)}; {m['host_seconds']:.3g} host s"
    )
    return EXIT_INTERRUPTED if m["status"] == "interrupted" else 0


def _cmd_sweep(args) -> int:
    from simfl.sweep import SweepIncomplete, run_sweep

    if args.workers and args.scheduler:
        raise SimflError("--workers and --scheduler exclude each other: local processes or a Dask cluster")
    try:
        outcome = run_sweep(args.sweep, out=args.out, workers=args.workers, scheduler=args.scheduler,
                            dry_run=args.dry_run, progress=args.progress, replace_sweep=args.replace_sweep)
    except SweepIncomplete as exc:
        print(f"simfl sweep: {exc}; what finished is kept, rerun the same command to resume", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("simfl sweep: interrupted; what finished is kept, rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    counts = ", ".join(f"{n} {status}" for status, n in sorted(outcome.counts.items()))
    if outcome.tuning is not None:
        stopped = int(outcome.tuning.stopped_early.sum()) if len(outcome.tuning) else 0
        print(f"tuning: {len(outcome.tuning)} trials ({outcome.trials_ran} trial runs now; {stopped} trials stopped early): "
              f"{outcome.path / 'tuning.parquet'} (simfl report {outcome.path}: the protocol and the chosen settings)")
    changed = f", {outcome.recomputed} of them because their files changed" if outcome.recomputed else ""
    print(f"{outcome.path}: {outcome.planned} runs ({outcome.ran} run now{changed}, {outcome.skipped} already complete): "
          f"{counts}")
    print(f"summary: {outcome.path / 'summary.parquet'}")
    return 0 if outcome.counts.get("complete", 0) == outcome.planned else 1


def _results_are_data(command):
    """``command`` reads a run or sweep directory: nothing it names is imported while it runs
    (:func:`simfl.registry.no_imports`): a results folder received from someone runs no code."""
    import functools

    @functools.wraps(command)
    def reading(args) -> int:
        from simfl.registry import no_imports

        with no_imports():
            return command(args)

    return reading


@_results_are_data
def _cmd_report(args) -> int:
    from simfl.results.report import report_text

    print(report_text(args.dir, by=args.by, reference=args.reference, level=args.level, horizon=args.horizon,
                      targets=args.targets, rule=_target_rule(args), relative_targets=args.relative_targets))
    return 0


@_results_are_data
def _cmd_plot(args) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    from simfl.plots.labels import label_context, sweep_axis_labels
    from simfl.plots.style import size_context, style_context
    from simfl.results.rundir import read_manifest

    labels = _plot_labels(args)
    # a swept distribution parameter's axis says what the sweep held fixed (read from its manifest)
    with style_context(args.style), size_context(args.size), \
            label_context(labels, defaults=sweep_axis_labels(args.dir)):
        d = Path(args.dir)
        if d.is_file():
            figures = _label_table_figures(d)
        elif (d / "summary.parquet").is_file():
            figures = _sweep_dir_figures(d, args)
        elif read_manifest(d) is not None:
            figures = _run_dir_figures(d, args)
        else:
            raise SimflError(f"{d}: neither a sweep directory (summary.parquet) nor a run directory (manifest.json)")
        out = Path(args.out) if args.out else (d.parent if d.is_file() else d / "plots")
        _write_figures(figures, out, args, own_folder=not args.out and not d.is_file())
    return 0


def _plot_labels(args) -> dict[str, str]:
    """The ``--label KEY=TEXT`` flags as a dict, once ``--style`` and ``--out`` are checked too."""
    from simfl.plots.style import resolve_style

    labels = {}
    for item in args.labels:
        key, sep, text = item.partition("=")
        if not sep or not key or not text:
            raise SimflError(f"--label {item}: expected KEY=TEXT, e.g. --label algorithm.concurrency='tasks in flight'")
        labels[key.strip()] = text
    try:
        resolve_style(args.style)
    except ValueError as exc:
        raise SimflError(f"--style {args.style}: {exc}") from None
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise SimflError(f"--out {args.out}: exists and is not a folder; give a folder for the figure files")
    return labels


def _label_table_figures(path: Path) -> dict:
    """``{stem: heatmap}`` of a label-count table written by ``simfl partition``."""
    from simfl.data import read_label_counts
    from simfl.plots import partition_heatmap

    if path.suffix != ".parquet":
        raise SimflError(f"{path}: expected a run directory, a sweep directory or a label-count table (.parquet)")
    return {path.stem: partition_heatmap(read_label_counts(path))}


def _sweep_dir_figures(d: Path, args) -> dict:
    """The figures of the sweep directory ``d`` (targets or a rule from the flags: recomputed, nothing written)."""
    from simfl.plots import sweep_figures
    from simfl.results import load_sweep_tables, swept_columns, target_values
    from simfl.results.report import match_value
    from simfl.results.retarget import retargeted

    tables = load_sweep_tables(d, ["evals", "client_updates", "clients"])
    summary = tables["summary"]
    swept = swept_columns(summary)
    if args.by not in swept:
        raise SimflError(f"--by {args.by}: not a swept key of this sweep; swept keys: {', '.join(swept) or 'none'}")
    reference = None if args.reference is None else match_value(summary[args.by], args.reference, args.by)
    # targets or a rule in place of the sweep's: recomputed from the runs' evaluations (nothing written)
    summary, rule, _ = retargeted(d, summary, args.targets, _target_rule(args), args.relative_targets, args.by)
    return sweep_figures(summary, tables["evals"], tables["client_updates"], tables["clients"], swept,
                         target_values(summary), by=args.by, events=_shared_drift(d),
                         reference=reference, horizon=args.horizon, budget_s=args.budget,
                         level=args.level, rule=rule)


def _run_dir_figures(d: Path, args) -> dict:
    """The figures of the finished run directory ``d``, with its partition heatmap when it trained."""
    from simfl.plots import run_figures
    from simfl.results import busy_intervals, offline_intervals
    from simfl.results.rundir import finished_run_manifest
    from simfl.results.runresult import load_run

    if args.relative_targets:
        raise SimflError("--relative-targets: for a sweep directory (relative to the best run of each world)")
    finished_run_manifest(d)  # a running, failed or damaged run is one line, not a traceback
    result = load_run(d)
    end = result.manifest.get("sim_end_s") or float(result.evals.sim_time_s.max())
    figures = run_figures(result, offline=offline_intervals(result.config, end),
                          busy=busy_intervals(result.config, end), swept=_swept_values(d),
                          targets=args.targets or (), rule=_target_rule(args))
    figures.update(_partition_figure(result.config))
    return figures


def _write_figures(figures: dict, out: Path, args, own_folder: bool) -> None:
    """Save ``figures`` in ``out``, replacing only figures simfl wrote there unless ``--replace``."""
    import matplotlib.pyplot as plt

    from simfl.userfiles import check_figures_replaceable, record_figures

    paths = {name: out / f"{name}.{args.fmt}" for name in figures}
    if not args.replace:
        check_figures_replaceable(out, [p.name for p in paths.values()], own_folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, fig in figures.items():
            fig.savefig(paths[name], dpi=args.dpi)
            plt.close(fig)
            print(paths[name])
    except OSError as exc:
        raise SimflError(f"--out {out}: cannot write the figures ({exc.strerror or exc})") from None
    finally:
        plt.close("all")
    record_figures(out, [p for p in paths.values() if p.is_file()])


def _partition_figure(config) -> dict:
    """``{"partition": heatmap}`` of a run that trained (its data rebuilt from config and seed), else ``{}``.

    When the data cannot be rebuilt (e.g. an idx folder moved), the heatmap is skipped with a
    note on stderr and the other figures are still written.
    """
    if not config.train.enabled:
        return {}
    from simfl.data import label_counts
    from simfl.plots import partition_heatmap

    try:
        counts = label_counts(config)
    except SimflError as exc:
        print(f"simfl plot: no partition heatmap: {exc}", file=sys.stderr)
        return {}
    return {"partition": partition_heatmap(counts)}


def _cmd_docs(args) -> int:
    from simfl.config.docs import docs_text

    if not Path(args.dir).is_dir():
        raise SimflError(f"--dir {args.dir}: not a folder")
    print(docs_text(args.kind, args.name, search_path=(args.dir,)), end="")
    return 0


def _cmd_partition(args) -> int:
    from simfl.data import label_counts, summarize_label_counts

    out = Path(args.out) if args.out else None
    if out is not None and (out.suffix != ".parquet" or out.is_dir()):
        raise SimflError(f"--out {out}: expected a file path ending in .parquet")
    config = _load(args)
    counts = label_counts(config)
    print(f"{args.config}: {config.data.dataset}, partition {config.data.partition}: {summarize_label_counts(counts)}")
    if out is not None:
        from simfl.userfiles import write_simfl_parquet

        write_simfl_parquet(counts, out, "simfl label counts", replace=args.replace)
        print(f"label counts: {out}")
    return 0


def _swept_values(run_dir: Path) -> dict | None:
    """The swept values of a run that sits in a sweep (``SWEEP/runs/<run_id>``), from the sweep's summary."""
    from simfl.results import swept_columns
    from simfl.results.rundir import read_parquet_file

    summary_file = run_dir.parent.parent / "summary.parquet"
    if run_dir.parent.name != "runs" or not summary_file.is_file():
        return None
    summary = read_parquet_file(summary_file, required=("run_id",))
    row = summary[summary["run_id"] == run_dir.name]
    if row.empty:
        return None
    varied = [c for c in swept_columns(summary) if summary[c].nunique(dropna=False) > 1]
    return {c: row[c].iloc[0] for c in varied}


def _shared_drift(sweep_dir: Path):
    """Drift events of a sweep, when every run has the same ones (else None)."""
    from simfl.results import drift_times
    from simfl.results.runresult import read_run_config

    found = set()
    for cfg in sorted((sweep_dir / "runs").glob("*/config.yaml")):
        found.add(tuple(drift_times(read_run_config(cfg.parent))))
        if len(found) > 1:
            return None
    return list(found.pop()) if found else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``simfl`` console script (``argv`` None: the process's own arguments)."""
    code = _main(argv)
    if code == EXIT_INTERRUPTED and argv is None:
        # CPython marks a KeyboardInterrupt raised inside exec'd source (dataclasses, namedtuples:
        # what imports run) as unhandled even once caught, and would then end the process by
        # SIGINT instead of exiting 130. Everything is written and closed by now: leave directly.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    return code


def _main(argv: Sequence[str] | None) -> int:
    # first: an interrupt during start-up (imports, data loading) is handled, and recorded in case a
    # library drops it (simfl/interrupts.py); SIGTERM is handled like Ctrl-C
    with interrupts.recorded():
        return _command(argv)


def _command(argv: Sequence[str] | None) -> int:
    """Parse and run one command; a bad input, an interrupt or a full disk is one line and its exit code."""
    command = "simfl"
    try:
        args = _parser().parse_args(argv)
        command = f"simfl {args.command}"
        return args.func(args)
    except SimflError as exc:
        for line in str(exc).splitlines():
            print(f"{command}: error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # the last resort for a full disk or a folder gone read-only: one line
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{command}: error: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
