"""Every benchmark script runs (tiny sizes). Nothing here looks at timings."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "dry_run_throughput.py": (["--smoke"], ["updates per host second", "ratio simfl / bare SimPy"]),
    "process_throughput.py": (["--smoke"], ["ratio (wall - start-up) per update / bare SimPy", "in CPU seconds",
                                             "peak"]),
    "population_scale.py": (["--smoke"], ["updates/host s", "peak MB", "10,000"]),
    "training_overhead.py": (["--smoke", "--concurrency", "4"], ["plain/simfl", "synthetic/logreg", "digits/mlp"]),
    "executors.py": (["--smoke"], ["ratio to local sequential", "dask 2 workers", "CUDA:"]),
    "profile_flagship.py": (["--set", "stop.sim_time_s=4", "--top", "3"], ["training: local SGD jobs", "engine"]),
    "torch_module.py": (["--smoke", "--concurrency", "4", "--set", "data.num_clients=16"],
                        ["plain/batched CPU", "models:bn_cnn"]),
}


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_runs(script):
    args, expected = CASES[script]
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    for piece in expected:
        assert piece in proc.stdout, proc.stdout
