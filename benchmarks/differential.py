"""The differential harness: the tables of many scenarios, digested, to prove a refactoring
changed no result.

Every config in ``configs/`` (as it is, and dry for longer), every variant of ``experiments/method_comparison`` (its first seed)
and every plugin example is run for a short simulated time (trained where the config trains),
and each output table is digested: its columns, dtypes and every value, bit for bit
(``pandas.util.hash_pandas_object`` over the rows, NaN included). ``--save FILE`` writes the
digests; ``--check FILE`` recomputes them and lists every scenario whose tables differ.

    python benchmarks/differential.py --save /tmp/before.json     # on the old code
    python benchmarks/differential.py --check /tmp/before.json    # on the new code: exit 1 on a difference

Run ids (config digests) are recorded too: a refactoring that changes them forces every
sweep folder to recompute, which is a change of behaviour as well.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import simfl  # noqa: E402
from simfl.config.load import config_from_dict  # noqa: E402
from simfl.identity.runid import result_digest  # noqa: E402
from simfl.sweep import make_plan  # noqa: E402

#: The simulated time each scenario runs (short: the harness must take minutes, not hours).
HORIZON_S = 150.0
#: ... and the dry (untrained) copy of each config, which simulates this long.
DRY_HORIZON_S = 2000.0
TABLES = ("client_updates", "aggregations", "evals", "clients")


def _digest(frame: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def scenarios() -> dict[str, simfl.Config]:
    """Name → config, each cut to :data:`HORIZON_S` of simulated time."""
    short = [f"stop.sim_time_s={HORIZON_S}", "stop.client_updates=null", "stop.server_updates=null",
             "stop.target_accuracy=null"]
    found = {}
    dry = ["train.enabled=false", f"stop.sim_time_s={DRY_HORIZON_S}", *short[1:]]
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        found[f"configs/{path.stem}"] = simfl.load_config(path, short)
        try:
            found[f"configs/{path.stem} (dry)"] = simfl.load_config(path, dry)
        except simfl.ConfigError:  # e.g. a selection rule that needs client losses
            pass
    for planned in make_plan(ROOT / "experiments/method_comparison/sweep.yaml").runs:
        if planned.seed == planned.config.seed and planned.point.get("seed", 0) == 0:
            name = "method_comparison/" + str(next(iter(planned.point.values())))
            found.setdefault(name, config_from_dict(planned.config.model_dump(mode="python"), short))
    for path in sorted((ROOT / "examples/plugins").glob("*.yaml")):
        if not path.stem.endswith("_sweep"):
            found[f"examples/{path.stem}"] = simfl.load_config(path, short)
    return found


def digests() -> dict[str, dict[str, str]]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, config) in enumerate(scenarios().items()):
            started = time.perf_counter()
            result = simfl.run(config, out=Path(tmp) / str(i), progress=False)
            out[name] = {"run_id": result_digest(config), "status": result.status,
                         **{t: _digest(getattr(result, t)) for t in TABLES}}
            print(f"{name:55s} {result.status:9s} {time.perf_counter() - started:6.1f} s", file=sys.stderr)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path, help="write the digests to this JSON file")
    group.add_argument("--check", type=Path, help="compare with digests saved before")
    args = ap.parse_args()
    now = digests()
    if args.save:
        args.save.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"{len(now)} scenarios saved to {args.save}")
        return 0
    before = json.loads(args.check.read_text())
    differ = sorted(name for name in before.keys() | now.keys() if before.get(name) != now.get(name))
    for name in differ:
        old, new = before.get(name, {}), now.get(name, {})
        print(f"DIFFERS {name}: " + ", ".join(k for k in old.keys() | new.keys() if old.get(k) != new.get(k)))
    print(f"{len(now) - len(differ)} of {len(now)} scenarios identical")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
