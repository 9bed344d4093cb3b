"""Building a run's world from its config: data, client sizes, trainer, population, engine settings.

Everything here is derived from the config (and an injected trainer or model factory); nothing
is written. :func:`check_config` is the cheap pass that runs first (``simfl validate`` too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

import simfl.data as fl_data
import simfl.registry as registry
from simfl.config.schema import Config, TorchModel
from simfl.data.drift import build_drift
from simfl.data.validate import check_files
from simfl.engine.contract import checked_params
from simfl.engine.observers import Observer
from simfl.engine.protocols import Trainer
from simfl.engine.server import Policy, Selector
from simfl.engine.settings import EngineSettings
from simfl.engine.simulation import Simulation
from simfl.errors import ConfigError
from simfl.rng import SeedTree
from simfl.running.blame import blame_plugin
from simfl.running.limits import check_limits
from simfl.scenario.coupling import label_share
from simfl.scenario.model_size import param_count
from simfl.scenario.population import Population, build_population, samples_per_task
from simfl.scenario.traces import load_profile_trace
from simfl.tracking import check_tracking

__all__ = ["World", "build_world", "build_policy", "build_selector", "engine_settings", "check_config",
           "check_components", "dry_model_bytes", "with_model", "model_name"]


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
        blamed = blame_plugin(exc, config)
        if blamed is not None:
            raise blamed from None
        raise


def _make_trainer(config: Config, federated, tree: SeedTree, model: Callable | None = None) -> Trainer:
    from simfl.training import make_trainer  # torch is imported only when training

    return make_trainer(config, federated, tree, model)


def with_model(config: Config, model: Callable) -> Config:
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


def model_name(config: Config, model: Callable | None) -> str:
    """What model runs: a built-in type, a factory's import path, or a callable's ``module:qualname``."""
    if model is not None:
        return _callable_name(model)
    if config.model.type == "torch":
        return str(config.model.factory)
    return config.model.type



@dataclass
class World:
    """What a run simulates, built from its config (:func:`build_world`).

    Attributes:
        config: the run's config.
        trainer: the trainer (None in a dry run).
        population: the clients' profiles and processes.
        settings: what the engine needs of the config.
        model_bytes: bytes of a model download and of an update upload.
        notes: what the manifest records of how the world was built (trainer, client sizes' origin).
    """

    config: Config
    trainer: Trainer | None
    population: Population
    settings: EngineSettings
    model_bytes: int
    notes: dict[str, Any]

    def simulation(self, saved: dict | None, progress=None, observers: Sequence[Observer] = ()) -> Simulation:
        """A new simulation of this world, or the one of checkpoint ``saved`` re-attached to it."""
        if saved is None:
            return Simulation(self.settings, self.population, build_policy(self.config), self.model_bytes,
                              self.trainer, progress=progress, observers=observers,
                              selector=build_selector(self.config, trained=self.trainer is not None),
                              algorithm=self.config.algorithm)
        sim = Simulation.restore(saved["simulation"], self.settings, self.population, self.trainer, progress,
                                 observers=observers)
        if self.trainer is not None:
            self.trainer.load_checkpoint_state(saved["trainer"])
        return sim


def build_world(config: Config, trainer: Trainer | None, model: Callable | None, checked: dict | None) -> World:
    """Load the data a run needs, size its clients, build its trainer (unless given or dry) and population.

    Args:
        config: the run's config.
        trainer: an injected trainer (ignored in a dry run), else None.
        model: an injected model factory, else None.
        checked: :func:`check_config`'s summary when it ran (its client sizes are reused), else None.
    """
    tree = SeedTree(config.seed)
    coupling = config.heterogeneity.coupling
    by_label = coupling is not None and coupling.by == "label"
    notes: dict[str, Any] = {}
    custom = trainer if config.train.enabled else None
    if custom is not None:
        notes["trainer"] = f"{type(custom).__module__}:{type(custom).__qualname__}"
    federated = None
    if (config.train.enabled and trainer is None) or by_label:
        # checked by check_config when trainer is None; under eval.split validation no test row is loaded
        federated = fl_data.load_data(config.data, tree, config.eval.split)
    sizes = _trainer_sizes(custom, config)
    if sizes is not None:
        notes["client_sizes_from"] = "trainer"
    elif federated is not None:
        sizes = federated.client_sizes
    else:
        sizes = checked["client_sizes"] if checked is not None else fl_data.client_sizes(config.data, tree)
    if config.train.enabled:
        trainer = trainer if trainer is not None else _make_trainer(config, federated, tree, model)
        model_bytes = config.heterogeneity.network.model_bytes or trainer.model_bytes
    else:
        trainer, model_bytes = None, dry_model_bytes(config, model)
    shares = label_share(federated.y, federated.offsets, coupling.labels) if by_label else None
    names = None if notes.get("client_sizes_from") == "trainer" else fl_data.client_names(config.data)
    population = build_population(config.heterogeneity, sizes, tree, shares, names)
    settings = engine_settings(config, population.num_samples)
    return World(config, trainer, population, settings, model_bytes, notes)
