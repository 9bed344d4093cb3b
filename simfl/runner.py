"""From a validated config to results: scenario → engine (+ trainer) → tables → run directory."""

from __future__ import annotations

import hashlib
import os
import pickle
import time
from functools import partial
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

import simfl.data as fl_data
import simfl.registry as registry
from simfl.config.load import dump_config
from simfl.config.schema import Config, TorchModel
from simfl.config.sweepfile import result_digest, run_id_of
from simfl.data.drift import build_drift
from simfl.engine.contract import checked_params
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
from simfl.scenario.realised import population_stats
from simfl.scenario.traces import load_profile_trace
from simfl.checkpoint import (CHECKPOINT, FORMAT as CHECKPOINT_FORMAT, CheckpointRejected, read_checkpoint,
                              write_checkpoint)
from simfl.errors import ConfigError, PluginError, RunDirError, SimflError
from simfl.fingerprint import changed_files, describe_files, file_fingerprints
from simfl.data.validate import check_files
from simfl.limits import check_limits
from simfl.tracking import CallbackObserver, RunInfo, check_tracking, run_name, writers_from_config

__all__ = ["RunResult", "run", "build_policy", "build_selector", "engine_settings", "check_config", "load_run",
           "dry_model_bytes"]


def build_policy(config: Config) -> Policy:
    """The server policy of ``config.algorithm`` (built-in or plugin), built for one run."""
    component = registry.component_of(config.algorithm)
    return component.build(config.algorithm if component.builtin else checked_params(config.algorithm))


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
        eval_split=config.eval.split,
        eval_divergence_factor=config.eval.divergence_factor,
        client_cooldown_s=config.algorithm.client_cooldown_s,
        egress_mbps=server.egress_mbps,
        ingress_mbps=server.ingress_mbps,
        aggregation_s_per_update=server.aggregation_s_per_update,
        checkpoint_every_s=config.run.checkpoint_every_s,
        max_events_per_instant=config.limits.events_per_instant,
    )


def _flat_size(config: Config, info, model: Callable | None = None) -> tuple[int, int]:
    """Values in the flat vector that travels, and how many of them are buffers.

    Built-in models are counted without torch; a ``type: torch`` model (or a factory ``model``)
    is built from its factory — as the trainer builds it — and its parameters and floating
    buffers counted.
    """
    if model is not None or config.model.type == "torch":
        from simfl.training.torchmodel import flat_size  # torch is imported only for torch models

        return flat_size(config.model, info.input_shape, info.num_classes, config.seed, config.search_path, model)
    return param_count(config.model, info.input_shape, info.num_classes), 0


def dry_model_bytes(config: Config, model: Callable | None = None) -> int:
    """Bytes on the wire without a trainer: ``model_bytes``, or the values of the flat vector
    (parameters, and floating buffers of a ``type: torch`` model) × dtype size."""
    if config.heterogeneity.network.model_bytes is not None:
        return config.heterogeneity.network.model_bytes
    info = fl_data.dataset_info(config.data)
    return _flat_size(config, info, model)[0] * config.train.dtype_bytes


