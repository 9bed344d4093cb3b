"""From a validated config to results: scenario → engine (+ trainer) → tables → run directory."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

import simfl.data as fl_data
import simfl.registry as registry
from simfl.config.load import dump_config
from simfl.config.schema import Config
from simfl.data.drift import build_drift
from simfl.engine.protocols import Trainer
from simfl.engine.server import Policy, Selector
from simfl.engine.simulation import EngineSettings, Simulation
from simfl.progress import SimulationProgress
from simfl.results.rundir import CONFIG, TABLES, RunDir, versions
from simfl.results.runresult import RunResult, load_run
from simfl.rng import SeedTree
from simfl.scenario.model_size import param_count
from simfl.scenario.coupling import label_share
from simfl.scenario.population import build_population, samples_per_task
from simfl.scenario.traces import load_profile_trace
from simfl.errors import ConfigError, PluginError, RunDirError, SimflError

__all__ = ["RunResult", "run", "build_policy", "build_selector", "engine_settings", "check_config", "load_run",
           "dry_model_bytes"]


def build_policy(config: Config) -> Policy:
    """The server policy of ``config.algorithm`` (built-in or plugin), built for one run."""
    return registry.component_of(config.algorithm).build(config.algorithm)


def build_selector(config: Config, trained: bool = True) -> Selector:
    """The selection policy of ``config.algorithm.selection``, built for one run."""
    spec = config.algorithm.selection
    if spec.needs_losses and not trained:
        raise ConfigError(f"algorithm.selection.type: {spec.type} needs client losses, so training (no dry run)")
    return registry.component_of(spec).build(spec)


def engine_settings(config: Config, num_samples: np.ndarray) -> EngineSettings:
    """What the engine needs of ``config``, for a population of clients with ``num_samples``."""
    server = config.heterogeneity.server
    return EngineSettings(
        samples_per_task=samples_per_task(config.train, num_samples),
        stop_sim_time_s=config.stop.sim_time_s,
        stop_client_updates=config.stop.client_updates,
        stop_server_updates=config.stop.server_updates,
        stop_target_accuracy=config.stop.target_accuracy,
        eval_every_s=config.eval.every_s,
        client_cooldown_s=config.algorithm.client_cooldown_s,
        egress_mbps=server.egress_mbps,
        ingress_mbps=server.ingress_mbps,
        aggregation_s_per_update=server.aggregation_s_per_update,
    )


def dry_model_bytes(config: Config) -> int:
    """Bytes on the wire without a trainer: ``model_bytes`` or parameter count × dtype size."""
    if config.heterogeneity.network.model_bytes is not None:
        return config.heterogeneity.network.model_bytes
    info = fl_data.dataset_info(config.data)
    return param_count(config.model, info.input_shape, info.num_classes) * config.train.dtype_bytes


def check_config(config: Config) -> dict[str, Any]:
    """Checks beyond the schema that need the data source: one cheap pass over the data (file
    sizes, labels, the partition's client sizes; see :mod:`simfl.data.validate`), no training.

    Returns a short summary; raises :class:`~simfl.errors.SimflError` subclasses with one-line messages.
    """
    info = fl_data.dataset_info(config.data)
    params = param_count(config.model, info.input_shape, info.num_classes)
    tree = SeedTree(config.seed)
    fl_data.validate_data(config.data, tree)
    build_drift(config.data.drift, config.data.num_clients, info.num_classes, tree)
    het = config.heterogeneity
    if het.profiles is not None:  # trace files are read (and checked) before anything runs
        load_profile_trace(het.profiles, config.data.num_clients, tree)
    if het.availability.type == "trace":
        het.availability.build(tree, config.data.num_clients)
    if het.coupling is not None and het.coupling.by == "label":
        bad = [lab for lab in het.coupling.labels if lab >= info.num_classes]
        if bad:
            raise ConfigError(f"heterogeneity.coupling.labels: {bad} out of range (the data have {info.num_classes} classes)")
    return {
        "dataset": config.data.dataset,
        "input_shape": info.input_shape,
        "num_classes": info.num_classes,
        "parameters": params,
        "model_bytes": dry_model_bytes(config),
    }


def _trainer_sizes(trainer: Trainer | None, config: Config) -> np.ndarray | None:
    """Client sizes from a custom trainer that holds data (its ``client_sizes``), else None.

    A trainer that trains on its own data must say how much each client holds: those sizes,
    not the ones ``config.data`` would give, weight FedAvg and time every task.
    """
    sizes = getattr(trainer, "client_sizes", None) if trainer is not None else None
    if sizes is None:
        return None
    sizes = np.asarray(sizes)
    n = config.data.num_clients
    if sizes.shape != (n,) or not np.issubdtype(sizes.dtype, np.integer) or (sizes < 1).any():
        raise ConfigError(
            f"data.num_clients: the trainer's client_sizes must be {n} positive integers (one per client), "
            f"got shape {sizes.shape} of {sizes.dtype}"
        )
    return sizes.astype(np.int64)


def plugin_components(config: Config) -> list[tuple[str, str, str]]:
    """The plugins a config uses: ``(config key, name, module)`` for every component that is not
    a built-in (the method, its selection policy and any component among its parameters)."""
    found: list[tuple[str, str, str]] = []

    def visit(params, key: str) -> None:
        try:
            component = registry.component_of(params)
        except Exception:
            component = None
        if component is not None and not component.builtin:
            found.append((f"{key}.type", component.name, component.target.__module__))
        for name in type(params).model_fields:
            value = getattr(params, name)
            if isinstance(value, BaseModel) and "type" in type(value).model_fields:
                visit(value, f"{key}.{name}")

    visit(config.algorithm, "algorithm")
    return found


def _blame_plugin(exc: BaseException, config: Config) -> PluginError | None:
    """A one-line :class:`PluginError` naming the plugin whose code raised ``exc`` (None: not a plugin's)."""
    if not isinstance(exc, Exception) or isinstance(exc, SimflError):
        return None
    plugins = plugin_components(config)
    if not plugins:
        return None
    modules = {module: (key, name) for key, name, module in plugins}
    blamed = None
    tb = exc.__traceback__
    while tb is not None:  # the innermost frame in a plugin's module names the hook
        module = tb.tb_frame.f_globals.get("__name__")
        if module in modules:
            blamed = (*modules[module], tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    if blamed is None:
        return None
    key, name, hook = blamed
    error = PluginError(f"{key}: {name}: {hook}() raised {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def _make_trainer(config: Config, federated, tree: SeedTree) -> Trainer:
    from simfl.training import make_trainer  # torch is imported only when training

    return make_trainer(config, federated, tree)


def _config_digest(config: Config) -> str:
    return hashlib.sha256(dump_config(config).encode()).hexdigest()


def run(
    config: Config,
    *,
    trainer: Trainer | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
) -> RunResult:
    """Run one simulation.

    Args:
        config: a validated config (see :func:`simfl.load_config`).
        trainer: a trainer to use instead of the one built from the config (tests, stubs).
            Ignored, with no trainer at all, when ``train.enabled`` is false (a dry run). When it
            holds data (a ``client_sizes`` attribute, one positive integer per client), those sizes
            weight FedAvg and time the tasks instead of the sizes ``config.data`` gives, and the
            manifest records ``client_sizes_from: trainer``; the manifest names the trainer's class.
        out: a run directory to write (config.yaml, four parquet tables, manifest.json).
        overwrite: allow ``out`` to hold a previous run.
        progress: show a progress bar (None: only on a terminal).

    Returns:
        The run's tables. ``result.status`` is ``interrupted`` after Ctrl-C.
    """
    started = time.perf_counter()
    run_dir = RunDir.create(out, overwrite) if out is not None else None
    manifest: dict[str, Any] = {
        "status": "running",
        "seed": config.seed,
        "name": config.name,
        "algorithm": config.algorithm.type,
        "dry_run": not config.train.enabled,
        "config_sha256": _config_digest(config),
        "search_path": list(config.search_path),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
    }
    if run_dir is not None:
        run_dir.write_text(CONFIG, dump_config(config))
        run_dir.write_manifest(manifest)
    bar = None
    try:
        tree = SeedTree(config.seed)
        coupling = config.heterogeneity.coupling
        by_label = coupling is not None and coupling.by == "label"
        federated = None
        custom = trainer if config.train.enabled else None
        if custom is not None:
            manifest["trainer"] = f"{type(custom).__module__}:{type(custom).__qualname__}"
        if (config.train.enabled and trainer is None) or by_label:
            federated = fl_data.load_data(config.data, tree)
        sizes = _trainer_sizes(custom, config)
        if sizes is not None:
            manifest["client_sizes_from"] = "trainer"
        elif federated is not None:
            sizes = federated.client_sizes
        else:
            sizes = fl_data.client_sizes(config.data, tree)
        if config.train.enabled:
            if trainer is None:
                trainer = _make_trainer(config, federated, tree)
            model_bytes = config.heterogeneity.network.model_bytes or trainer.model_bytes
        else:
            trainer = None
            model_bytes = dry_model_bytes(config)
        shares = label_share(federated.y, federated.offsets, coupling.labels) if by_label else None
        population = build_population(config.heterogeneity, sizes, tree, shares)
        bar = SimulationProgress(config.stop, label=config.name or config.algorithm.type, enabled=progress)
        selector = build_selector(config, trained=trainer is not None)
        sim = Simulation(engine_settings(config, population.num_samples), population, build_policy(config), model_bytes,
                         trainer, progress=bar, selector=selector, algorithm=config.algorithm)
        outcome = sim.run()
    except BaseException as exc:
        blamed = _blame_plugin(exc, config)
        if blamed is not None:
            exc = blamed
        if run_dir is not None:
            interrupted = isinstance(exc, KeyboardInterrupt)
            manifest.update(
                status="interrupted" if interrupted else "failed",
                error=None if interrupted else f"{type(exc).__name__}: {exc}",
                host_seconds=time.perf_counter() - started,
            )
            run_dir.try_write_manifest(manifest)  # best effort: never hides the original error
        if blamed is not None:
            raise blamed from blamed.__cause__
        raise
    finally:
        if bar is not None:
            bar.close()
    result = RunResult(
        config=config,
        client_updates=outcome.client_updates,
        aggregations=outcome.aggregations,
        evals=outcome.evals,
        clients=population.table(),
        final_params=outcome.final_params,
        path=run_dir.path if run_dir is not None else None,
    )
    manifest.update(
        status="interrupted" if outcome.stop_reason == "interrupted" else "complete",
        stop_reason=outcome.stop_reason,
        sim_end_s=outcome.sim_end_s,
        model_bytes=model_bytes,
        **outcome.counters,
    )
    manifest["host_seconds"] = time.perf_counter() - started
    manifest["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result.manifest = manifest
    if run_dir is not None:
        _write_outputs(run_dir, result, manifest)
    return result


def _write_outputs(run_dir: RunDir, result: RunResult, manifest: dict[str, Any]) -> None:
    """The tables, then the manifest (last: only now does the directory look complete).

    A write that fails (e.g. a full disk) marks the directory ``failed`` where it still can
    and raises a one-line :class:`~simfl.errors.RunDirError`.
    """
    try:
        for name in TABLES:
            run_dir.write_table(name, result.table(name))
        run_dir.write_manifest(manifest)
    except RunDirError as exc:
        run_dir.try_write_manifest({**manifest, "status": "failed", "error": str(exc)})
        raise
