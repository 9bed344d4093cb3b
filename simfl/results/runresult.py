"""A run's outcome in memory (:class:`RunResult`) and read back from its directory (:func:`load_run`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simfl import registry
from simfl.config.load import config_from_dict, read_yaml
from simfl.config.schema import Config
from simfl.errors import RunDirError
from simfl.results.rundir import CONFIG, TABLES, read_manifest, read_parquet_file

__all__ = ["RunResult", "load_run", "read_run_config"]


@dataclass
class RunResult:
    """The outcome of one run: the four tables of docs/architecture.md as DataFrames, plus the manifest."""

    config: Config
    client_updates: pd.DataFrame
    aggregations: pd.DataFrame
    evals: pd.DataFrame
    clients: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    final_params: np.ndarray | None = None
    path: Path | None = None

    @property
    def status(self) -> str:
        """``complete``, ``interrupted`` or ``failed``."""
        return self.manifest.get("status", "unknown")

    @property
    def stop_reason(self) -> str | None:
        """Which stop criterion ended the run."""
        return self.manifest.get("stop_reason")

    def table(self, name: str) -> pd.DataFrame:
        """One of :data:`simfl.results.TABLES` by name."""
        return getattr(self, name)


def read_run_config(path: str | Path, manifest: dict[str, Any] | None = None, plugins: bool = False) -> Config:
    """The config of a run directory, read as data: nothing it names is imported.

    simfl's own components are validated as usual; a plugin (``package.module:Name``) is kept as
    a stand-in holding its keys (see :func:`simfl.registry.no_imports`). A path written in the
    manifest (``search_path``) is never used to import anything.

    Args:
        path: the run directory.
        manifest: unused (kept for callers that pass it).
        plugins: True only to run the config again (``simfl run --resume``): plugins are then
            imported from the run directory (the config's folder) and the Python path.
    """
    p = Path(path)
    if plugins:
        return config_from_dict(read_yaml(p / CONFIG), source=str(p / CONFIG), search_path=(p,))
    with registry.no_imports():
        return config_from_dict(read_yaml(p / CONFIG), source=str(p / CONFIG))


def load_run(path: str | Path) -> RunResult:
    """Read a run directory back into a :class:`RunResult`.

    Reading runs no code: the config is read as data (:func:`read_run_config`), so a run of a
    plugin (``algorithm.type: package.module:Name``) loads without that plugin.
    """
    p = Path(path)
    manifest = read_manifest(p)
    if manifest is None:
        raise RunDirError(f"{p}: not a simfl run directory (no readable manifest.json)")
    config = read_run_config(p, manifest)
    tables = {}
    for name in TABLES:
        f = p / f"{name}.parquet"
        tables[name] = read_parquet_file(f) if f.exists() else pd.DataFrame()
    return RunResult(config=config, manifest=manifest, path=p, **tables)
