"""A writer whose package is missing: one line naming the key and the pip extra, nothing written."""

from __future__ import annotations

import importlib.util

import pytest
import yaml

import simfl
from simfl.cli import main
from simfl.errors import ConfigError
from tests.conftest import make_config

CASES = [
    ({"tensorboard": "tb"}, "tensorboard", "tracking.tensorboard: needs the tensorboard package: pip install 'simfl[tracking]'"),
    ({"mlflow": {}}, "mlflow", "tracking.mlflow: needs the mlflow package: pip install 'simfl[mlflow]'"),
    ({"wandb": {"mode": "offline"}}, "wandb", "tracking.wandb: needs the wandb package: pip install 'simfl[wandb]'"),
]


@pytest.mark.parametrize("tracking, package, message", CASES, ids=["tensorboard", "mlflow", "wandb"])
def test_a_missing_package_is_one_line_naming_the_key(tmp_path, monkeypatch, capsys, tracking, package, message):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == package else real(name, *a))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        simfl.run(make_config(tracking=tracking), out="run", progress=False)
    assert str(caught.value) == message
    assert list(tmp_path.iterdir()) == []  # nothing written: no run directory, no log directory
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"train": {"enabled": False}, "tracking": tracking}))
    for argv in (["run", str(cfg), "--out", "cli"], ["validate", str(cfg)]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].endswith(message)
    assert not (tmp_path / "cli").exists()
