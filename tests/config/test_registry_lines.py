"""A built-in model or dataset is its own module plus one line of :data:`simfl.registry.BUILTINS`.

The config schema reads the registry when it is imported, so each test runs a fresh Python in
which the line is added (patched in) before simfl's config is imported, exactly as an edit of
``registry.py`` would be; the same script without the line is refused, so the line is what counts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.training.helpers import WIDE_MODEL_SOURCE

_MODEL = WIDE_MODEL_SOURCE

_DATASETS = '''
import numpy as np

from simfl.data.dataset import PooledDataset, SourceDataset
from simfl.data.info import DatasetInfo
from simfl.data.source import make_source


class Ring(PooledDataset):
    """200 points on a ring, 4 classes by quadrant (a test built-in)."""

    def info(self, cfg):
        return DatasetInfo((2,), 4)

    def pool(self, cfg, tree, labels_only=False):
        t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
        return np.stack([np.cos(t), np.sin(t)], 1).astype(np.float32), (t // (np.pi / 2)).astype(np.int64), None


class Towns(SourceDataset):
    """Three towns of 10, 20 and 30 people (a test built-in)."""

    def read(self, cfg):
        ids = np.repeat(np.arange(3), [10, 20, 30])
        return make_source("towns", np.ones((60, 2), np.float32), ids % 2, ids)
'''

_SCRIPT = '''
import sys
import simfl.registry as registry

if sys.argv[1] == "add":
    registry.BUILTINS["model"]["wide"] = registry.Builtin("regtest_wide:Wide")
    registry.BUILTINS["dataset"]["ring"] = registry.BuiltinDataset(
        "regtest_data:Ring", about="points on a ring", path_help="a ring file")
    registry.BUILTINS["dataset"]["towns"] = registry.BuiltinDataset(
        "regtest_data:Towns", about="three towns", natural_ids="its towns")

from simfl.config.docs import render
from simfl.config.load import config_from_dict
from simfl.data import client_sizes, load_data
from simfl.errors import ConfigError
from simfl.rng import SeedTree
from simfl.scenario.model_size import param_count

try:
    ring = config_from_dict({"model": {"type": "wide", "width": 7},
                             "data": {"dataset": "ring", "path": "ring.txt", "partition": "iid", "num_clients": 10}})
except ConfigError as exc:
    print("refused:", " | ".join(line.strip() for line in str(exc).splitlines()))
    sys.exit(0)
print("params", param_count(ring.model, (2,), 4))
sizes = client_sizes(ring.data, SeedTree(1))
print("ring", sizes.tolist(), (load_data(ring.data, SeedTree(1)).client_sizes == sizes).all())
try:
    config_from_dict({"data": {"dataset": "ring", "partition": "iid"}})
except ConfigError as exc:
    print("no path:", [line for line in str(exc).splitlines() if "data.path" in line][0].strip())
towns = config_from_dict({"data": {"dataset": "towns"}, "algorithm": {"concurrency": 2}})
print("towns", towns.data.num_clients, load_data(towns.data, SeedTree(1)).client_sizes.tolist())
docs = render()
print("docs", "| `wide` |" in docs, "ring: points on a ring; towns: three towns" in docs)
'''


def _run(tmp_path: Path, mode: str) -> list[str]:
    (tmp_path / "regtest_wide.py").write_text(textwrap.dedent(_MODEL))
    (tmp_path / "regtest_data.py").write_text(textwrap.dedent(_DATASETS))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, mode], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_one_registry_line_adds_a_model_and_a_dataset(tmp_path):
    out = _run(tmp_path, "add")
    assert out[0] == f"params {(2 + 1) * 7 + (7 + 1) * 4}"
    assert out[1] == f"ring {[16] * 10} True"  # 20 each, a fifth held out; load_data agrees
    assert out[2] == "no path: data.path: dataset ring needs data.path: a ring file"
    assert out[3] == "towns 3 [8, 16, 24]"  # its own clients, all of them by default, a fifth held out
    assert out[4] == "docs True True"


def test_without_the_line_the_config_is_refused(tmp_path):
    out = _run(tmp_path, "none")
    assert out == ["refused: data.dataset: 'ring' is not allowed; allowed: synthetic, digits, idx, leaf, arrays, "
                   "huggingface, python | model.type: unknown type 'wide'; allowed: logreg, mlp, cnn, torch"]


def test_the_config_takes_every_registered_model_without_importing_torch():
    script = ("import sys\nfrom simfl.config.load import config_from_dict\n"
              "c = config_from_dict({'model': {'type': 'torch', 'factory': 'm:f'}})\n"
              "print(c.model.type, 'torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["torch", "False"]
