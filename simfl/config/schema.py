"""The configuration schema: frozen, validated sections, one per component.

Every field carries a description; ``docs/config.md`` is generated from them
(``python -m simfl.config.docs``). Defaults are those of ``DESIGN.md`` §3. A ``dist:`` key
selects a distribution (a small closed registry); the components of the ``algorithm`` section
(the method, selection, staleness, server optimizer) are named through :mod:`simfl.registry`
and validated by their own parameter models (:mod:`simfl.config.params`). Cross-field rules
live in :meth:`Config._cross_checks` and name the key they are about.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from simfl.config.params import ParamError, World, algorithm_field, key_error
from simfl.scenario.availability import AlwaysAvailable, AvailabilitySpec
from simfl.scenario.distributions import (
    Constant,
    Distribution,
    DistributionSpec,
    FiniteDistribution,
    PeriodDistribution,
    Uniform,
)
from simfl.strict import StrictModel
from simfl.tagged import tagged_union

__all__ = [
    "Config",
    "DataConfig",
    "ModelConfig",
    "LogRegModel",
    "MLPModel",
    "CNNModel",
    "TrainConfig",
    "ComputeConfig",
    "NetworkConfig",
    "HeterogeneityConfig",
    "StopConfig",
    "EvalConfig",
    "key_error",
]


class Section(StrictModel):
    """Base of every config section: frozen, unknown keys rejected, booleans and numbers kept apart."""


# --------------------------------------------------------------------------- data
class DriftEvent(Section):
    """At ``at_s``, the labels of some clients' data change (train and held-out parts alike)."""

    at_s: float = Field(ge=0, allow_inf_nan=False, description="simulated time of the change (s)")
    type: Literal["label_permutation", "label_swap"] = Field(
        description="label_permutation: labels y -> permutation[y] | label_swap: classes[0] <-> classes[1]"
    )
    fraction: float = Field(1.0, gt=0, le=1, description="fraction of clients affected (drawn from the seed tree)")
    clients: list[Annotated[int, Field(ge=0)]] | None = Field(None, description="explicit client ids (instead of fraction)")
    permutation: list[Annotated[int, Field(ge=0)]] | None = Field(
        None, description="label_permutation: the new label of each label; null = a random permutation"
    )
    classes: list[Annotated[int, Field(ge=0)]] | None = Field(
        None, min_length=2, max_length=2, description="label_swap: the two classes exchanged"
    )

    @model_validator(mode="after")
    def _complete(self):
        if self.type == "label_swap" and self.classes is None:
            raise ValueError("label_swap needs classes: [a, b]")
        if self.permutation is not None and sorted(self.permutation) != list(range(len(self.permutation))):
            raise ValueError(f"permutation must hold each of 0..{len(self.permutation) - 1} once")
        return self


class DataConfig(Section):
    """Which dataset, how many clients, how it is split among them."""

    dataset: Literal["synthetic", "digits", "idx"] = Field(
        "synthetic",
        description="synthetic: FedProx Synthetic(alpha, beta); digits: scikit-learn's bundled 8x8 digits; "
        "idx: MNIST-format IDX files in `path`",
    )
    num_clients: int = Field(30, ge=1, description="number of clients in the population")
    partition: Literal["natural", "iid", "dirichlet", "shards"] = Field(
        "natural",
        description="natural (synthetic only: one generated distribution per client) | iid (equal sizes) | "
        "dirichlet (Hsu et al. 2019: each client's label mix ~ Dir(dirichlet_alpha · class frequencies)) | shards (McMahan et al.: sorted by label, "
        "shards_per_client shards each)",
    )
    dirichlet_alpha: float = Field(0.5, gt=0, allow_inf_nan=False, description="concentration of the dirichlet partition")
    shards_per_client: int = Field(2, ge=1, description="shards per client for the shards partition")
    quantity_skew: float | None = Field(
        None, ge=0, allow_inf_nan=False,
        description="iid/dirichlet/shards: client sizes proportional to lognormal(0, quantity_skew) draws; null = no skew",
    )
    synthetic_alpha: float = Field(1.0, ge=0, allow_inf_nan=False, description="Synthetic(alpha, beta): model heterogeneity")
    synthetic_beta: float = Field(1.0, ge=0, allow_inf_nan=False, description="Synthetic(alpha, beta): feature heterogeneity")
    synthetic_iid: bool = Field(False, description="synthetic: the IID variant (one global W, b; features centred)")
    test_fraction: float = Field(
        0.2, gt=0, lt=1, description="fraction of each client's samples held out; the test set is their union"
    )
    path: str | None = Field(None, description="idx: folder holding MNIST-format IDX files")
    drift: list[DriftEvent] = Field(default_factory=list, description="scheduled changes of client data (concept drift)")

    @model_validator(mode="after")
    def _consistent(self):
        if self.partition == "natural" and self.dataset != "synthetic":
            raise key_error(
                "data.partition",
                f"'natural' exists only for dataset synthetic; for {self.dataset} use iid, dirichlet or shards",
            )
        if self.dataset == "idx" and not self.path:
            raise key_error("data.path", "dataset idx needs a folder of IDX files in data.path")
        return self


