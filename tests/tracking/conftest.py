"""Fixtures of the tracking tests."""

import pytest


@pytest.fixture
def offline_wandb(tmp_path, monkeypatch):
    """W&B never touches the network or the user's folders (subprocesses and workers inherit it)."""
    home = tmp_path / "wandb-home"
    for name, value in {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_ERROR_REPORTING": "false",
                        "WANDB_DIR": home / "runs", "WANDB_CONFIG_DIR": home / "config",
                        "WANDB_CACHE_DIR": home / "cache", "WANDB_DATA_DIR": home / "data"}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    return home