def check_config(config: Config, model: Callable | None = None) -> dict[str, Any]:
    """Checks beyond the schema that need the data source: one cheap pass over the data (file
    sizes, labels, the partition's client sizes; see :mod:`simfl.data.validate`), no training.

    A ``type: torch`` model (or a factory ``model``) is built to be counted, and a training
    device (``train.device``) must be present.

    Returns a short summary (``parameters``: values in the flat vector, of which ``buffers``
    are floating buffers; ``client_sizes``: the partition's samples per client); raises :class:`~simfl.errors.SimflError` subclasses with one-line messages.
    """
    check_files(config.data)  # a corrupt file is named before any estimate built on its header
    info = fl_data.dataset_info(config.data)
    params, buffers = _flat_size(config, info, model)
    if config.train.enabled and config.train.device != "cpu":
        from simfl.training.device import resolve_device

        resolve_device(config.train.device, config.train.dtype)
    model_bytes = config.heterogeneity.network.model_bytes or params * config.train.dtype_bytes
    check_limits(config, params, model_bytes)  # before anything is built per client
    fl_data.check_data(config)  # a malformed data file, token ids for a built-in model, a shared test set
    tree = SeedTree(config.seed)
    sizes = fl_data.validate_data(config.data, tree)
    build_drift(config.data.drift, config.data.num_clients, info.num_classes, tree)
    het = config.heterogeneity
    if het.profiles is not None:  # trace files are read (and checked) before anything runs
        load_profile_trace(het.profiles, config.data.num_clients, tree)
    if het.availability.type == "trace":
        het.availability.build(tree, config.data.num_clients)
    check_tracking(config.tracking)
    if het.coupling is not None and het.coupling.by == "label":
        bad = [lab for lab in het.coupling.labels if lab >= info.num_classes]
        if bad:
            raise ConfigError(f"heterogeneity.coupling.labels: {bad} out of range (the data have {info.num_classes} classes)")
    return {
        "dataset": config.data.dataset,
        "input_shape": info.input_shape,
        "num_classes": info.num_classes,
        "parameters": params,
        "buffers": buffers,
        "model_bytes": model_bytes,
        "client_sizes": sizes,
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


def check_components(config: Config) -> None:
    """Build the run's policy and selector once, as a run would (``simfl validate``): a plugin whose
    constructor raises is a one-line :class:`PluginError` naming it, here rather than at run time."""
    try:
        build_policy(config)
        build_selector(config, trained=config.train.enabled)
    except Exception as exc:
        blamed = _blame_plugin(exc, config)
        if blamed is not None:
            raise blamed from None
        raise


def _blame_plugin(exc: BaseException, config: Config) -> PluginError | None:
    """A one-line :class:`PluginError` naming the plugin whose code raised ``exc`` (None: not a plugin's)."""
    if not isinstance(exc, (Exception, SystemExit)) or isinstance(exc, SimflError):  # sys.exit() in a hook too
        return None
    plugins = registry.plugin_components(config.algorithm)
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
    component = getattr(exc, "component", None)  # a ContractError: the plugin returned a bad value
    if component is not None:
        owner = _owner(plugins, component)
        if owner is not None:
            error = PluginError(f"{owner[0]}: {owner[1]}: {exc}")
            error.__cause__ = exc
            return error
    if blamed is None:
        return None
    key, name, hook = blamed
    error = PluginError(f"{key}: {name}: {hook}() raised {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def _owner(plugins: list[tuple[str, str, str]], component: object) -> tuple[str, str] | None:
    """``(config key, name)`` of the plugin that ``component`` (an object or a function) belongs to."""
    module = getattr(component, "__module__", None) or type(component).__module__
    owner = getattr(component, "__qualname__", type(component).__qualname__).split(".")[0]
    matches = [(key, name) for key, name, m in plugins if m == module]
    exact = [(key, name) for key, name in matches if name.rsplit(":", 1)[-1].split(".")[0] == owner]
    return (exact or matches or [None])[0]


def _make_trainer(config: Config, federated, tree: SeedTree, model: Callable | None = None) -> Trainer:
    from simfl.training import make_trainer  # torch is imported only when training

    return make_trainer(config, federated, tree, model)


def _with_model(config: Config, model: Callable) -> Config:
    """``config`` with ``model: {type: torch}`` naming the callable ``model`` (what ran).

    ``factory`` is the callable's ``module:qualname`` when that is an import path (a module-level
    function of an importable module, not ``__main__``), else null; ``kwargs`` are kept from a ``type: torch`` section.
    """
    from simfl.errors import PluginError

    if not callable(model):
        raise PluginError(f"model.factory: simfl.run(model=...) takes a callable returning a torch.nn.Module, "
                          f"got {type(model).__name__}")
    name = _callable_name(model)
    kwargs = dict(config.model.kwargs) if config.model.type == "torch" else {}
    importable = registry.is_import_path(name) and not name.startswith("__main__:")
    section = TorchModel(factory=name if importable else None, kwargs=kwargs)
    return config.model_copy(update={"model": section})


def _callable_name(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', None)}:{getattr(fn, '__qualname__', type(fn).__qualname__)}"


def _model_name(config: Config, model: Callable | None) -> str:
    """What model runs: a built-in type, a factory's import path, or a callable's ``module:qualname``."""
    if model is not None:
        return _callable_name(model)
    if config.model.type == "torch":
        return str(config.model.factory)
    return config.model.type


def _config_digest(config: Config) -> str:
    return hashlib.sha256(dump_config(config).encode()).hexdigest()


def run(
    config: Config,
    *,
    trainer: Trainer | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    resume: bool = False,
    callbacks: Sequence[object] = (),
    tags: Mapping[str, Any] | None = None,
    model: Callable | None = None,
    pause_at_s: float | None = None,
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
        resume: continue the run in ``out`` from its checkpoint (``run.checkpoint_every_s``): the
            tables equal those of an uninterrupted run. Without a checkpoint, the run starts over.
        callbacks: tracking callbacks (:class:`simfl.tracking.Callback`), told of the run as it
            goes after the writers ``config.tracking`` names; they never change its results, and
            one that raises is warned about and dropped (the run goes on).
        tags: how trackers label the run, e.g. a sweep's swept keys and values.
        model: a model factory (a callable returning a ``torch.nn.Module``, called as
            ``model(input_shape=..., num_classes=..., **kwargs)`` like ``model.factory``; see
            :mod:`simfl.training.torchmodel`) used instead of ``config.model``. The run's config
            then reads ``model: {type: torch, factory: <its module:qualname, or null if that is
            not importable (a lambda, a function of __main__)>, kwargs}`` (``kwargs`` kept from a ``type: torch`` section) and the
            manifest's ``model`` names the callable.
        pause_at_s: stop once the simulation has reached this simulated time, keeping a checkpoint
            there (needs ``out``): the run directory says ``paused`` (``paused_at_s``), its tables
            hold what happened so far, and ``resume=True`` continues it — to a later pause or to its
            end — with the same tables as an uninterrupted run (tuning stops poor settings early
            this way, :mod:`simfl.tuning`). Ignored when the run ends before.

    Returns:
        The run's tables. ``result.status`` is ``interrupted`` after Ctrl-C, ``diverged`` when the
        model held NaN or inf (the run stopped then).

    Raises:
        RunDirError: another process is writing a run into ``out`` (see :class:`RunDirLock`).
    """
    arguments = dict(trainer=trainer, out=out, overwrite=overwrite, progress=progress, resume=resume,
                     callbacks=callbacks, tags=tags, model=model, pause_at_s=pause_at_s)
    lock = RunDirLock(out, resume) if out is not None else None
    try:
        if lock is not None:
            lock.take()  # an existing folder: before anything in it is replaced
        return _run(config, lock=lock, **arguments)
    finally:
        if lock is not None:
            lock.release()


class RunDirLock:
    """An exclusive OS lock on a run directory while one process writes a run into it, so a second
    ``simfl run`` (``--out``, ``--overwrite`` or ``--resume``) on the same folder is refused in one line
    instead of computing beside it or replacing its files.

    The lock is on the directory itself (no file is added to it), and the OS releases it when its
    process dies, however it dies. Where there is no such lock (Windows), nothing is locked.
    """

    def __init__(self, path: str | Path, resume: bool = False) -> None:
        self.path = Path(path)
        self.flag = "--resume" if resume else "--out"
        self._fd: int | None = None

    def take(self) -> None:
        """Lock the directory if it exists and is not locked by this object yet (a folder that does
        not exist yet is locked by the call after it is made).

        Raises:
            RunDirError: another process holds it.
        """
        try:
            import fcntl
        except ImportError:  # Windows: no flock
            return
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:  # not a directory (yet): RunDir.create says what is wrong with it
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            doing = "continuing this run" if self.flag == "--resume" else "writing a run into this folder"
            raise RunDirError(f"{self.flag} {self.path}: another simfl process is {doing}; wait for it to end "
                              "(rerunning then resumes from its last checkpoint)") from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _run(config: Config, *, trainer, out, overwrite, progress, resume, callbacks, tags, model,
         pause_at_s, lock: RunDirLock | None) -> RunResult:
    """:func:`run`, holding ``lock`` on its directory (taken here when the directory is new)."""
    started = time.perf_counter()
    if pause_at_s is not None and out is None:
        raise ConfigError("pause_at_s: a paused run keeps its checkpoint in its run directory: give out")
    if model is not None:
        config = _with_model(config, model)
    checked = None
    if trainer is None or not config.train.enabled:
        checked = check_config(config, model)  # bad data sources and absurd sizes fail before any directory exists
    run_dir = RunDir.create(out, overwrite, resume=resume) if out is not None else None
    if lock is not None:
        lock.take()  # a folder made just now: a second process that made it too is refused here
    checkpoint_file = run_dir.path / CHECKPOINT if run_dir is not None else None
    saved = read_checkpoint(checkpoint_file) if resume and checkpoint_file.exists() else None
    if saved is not None and saved["config_sha256"] != result_digest(config):
        raise CheckpointRejected(f"{checkpoint_file}: the checkpoint belongs to another config; rerun without --resume")
    fingerprints = file_fingerprints(config)  # the user files that define the run (plugins, data, traces)
    changed = changed_files(saved.get("fingerprints"), fingerprints) if saved is not None else []
    if changed:
        raise RunDirError(f"{checkpoint_file}: the checkpoint was written under another version of "
                          f"{describe_files(changed, fingerprints)}; rerun without --resume")
    observers = [*writers_from_config(config.tracking), *callbacks]  # a missing package fails here
    tracking = CallbackObserver(observers, config.tracking.timeout_s) if observers else None
    manifest: dict[str, Any] = {
        "status": "running",
        "seed": config.seed,
        "name": config.name,
        "algorithm": config.algorithm.type,
        "model": _model_name(config, model),
        "dry_run": not config.train.enabled,
        "config_sha256": _config_digest(config),
        "search_path": list(config.search_path),
        "fingerprints": fingerprints,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
    }
    if run_dir is not None:
        run_dir.write_text(CONFIG, dump_config(config))
        run_dir.write_manifest(manifest)
    if tracking is not None:
        run_id = run_id_of(config)
        tracking.start(RunInfo(run_name(out, run_id), run_id, config, dict(tags or {}),
                               run_dir.path if run_dir is not None else None))
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
            # checked by check_config when trainer is None; under eval.split validation no test row is loaded
            federated = fl_data.load_data(config.data, tree, config.eval.split)
        sizes = _trainer_sizes(custom, config)
        if sizes is not None:
            manifest["client_sizes_from"] = "trainer"
        elif federated is not None:
            sizes = federated.client_sizes
        else:
            sizes = checked["client_sizes"] if checked is not None else fl_data.client_sizes(config.data, tree)
        if config.train.enabled:
            if trainer is None:
                trainer = _make_trainer(config, federated, tree, model)
            model_bytes = config.heterogeneity.network.model_bytes or trainer.model_bytes
        else:
            trainer = None
            model_bytes = dry_model_bytes(config, model)
        shares = label_share(federated.y, federated.offsets, coupling.labels) if by_label else None
        population = build_population(config.heterogeneity, sizes, tree, shares)
        manifest["population"] = population_stats(population)  # what the clients drew (mean, median, CV)
        bar = SimulationProgress(config.stop, label=config.name or config.algorithm.type, enabled=progress)
        settings = engine_settings(config, population.num_samples)
        if saved is not None:  # continue where the checkpoint left off
            sim = Simulation.restore(saved["simulation"], settings, population, trainer, bar,
                                     observers=[tracking] if tracking is not None else ())
            if trainer is not None:
                trainer.load_checkpoint_state(saved["trainer"])
            manifest["resumed_from_s"] = saved["sim_time_s"]
        else:
            selector = build_selector(config, trained=trainer is not None)
            sim = Simulation(settings, population, build_policy(config), model_bytes, trainer, progress=bar,
                             selector=selector, algorithm=config.algorithm,
                             observers=[tracking] if tracking is not None else ())
        writer = None
        if checkpoint_file is not None and (config.run.checkpoint_every_s is not None or pause_at_s is not None):
            _checkpointable(trainer)
            writer = partial(_checkpoint, checkpoint_file, result_digest(config), trainer, run_dir, manifest)
        outcome = sim.run(checkpoint=writer, pause_at_s=pause_at_s)
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
        if tracking is not None:  # told after the manifest is written; its errors only warn
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            tracking.end(status, {**manifest, "status": status,
                                  "error": None if status == "interrupted" else f"{type(exc).__name__}: {exc}"})
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
    executor = getattr(trainer, "executor", None)
    if executor is not None:
        manifest["executor"] = executor  # the one that computed the jobs (sequential after a fallback)
    status = {"interrupted": "interrupted", "diverged": "diverged", "no_progress": "failed", "paused": "paused"}.get(
        outcome.stop_reason, "complete")
    manifest.update(
        status=status,
        stop_reason=outcome.stop_reason,
        sim_end_s=outcome.sim_end_s,
        model_bytes=model_bytes,
        **outcome.counters,
    )
    if status == "paused":
        manifest["paused_at_s"] = outcome.sim_end_s
    if outcome.stop_reason == "no_progress":
        manifest["error"] = (f"simulated time stopped advancing at {outcome.sim_end_s:g} s (more than "
                             f"limits.events_per_instant = {config.limits.events_per_instant} events at one time)")
    if tracking is not None:
        tracking.flush()  # at most tracking.timeout_s: a hung tracker is named, never waited for
        if tracking.errors:
            manifest["tracking_errors"] = list(tracking.errors)
    manifest["host_seconds"] = time.perf_counter() - started
    manifest["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result.manifest = manifest
    if run_dir is not None:
        _write_outputs(run_dir, result, manifest)
        if status not in ("interrupted", "paused") and checkpoint_file.exists():
            checkpoint_file.unlink()  # simfl's own file: the run is over
    if tracking is not None:
        tracking.end(manifest["status"], manifest)
    return result


def _checkpointable(trainer: Trainer | None) -> None:
    if trainer is not None and not callable(getattr(trainer, "checkpoint_state", None)):
        raise ConfigError("run.checkpoint_every_s: this trainer cannot be checkpointed (it has no checkpoint_state)")


def _checkpoint(path: Path, digest: str, trainer: Trainer | None, run_dir: RunDir, manifest: dict, sim: Simulation) -> None:
    """Write the whole state of ``sim`` (and the trainer's jobs) to ``path``; note it in the manifest."""
    try:
        write_checkpoint(path, {
            "format": CHECKPOINT_FORMAT,
            "config_sha256": digest,
            "fingerprints": manifest.get("fingerprints"),
            "sim_time_s": float(sim.checkpoint_time_s),
            "simulation": sim,
            "trainer": trainer.checkpoint_state() if trainer is not None else None,
        })
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"run.checkpoint_every_s: this run's state cannot be saved ({exc}); a plugin must keep picklable state "
            "(module-level classes, bound methods, no lambdas or open files): see docs/plugins.md"
        ) from None
    manifest["checkpoint_sim_time_s"] = float(sim.checkpoint_time_s)
    run_dir.write_manifest(manifest)


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