# -------------------------------------------------------------------------- model
class LogRegModel(Section):
    """Multinomial logistic regression on flattened inputs."""

    type: Literal["logreg"] = "logreg"


class MLPModel(Section):
    """A fully connected network with ReLU hidden layers."""

    type: Literal["mlp"] = "mlp"
    hidden: list[Annotated[int, Field(ge=1)]] = Field([64], description="hidden layer widths")


class CNNModel(Section):
    """conv3x3 (padding 1) + ReLU + 2x2 max-pool per entry of ``channels``, then a hidden dense layer."""

    type: Literal["cnn"] = "cnn"
    channels: list[Annotated[int, Field(ge=1)]] = Field([16, 32], min_length=1, description="conv channels per stage")
    hidden: int = Field(64, ge=1, description="width of the dense layer after the convolutions")


MODELS = {cls.model_fields["type"].default: cls for cls in (LogRegModel, MLPModel, CNNModel)}
ModelConfig = tagged_union(MODELS, default="logreg")


# -------------------------------------------------------------------------- train
class TrainConfig(Section):
    """Local training of one client task (real PyTorch SGD); ``enabled: false`` is a timing-only dry run."""

    enabled: bool = Field(True, description="false = timing-only dry run (no trainer, no torch)")
    local_steps: int | None = Field(20, ge=1, description="SGD steps per task (or set local_epochs)")
    local_epochs: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="passes over the client's data per task (instead of local_steps)"
    )
    batch_size: int = Field(10, ge=1, description="minibatch size")
    lr: float = Field(0.05, gt=0, allow_inf_nan=False, description="client learning rate")
    momentum: float = Field(0.0, ge=0, lt=1, description="client SGD momentum")
    weight_decay: float = Field(0.0, ge=0, allow_inf_nan=False, description="L2 weight decay")
    prox_mu: float = Field(0.0, ge=0, allow_inf_nan=False, description="FedProx proximal term mu/2 ||w - w_start||^2")
    dtype: Literal["float32", "float64"] = Field("float32", description="parameter dtype (also sets model bytes)")
    executor: Literal["sequential", "batched"] = Field(
        "batched",
        description="how jobs are computed: batched (every pending job together when a result is first needed; "
        "equal to sequential up to float rounding; 4-6x faster at concurrency 32) | sequential (one at a time)",
    )

    @model_validator(mode="before")
    @classmethod
    def _steps_or_epochs(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("local_epochs") is not None:
            if data.get("local_steps") is not None:
                raise key_error("train.local_epochs", "set either train.local_steps or train.local_epochs, not both")
            data = {**data, "local_steps": None}
        return data

    @model_validator(mode="after")
    def _one_of(self):
        if self.local_steps is None and self.local_epochs is None:
            raise key_error("train.local_steps", "set train.local_steps or train.local_epochs")
        return self

    @property
    def dtype_bytes(self) -> int:
        """Bytes per parameter."""
        return 8 if self.dtype == "float64" else 4


# ------------------------------------------------------------------ heterogeneity
def _positive_rate(d: Distribution) -> Distribution:
    if d.has_atom_at_zero:
        raise ValueError("a bandwidth must be > 0")
    return d


#: A bandwidth in Mbit/s: positive, ``.inf`` allowed.
Bandwidth = Annotated[DistributionSpec, AfterValidator(_positive_rate)]


class SlowdownConfig(Section):
    """Markov-modulated slowdown: each client alternates between normal and busy periods
    (an alternating renewal process started in stationarity); while busy it computes
    ``factor`` times slower."""

    normal_s: PeriodDistribution = Field(description="duration of a normal period (s)")
    busy_s: PeriodDistribution = Field(description="duration of a busy period (s)")
    factor: FiniteDistribution = Field(
        Constant(value=2.0), description="per-client slowdown factor while busy (drawn once per client; > 0)"
    )

    @field_validator("factor")
    @classmethod
    def _positive_factor(cls, d):
        if d.has_atom_at_zero:
            raise ValueError("a slowdown factor must be > 0")
        return d


class DiurnalSpeedConfig(Section):
    """A daily profile of compute speed multipliers in each client's local time."""

    profile: list[Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(
        min_length=1, description="speed multiplier per slot of the local day (1 = nominal, 0.5 = half speed)"
    )
    day_s: float = Field(86400.0, gt=0, allow_inf_nan=False, description="length of a simulated day (s)")
    offset_h: FiniteDistribution = Field(
        Uniform(low=0.0, high=24.0), description="per-client time-zone offset in hours (the same draw as diurnal availability)"
    )


class ComputeConfig(Section):
    """Per-client compute speed."""

    seconds_per_sample: FiniteDistribution = Field(
        Constant(value=0.01), description="per-client base seconds per training sample (drawn once per client)"
    )
    jitter: FiniteDistribution = Field(
        Constant(value=1.0), description="multiplier of a task's compute time (drawn per task)"
    )
    slowdown: SlowdownConfig | None = Field(
        None, description="Markov-modulated slowdown (normal_s, busy_s, factor); null = none"
    )
    diurnal_speed: DiurnalSpeedConfig | None = Field(
        None, description="daily speed profile (profile, day_s, offset_h); null = none"
    )


class NetworkConfig(Section):
    """Per-client network links. A transfer takes latency_s + bytes*8 / (mbps*1e6)."""

    latency_s: FiniteDistribution = Field(Constant(value=0.0), description="per-client latency paid once per transfer (s)")
    down_mbps: Bandwidth = Field(Constant(value=math.inf), description="per-client download bandwidth (Mbit/s)")
    up_mbps: Bandwidth = Field(Constant(value=math.inf), description="per-client upload bandwidth (Mbit/s)")
    model_bytes: int | None = Field(
        None, ge=1, description="bytes of a model / update transfer; null = the real size of the model's parameters"
    )


class ServerConfig(Section):
    """The server's own limits: shared links and aggregation work (all unlimited by default)."""

    ingress_mbps: float = Field(math.inf, gt=0, description="server download capacity shared by client uploads (Mbit/s)")
    egress_mbps: float = Field(math.inf, gt=0, description="server upload capacity shared by client downloads (Mbit/s)")
    aggregation_s_per_update: float = Field(
        0.0, ge=0, allow_inf_nan=False, description="server time to aggregate one update; updates queue for it (s)"
    )

    @property
    def contended(self) -> bool:
        """True when a server link is finite (transfers then share it)."""
        return math.isfinite(self.ingress_mbps) or math.isfinite(self.egress_mbps)


class ProfilesTrace(Section):
    """Per-client speed and links read from a trace instead of drawn from distributions."""

    path: str = Field(description="CSV or Parquet table (client_id, seconds_per_sample, latency_s, down_mbps, up_mbps), "
                                  "or a FedScale device-capacity file")
    format: Literal["table", "fedscale"] = Field("table", description="table | fedscale (client_device_capacity)")
    replace: bool = Field(False, description="draw clients with replacement when the trace has fewer entries than clients")
    fedscale_compute_factor: float = Field(
        3.0, gt=0, allow_inf_nan=False,
        description="fedscale: seconds_per_sample = computation (ms/sample) / 1000 x this (forward + backward, as FedScale)",
    )


class CouplingConfig(Section):
    """Couple client speed to its data: a rank correlation with data size, or slow clients holding given labels."""

    by: Literal["size", "label"] = Field(description="size: speed vs number of samples | label: speed vs share of `labels`")
    strength: float = Field(ge=-1, le=1, description="target Spearman correlation between speed and the coupled quantity")
    labels: list[Annotated[int, Field(ge=0)]] = Field(
        [0], min_length=1, description="by label: the labels whose holders are slow (with a positive strength)"
    )


class HeterogeneityConfig(Section):
    """The world the clients live in: compute, network, availability, the server's limits."""

    compute: ComputeConfig = Field(ComputeConfig(), description="compute speed")
    network: NetworkConfig = Field(NetworkConfig(), description="network links")
    availability: AvailabilitySpec = Field(
        AlwaysAvailable(), description="always | onoff (on_s, off_s) | diurnal (profile, day_s, offset_h) | trace (path)"
    )
    server: ServerConfig = Field(ServerConfig(), description="shared server links and aggregation time")
    profiles: ProfilesTrace | None = Field(None, description="speed and links from a trace file; null = from the distributions")
    coupling: CouplingConfig | None = Field(None, description="speed-data coupling; null = independent")


# ---------------------------------------------------------------------- algorithm
AlgorithmField, _default_algorithm = algorithm_field()


# ------------------------------------------------------------------- stop, eval
class StopConfig(Section):
    """When the run ends: whichever criterion is met first."""

    sim_time_s: float | None = Field(40.0, gt=0, allow_inf_nan=False, description="simulated seconds")
    client_updates: int | None = Field(None, ge=1, description="client updates received by the server")
    server_updates: int | None = Field(None, ge=1, description="server model versions produced")
    target_accuracy: float | None = Field(None, gt=0, le=1, description="test accuracy that ends the run")

    @model_validator(mode="after")
    def _terminates(self):
        if self.sim_time_s is None and self.client_updates is None and self.server_updates is None:
            raise key_error(
                "stop", "set at least one of stop.sim_time_s, stop.client_updates, stop.server_updates"
            )
        return self


class EvalConfig(Section):
    """Evaluation of the global model on the held-out test set."""

    every_s: float | None = Field(1.0, gt=0, allow_inf_nan=False, description="simulated seconds between evaluations; null = only at the end")
    per_client: bool = Field(False, description="also record mean and 10th percentile of per-client accuracy")


# ------------------------------------------------------------------------- root
def _plain_name(name: str) -> str:
    """A run's or sweep's name becomes a folder name (``runs/<name>-<time>``, ``sweeps/<name>``),
    so it must not be a path: no ``/`` or ``\\``, not ``.`` or ``..``, no control characters."""
    if not name or name in (".", "..") or any(c in name for c in "/\\") or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError(
            "must be a name, not a path: a non-empty label without '/', '\\' or control characters, "
            "not '.' or '..' (to write elsewhere, pass --out)"
        )
    return name


#: A name that is safe as one folder name (see :func:`_plain_name`).
Name = Annotated[str, AfterValidator(_plain_name)]


class Config(Section):
    """A whole experiment. Load with :func:`simfl.load_config`."""

    _search_path: tuple[str, ...] = PrivateAttr(default=())

    seed: int = Field(0, ge=0, description="root of the seed tree: same seed, same world")
    name: Name | None = Field(
        None, description="a label for the run (default: the config file's stem); a name, not a path (no '/')"
    )
    data: DataConfig = Field(DataConfig(), description="dataset and partition")
    model: ModelConfig = Field(LogRegModel(), description="logreg | mlp (hidden) | cnn (channels, hidden)")
    train: TrainConfig = Field(TrainConfig(), description="local training")
    heterogeneity: HeterogeneityConfig = Field(HeterogeneityConfig(), description="compute, network, availability")
    algorithm: AlgorithmField = Field(  # type: ignore[valid-type]
        default_factory=_default_algorithm,
        description="the method: type (fedavg | fedasync | fedbuff | fedat | semisync | package.module:Name), its "
        "keys, and optional method sections (see below)",
    )
    stop: StopConfig = Field(StopConfig(), description="stop criteria")
    eval: EvalConfig = Field(EvalConfig(), description="evaluation schedule")

    @property
    def search_path(self) -> tuple[str, ...]:
        """Folders searched first for plugin modules when this config was read (its file's folder)."""
        return self._search_path

    def with_search_path(self, search_path) -> "Config":
        """A copy that remembers ``search_path`` (see :attr:`search_path`)."""
        config = self.model_copy()
        config._search_path = tuple(str(p) for p in search_path)
        return config

    @model_validator(mode="after")
    def _cross_checks(self):
        alg = self.algorithm
        try:
            alg.check(World(num_clients=self.data.num_clients, trained=self.train.enabled))
        except ParamError as exc:
            raise key_error(f"algorithm.{exc.key}", exc.message) from None
        if alg.selection.needs_losses and not self.train.enabled:
            raise key_error(
                "algorithm.selection.type", f"{alg.selection.type} needs client losses, so training (train.enabled: true)"
            )
        if self.stop.target_accuracy is not None and not self.train.enabled:
            raise key_error("stop.target_accuracy", "needs training (train.enabled: true); a dry run has no accuracy")
        return self
