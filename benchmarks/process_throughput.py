"""Whole-process dry-run throughput, judged against SimPy itself.

What a user runs: ``simfl run CONFIG --dry-run``, a process that starts Python, imports simfl,
validates the config, builds the population, simulates, and writes the run directory. Its cost
per client update is ``(process wall − start-up) / updates``, where start-up is the wall time
of a process that only imports what the run imports (the modules a tiny dry run leaves in
``sys.modules``, imported one by one). This is compared with a bare SimPy loop of
one timeout per update, timed just before in this process on the same machine:

    ratio = ((process wall − start-up) / updates) / (bare SimPy seconds / timeouts)

The same ratio in CPU seconds (the child's user + system time against the bare loop's process
time) is printed beside it: on a shared machine it is the steadier of the two.

Scenarios (issue 13): 1,000 clients with FedAsync concurrency 100, and 10^6 clients with
concurrency 1,000, each for 10^6 updates; the peak memory (RSS) of the run process is reported
too (target: under 1 GB for 10^6 clients).

    python benchmarks/process_throughput.py [--updates N] [--repeat R] [--smoke]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dry_run_throughput import bare_simpy  # noqa: E402

SCENARIOS = [("1,000 clients, concurrency 100", 1_000, 100), ("10^6 clients, concurrency 1,000", 1_000_000, 1_000)]
#: Run in a child: a tiny dry run through the command line, then the modules it imported.
_LIST_MODULES = """
import json, sys
from simfl.cli import main
main(["run", sys.argv[1], "--dry-run", "--out", sys.argv[2], "--no-progress"])
print(json.dumps(sorted(sys.modules)))
"""
#: Run in a child: import the given modules, nothing else (the start-up of a run process).
_IMPORT_MODULES = """
import importlib, json, sys
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except Exception:
        pass
"""


def run_imports(folder: Path) -> str:
    """The modules (JSON list) a ``simfl run --dry-run`` process imports, found by running a tiny one."""
    cfg = _config(folder, 100, 10, 100)
    out = subprocess.run([sys.executable, "-c", _LIST_MODULES, str(cfg), str(folder / "tiny")], check=True,
                         capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def _config(folder: Path, clients: int, concurrency: int, updates: int) -> Path:
    path = folder / f"c{clients}.yaml"
    path.write_text(textwrap.dedent(f"""
        data: {{num_clients: {clients}}}
        heterogeneity:
          compute:
            seconds_per_sample: {{dist: lognormal, mean: 0.005, sigma: 1.0}}
            jitter: {{dist: exponential, mean: 1.0}}
        algorithm: {{type: fedasync, concurrency: {concurrency}}}
        stop: {{sim_time_s: null, client_updates: {updates}}}
        eval: {{every_s: null}}
    """))
    return path


def _timed(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (GB) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, max(after.ru_maxrss, before.ru_maxrss) / 1e6


def _bare(updates: int, concurrency: int) -> tuple[float, float]:
    """Wall and CPU seconds of the bare SimPy loop."""
    start, cpu = time.perf_counter(), time.process_time()
    bare_simpy(updates, concurrency)
    return time.perf_counter() - start, time.process_time() - cpu


def measure(clients: int, concurrency: int, updates: int, repeat: int) -> dict[str, float]:
    """Median over ``repeat`` rounds of (bare SimPy, start-up, run) timed back to back."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        imports = run_imports(Path(tmp))  # start-up = importing exactly what a run imports
        cfg = _config(Path(tmp), clients, concurrency, updates)
        for i in range(repeat):
            bare, bare_cpu = _bare(updates, concurrency)
            startup, startup_cpu, _ = _timed([sys.executable, "-c", _IMPORT_MODULES, imports])
            wall, cpu, peak = _timed([sys.executable, "-m", "simfl.cli", "run", str(cfg), "--dry-run", "--out",
                                      str(Path(tmp) / f"run{i}"), "--no-progress"])
            rows.append({"ratio": (wall - startup) / bare, "cpu_ratio": (cpu - startup_cpu) / bare_cpu,
                         "wall": wall, "startup": startup, "bare": bare, "peak_gb": peak})
    out = {key: statistics.median(r[key] for r in rows) for key in rows[0]}
    out["peak_gb"] = max(r["peak_gb"] for r in rows)
    out["ratios"] = [r["ratio"] for r in rows]
    out["cpu_ratios"] = [r["cpu_ratio"] for r in rows]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script runs")
    args = ap.parse_args()
    scenarios = SCENARIOS
    if args.smoke:
        args.updates, args.repeat = 2_000, 1
        scenarios = [("smoke: 1,000 clients, concurrency 100", 1_000, 100)]
    for label, clients, concurrency in scenarios:
        m = measure(clients, concurrency, args.updates, args.repeat)
        per_update = (m["wall"] - m["startup"]) / args.updates
        print(f"{label}, {args.updates:,} updates (median of {args.repeat}):")
        print(f"  process wall {m['wall']:.2f} s, start-up {m['startup']:.2f} s -> "
              f"{args.updates / (m['wall'] - m['startup']):,.0f} updates per host second; peak {m['peak_gb']:.2f} GB")
        print(f"  bare SimPy loop {m['bare']:.3f} s ({args.updates / m['bare']:,.0f} timeouts per host second)")
        print(f"  ratio (wall - start-up) per update / bare SimPy per timeout = {m['ratio']:.2f} "
              f"(runs: {', '.join(f'{r:.2f}' for r in m['ratios'])}; {per_update * 1e6:.2f} us per update)")
        print(f"  the same ratio in CPU seconds = {m['cpu_ratio']:.2f} "
              f"(runs: {', '.join(f'{r:.2f}' for r in m['cpu_ratios'])})")


if __name__ == "__main__":
    main()
