"""The configuration schema: frozen, validated sections, one per component.

Every field carries a description; ``docs/config.md`` is generated from them
(``python -m simfl.config.docs``). The design: ``docs/architecture.md``. A ``dist:`` key
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
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from simfl import registry
from simfl.config.params import ParamError, World, algorithm_field, component_field, key_error
from simfl.data.kinds import DATASETS, DATASETS_HELP, PATH_HELP, SOURCE_DATASETS
from simfl.models.cnn import CNNModel
from simfl.models.factory import TorchModel
from simfl.models.logreg import LogRegModel
from simfl.models.mlp import MLPModel
from simfl.registry import is_import_path
from simfl.scenario.availability import AlwaysAvailable, AvailabilitySpec
from simfl.scenario.distributions import (
    MAX_FINITE,
    Constant,
    Distribution,
    DistributionSpec,
    FiniteDistribution,
    PeriodDistribution,
    Uniform,
    _representable,
)
from simfl.strict import FilePath, StrictModel
from simfl.tagged import tagged_union
from simfl.config.executors import ExecutorField, executor_spec  # noqa: I001 (train.executor)

__all__ = [
    "Config",
    "DataConfig",
    "ModelConfig",
    "LogRegModel",
    "MLPModel",
    "CNNModel",
    "TorchModel",
    "TrainConfig",
    "ComputeConfig",
    "NetworkConfig",
    "HeterogeneityConfig",
    "StopConfig",
    "EvalConfig",
    "RunConfig",
    "LimitsConfig",
    "NON_RESULT_SECTIONS",
    "TrackingConfig",
    "MlflowTracking",
    "WandbTracking",
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


#: Validation-context key under which :func:`simfl.config.load.resolve_num_clients` passes why
#: ``num_clients: null`` could not be resolved, as ``(key, message)``: reported with the other errors.
UNRESOLVED_CLIENTS = "unresolved_num_clients"


class DataConfig(Section):
    """Which dataset, how many clients, how it is split among them.

    Datasets with their own clients (``leaf``, ``arrays``, ``huggingface``, ``python``): under
    ``partition: natural`` client ``c`` is the data's ``c``-th client (LEAF: users in file
    order; otherwise the distinct client ids in sorted order) and ``num_clients`` may be null
    (all of them) or smaller (the first N); ``clients`` takes those named instead (LEAF: user
    names; otherwise the client id as text), in the data's order, client ids renumbered 0..n-1.
    Every run's ``clients.parquet`` names its clients (``client_name``: these names, else the
    client id as text). Their test split: the data's own test set when it
    has one (LEAF ``test/``; ``x_test``/``y_test``; a ``test`` split or ``split`` column) —
    split by client when its client ids are training clients (client ``c``'s held-out data are
    its test rows, the global test set is their union), otherwise *shared* (held by no client:
    ``eval.per_client`` and ``data.drift`` then have no per-client test data and are refused);
    without one, every client holds out ``test_fraction`` of its rows. Under iid / dirichlet /
    shards the data's train and test rows are pooled and repartitioned, as for idx.
    """

    _search_path: tuple[str, ...] = PrivateAttr(default=())

    dataset: Literal[DATASETS] = Field(  # type: ignore[valid-type]
        "synthetic", description=DATASETS_HELP)
    num_clients: int | None = Field(
        30, ge=1,
        description="number of clients in the population; null = every client of the data's own split "
        "(leaf, arrays, huggingface, python: the default there; with data.clients: as many as it names); under "
        "natural a smaller number takes the first N",
    )
    clients: list[str] | None = Field(
        None, min_length=1,
        description="leaf/arrays/huggingface/python under partition natural: the data's clients to take, by name "
        "(LEAF: user names; otherwise the client id as text, e.g. \"17\"; integers are read as text); they keep "
        "the data's order (client ids 0..n-1 follow it, whatever the order of the list) and their own test rows; "
        "null = the first num_clients",
    )

    @model_validator(mode="before")
    @classmethod
    def _all_clients_by_default(cls, data: Any) -> Any:
        """A dataset that brings its own clients has all of them unless num_clients says otherwise;
        ``clients`` names as many as it lists."""
        if not isinstance(data, dict):
            return data
        named = data.get("clients")
        if isinstance(named, list) and named and data.get("num_clients") is None:
            return {**data, "num_clients": len(named)}
        if "num_clients" not in data and data.get("dataset") in SOURCE_DATASETS:
            data = {**data, "num_clients": None}
        return data

    @field_validator("clients", mode="before")
    @classmethod
    def _names_as_text(cls, value: Any) -> Any:
        """Client ids written as integers (``clients: [17, 23]``) are the names ``"17"``, ``"23"``."""
        if isinstance(value, (list, tuple)):
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return value

    @model_serializer(mode="wrap")
    def _without_absent_clients(self, handler) -> Any:
        """A dump leaves ``clients`` out when it is null: configs written before the key keep their
        dump, so their run ids (digests of it) stay the same."""
        data = handler(self)
        if isinstance(data, dict) and data.get("clients", 0) is None:
            del data["clients"]
        return data
    partition: Literal["natural", "iid", "dirichlet", "shards", "flwr"] = Field(
        "natural",
        description="natural (synthetic: one generated distribution per client; leaf/arrays/huggingface/python: "
        "the data's own clients) | iid (equal sizes) | "
        "dirichlet (Hsu et al. 2019: each client's label mix ~ Dir(dirichlet_alpha · class frequencies)) | shards (McMahan et al. 2017: sorted by label, "
        "shards_per_client shards each) | flwr (a Flower Datasets partitioner: flwr_partitioner, flwr_kwargs; "
        "needs flwr-datasets)",
    )
    dirichlet_alpha: float = Field(0.5, gt=0, allow_inf_nan=False, description="concentration of the dirichlet partition")
    shards_per_client: int = Field(2, ge=1, description="shards per client for the shards partition")
    flwr_partitioner: str | None = Field(
        None,
        description="partition flwr: a class of flwr_datasets.partitioner (e.g. PathologicalPartitioner) or an "
        "import path; num_partitions, partition_by (label) and seed (from the seed tree) are filled in",
    )
    flwr_kwargs: dict[str, Any] = Field(default_factory=dict, description="partition flwr: the partitioner's arguments")
    quantity_skew: float | None = Field(
        None, ge=0, allow_inf_nan=False,
        description="iid/dirichlet/shards: client sizes proportional to lognormal(0, quantity_skew) draws; null = no skew",
    )
    synthetic_alpha: float = Field(1.0, ge=0, allow_inf_nan=False, description="Synthetic(alpha, beta): model heterogeneity")
    synthetic_beta: float = Field(1.0, ge=0, allow_inf_nan=False, description="Synthetic(alpha, beta): feature heterogeneity")
    synthetic_iid: bool = Field(False, description="synthetic: the IID variant (one global W, b; features centred)")
    test_fraction: float = Field(
        0.2, gt=0, lt=1,
        description="fraction of each client's samples held out (when the data have no test set of their own); "
        "the test set is their union",
    )
    validation_fraction: float = Field(
        0.0, ge=0, lt=1,
        description="fraction of each client's training samples held out as its validation part "
        "(floor(f * n), at most n - 1; drawn per client from the seed tree): the run trains on the rest, and "
        "eval.split: validation evaluates there (what tuning measures; the test set is left alone); 0 = none",
    )
    path: FilePath | None = Field(
        None,
        description="idx: folder of IDX files | leaf: folder with train/ (and test/) of .json files, or a .json file "
        "| arrays: .npz or .parquet file | huggingface: save_to_disk folder, data file, or folder with train.<ext> "
        "(and test.<ext>)",
    )
    source: str | None = Field(
        None,
        description="python: package.module:function returning a mapping {x, y[, client_id, x_test, y_test, "
        "client_id_test]}, a tuple (x, y[, client_id[, x_test, y_test]]) or a torch Dataset with client ids "
        "(see simfl.data.pysource); looked up in the config's folder first",
    )
    source_kwargs: dict[str, Any] = Field(default_factory=dict, description="python: keyword arguments of `source`")
    features: str | list[str] | None = Field(
        None,
        description="arrays (.parquet) / huggingface: feature column(s); null = column x, else the one column "
        "besides label and client (parquet: every other column)",
    )
    label: str | None = Field(None, description="arrays (.parquet) / huggingface: label column; null = y, else label "
                                                "(huggingface: label, else y)")
    client_column: str | None = Field(
        None, description="arrays (.parquet) / huggingface: column naming each row's client; null = client_id if present"
    )
    num_classes: int | None = Field(
        None, ge=1,
        description="leaf/arrays/huggingface/python: labels lie in [0, num_classes); null = largest label + 1 "
        "(over all clients, train and test)",
    )
    input_dtype: Literal["auto", "float32", "int64"] = Field(
        "auto",
        description="leaf/arrays/huggingface/python: auto (float inputs are features, integer inputs are token ids) "
        "| float32 (read integers as numbers, e.g. raw pixels) | int64 (token ids: sequences need a model with an "
        "embedding, model.type: torch)",
    )
    input_shape: list[Annotated[int, Field(ge=1)]] | None = Field(
        None, min_length=1,
        description="leaf/arrays/huggingface/python: reshape every sample to this shape, e.g. [1, 28, 28] for "
        "FEMNIST's 784-value vectors (the cnn model takes channels, height, width); null = as stored",
    )
    drift: list[DriftEvent] = Field(default_factory=list, description="scheduled changes of client data (concept drift)")

    @property
    def search_path(self) -> tuple[str, ...]:
        """Folders searched first for ``source``'s module (the config file's folder, from validation)."""
        return self._search_path

    @property
    def feature_columns(self) -> list[str] | None:
        """``features`` as a list (None: the default columns)."""
        return [self.features] if isinstance(self.features, str) else self.features

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo):
        own = self.dataset in SOURCE_DATASETS
        if self.partition == "natural" and self.dataset not in ("synthetic", *SOURCE_DATASETS):
            raise key_error(
                "data.partition",
                f"'natural' exists for synthetic and datasets with their own clients ({', '.join(SOURCE_DATASETS)}); "
                f"for {self.dataset} use iid, dirichlet or shards",
            )
        if self.dataset in PATH_HELP and not self.path:
            raise key_error("data.path", f"dataset {self.dataset} needs data.path: {PATH_HELP[self.dataset]}")
        if self.dataset == "python":
            if not self.source or not is_import_path(self.source):
                raise key_error("data.source", f"dataset python needs data.source: package.module:function, got {self.source!r}")
        elif self.source is not None or self.source_kwargs:
            raise key_error("data.source" if self.source is not None else "data.source_kwargs", "only for dataset python")
        if (self.partition == "flwr") != (self.flwr_partitioner is not None):
            raise key_error("data.flwr_partitioner", "set it exactly when data.partition is flwr")
        if self.flwr_kwargs and self.partition != "flwr":
            raise key_error("data.flwr_kwargs", "only for partition flwr")
        if self.partition == "flwr" and self.quantity_skew:
            raise key_error("data.quantity_skew", "not with partition flwr (the partitioner sets the sizes)")
        columns = {"features": self.features, "label": self.label, "client_column": self.client_column}
        for key, value in columns.items():
            if value is not None and self.dataset not in ("arrays", "huggingface"):
                raise key_error(f"data.{key}", f"only for datasets arrays (.parquet) and huggingface, not {self.dataset}")
        if not own and (self.num_classes is not None or self.input_dtype != "auto" or self.input_shape is not None):
            key = ("data.num_classes" if self.num_classes is not None else
                   "data.input_dtype" if self.input_dtype != "auto" else "data.input_shape")
            raise key_error(key, f"only for datasets {', '.join(SOURCE_DATASETS)}, not {self.dataset}")
        self._check_named_clients(own)
        if self.num_clients is None and not own:
            raise key_error(
                "data.num_clients",
                f"null (every client of the data) needs a dataset with its own clients ({', '.join(SOURCE_DATASETS)}), "
                f"not {self.dataset}",
            )
        self._search_path = tuple((info.context or {}).get("search_path", ())) if info is not None else ()
        unresolved = (info.context or {}).get(UNRESOLVED_CLIENTS) if info is not None else None
        if own and self.num_clients is None and unresolved is not None:
            raise key_error(*unresolved)  # counting the data's clients failed (simfl.config.load.resolve_num_clients)
        return self

    def _check_named_clients(self, own: bool) -> None:
        """``clients``: a dataset with names of its own, partition natural, no name twice, and as many
        as ``num_clients`` (which it sets when absent)."""
        if self.clients is None:
            return
        if not own:
            raise key_error("data.clients", f"selects clients by name, which only datasets with their own clients "
                                            f"have ({', '.join(SOURCE_DATASETS)}), not {self.dataset}")
        if self.partition != "natural":
            raise key_error("data.clients", f"selects the data's own clients: only under partition natural, "
                                            f"not {self.partition}")
        twice = next((name for i, name in enumerate(self.clients) if name in self.clients[:i]), None)
        if twice is not None:
            raise key_error("data.clients", f"{twice!r} is listed twice")
        if self.num_clients is not None and self.num_clients != len(self.clients):
            raise key_error("data.num_clients", f"{self.num_clients} but data.clients names {len(self.clients)} "
                                                "clients; leave num_clients out (or null) or make the two agree")


# -------------------------------------------------------------------------- model
#: The models, by ``model.type``: the parameter models of the registry's ``model`` entries (one
#: registry line adds a model; the torch model's keys live in :mod:`simfl.models.factory`, no torch).
MODELS = {name: registry.resolve("model", name).params for name in registry.builtins("model")}
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
    device: Literal["cpu", "cuda", "mps", "auto"] = Field(
        "cpu",
        description="where training and evaluation run: cpu | cuda | mps | auto (cuda if present, else mps, else cpu); "
        "parameters cross the engine boundary as CPU vectors either way; a device that is not present is an error",
    )
    executor: ExecutorField = Field(
        "batched",
        description="where and how jobs are computed: batched (in this process, every pending job together when a "
        "result is first needed; equal to sequential up to float rounding; 4-6x faster at concurrency 32; model.type "
        "torch: through torch.func.vmap, falling back to sequential with one logged line when the module cannot be "
        "vmapped) | sequential (in this process, one at a time) | dask or {type: dask, ...} (a dask.distributed "
        "cluster, bitwise equal to sequential) | devices or {type: devices, ...} (several GPUs); see docs/scale.md",
    )

    _executor = field_validator("executor", mode="before")(executor_spec)

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
    if d.is_finite:
        _representable(d)
        low = float(d.ppf(1e-12))
        if not low > 1.0 / MAX_FINITE:
            raise ValueError(f"its parameters underflow: draws reach {low:.3g} Mbit/s, so a transfer would never end")
    return d


#: Largest model (and update) on the wire: 1 PB.
MAX_MODEL_BYTES = 10**15

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
        None, ge=1, le=MAX_MODEL_BYTES, description="bytes of a model / update transfer; null = the real size of the model's parameters"
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

    path: FilePath = Field(description="CSV or Parquet table (client_id, seconds_per_sample, latency_s, down_mbps, up_mbps), "
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

    sim_time_s: float | None = Field(40.0, gt=0, le=MAX_FINITE, allow_inf_nan=False, description="simulated seconds")
    client_updates: int | None = Field(None, ge=1, description="client updates received by the server")
    server_updates: int | None = Field(None, ge=1, description="server model versions produced")
    target_accuracy: float | None = Field(None, gt=0, le=1, description="accuracy (on the evaluated split, eval.split) that ends the run")

    @model_validator(mode="after")
    def _terminates(self):
        if self.sim_time_s is None and self.client_updates is None and self.server_updates is None:
            raise key_error(
                "stop", "set at least one of stop.sim_time_s, stop.client_updates, stop.server_updates"
            )
        return self


class EvalConfig(Section):
    """Evaluation of the global model on the held-out test set (or the validation rows: ``split``)."""

    every_s: float | None = Field(1.0, gt=0, allow_inf_nan=False, description="simulated seconds between evaluations; null = only at the end")
    per_client: bool = Field(False, description="also record mean and 10th percentile of per-client accuracy")
    split: Literal["test", "validation"] = Field(
        "test",
        description="what the global model is evaluated on: test (the test set; evals columns test_loss, "
        "test_accuracy) | validation (the clients' validation rows, needs data.validation_fraction > 0; columns "
        "validation_loss, validation_accuracy; no row of the test set reaches the trainer: tuning trials run so)",
    )
    divergence_factor: float | None = Field(
        1000.0, gt=1, allow_inf_nan=False,
        description="a run whose evaluated loss exceeds this multiple of the initial model's (the first "
        "evaluation's) ends as diverged, as one with NaN or inf does, the reason in the manifest "
        "(diverged_because); null = only NaN or inf",
    )


class RunConfig(Section):
    """How a run is carried out (not what it computes: these keys do not change a run's id)."""

    checkpoint_every_s: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="simulated seconds between checkpoints of the whole state (DIR/checkpoint.pkl); "
        "simfl run --resume DIR continues from the last one, with the same tables as an uninterrupted run; "
        "null = none",
    )


class LimitsConfig(Section):
    """Bounds that refuse runs too large for the machine before they start (raise them if you mean it).

    The estimates are stated in the error: memory from the population, the model copies in
    flight and the task log; events from the stop criteria and how fast tasks end.
    """

    memory_gb: float = Field(16.0, gt=0, allow_inf_nan=False, description="estimated peak memory a run may need (GB)")
    events: float = Field(
        1e9, gt=0, description="estimated client updates a run may simulate (bounds an unbounded stop such as a "
        "huge stop.sim_time_s)"
    )
    evaluations: float = Field(1e6, gt=0, description="evaluations a run may make (stop.sim_time_s / eval.every_s)")
    events_per_instant: int = Field(
        10_000_000, ge=1, description="events at one simulated time beyond which a run stops as no_progress"
    )


#: Sections that change how a run is carried out, not its results: left out of run ids.
NON_RESULT_SECTIONS = ("run", "limits", "tracking")
# --------------------------------------------------------------------- tracking
class MlflowTracking(Section):
    """An MLflow run per simfl run (needs pip install 'simfl[mlflow]')."""

    tracking_uri: str | None = Field(
        None, min_length=1,
        description="where MLflow stores runs, e.g. sqlite:///mlflow.db or http://host:5000; null = MLflow's "
        "default (MLFLOW_TRACKING_URI)",
    )
    experiment: str = Field("simfl", min_length=1, description="MLflow experiment the runs go to (created if missing)")


class WandbTracking(Section):
    """A Weights & Biases run per simfl run (needs pip install 'simfl[wandb]')."""

    project: str = Field("simfl", min_length=1, description="W&B project the runs go to")
    group: str | None = Field(
        None, min_length=1,
        description="W&B group of the runs; null = a sweep's name (its output folder's name) for a sweep's runs, "
        "else none",
    )
    mode: Literal["online", "offline", "disabled"] | None = Field(
        None,
        description="online: stream to the W&B server | offline: write runs locally, upload later with wandb sync "
        "| disabled: log nothing; null = wandb's default (WANDB_MODE, else online)",
    )
    dir: str | None = Field(
        None, min_length=1,
        description="folder wandb writes its local files under (DIR/wandb/...; relative: to the current directory; "
        "made if missing); null = wandb's default (WANDB_DIR, else the current directory)",
    )


def _callback_shorthand(value: Any) -> Any:
    """``my_cb:Watch`` is short for ``{type: my_cb:Watch}``."""
    return {"type": value} if isinstance(value, str) else value


#: One item of ``tracking.callbacks``: an import path, or a mapping with ``type`` and the callback's keys.
CallbackField = Annotated[component_field("callback"), BeforeValidator(_callback_shorthand)]


class TrackingConfig(Section):
    """Live tracking (docs/tracking.md): scalars against simulated time while the run goes.

    Observation only: it never changes a run's results, so it is not part of a run's id.
    """

    tensorboard: str | None = Field(
        None, min_length=1,
        description="TensorBoard log directory (relative: to the current directory); each run writes a "
        "sub-directory named by its run directory, else its run id (needs pip install 'simfl[tracking]')",
    )
    mlflow: MlflowTracking | None = Field(None, description="log each run to MLflow: {tracking_uri, experiment}; {} = defaults, null = off")
    wandb: WandbTracking | None = Field(
        None, description="log each run to Weights & Biases: {project, group, mode, dir}; {} = defaults, null = off"
    )
    callbacks: list[CallbackField] = Field(  # type: ignore[valid-type]
        default_factory=list,
        description="your callbacks (docs/tracking.md), each an import path package.module:Name or "
        "{type: package.module:Name, its keys}; the module is looked up next to the config first; each run "
        "builds its own, in the process that runs it",
    )
    timeout_s: float = Field(
        30.0, gt=0, le=3600,
        description="trackers are told on their own threads, off the simulation's path; at the end of a run "
        "it waits at most this long (seconds of wall-clock time) for them to catch up, then names a tracker "
        "that did not in the manifest's tracking_errors and goes on without it",
    )


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
    model: ModelConfig = Field(LogRegModel(), description="logreg | mlp (hidden) | cnn (channels, hidden) | torch (factory, kwargs)")
    train: TrainConfig = Field(TrainConfig(), description="local training")
    heterogeneity: HeterogeneityConfig = Field(HeterogeneityConfig(), description="compute, network, availability")
    algorithm: AlgorithmField = Field(  # type: ignore[valid-type]
        default_factory=_default_algorithm,
        description="the method: its type, its keys, and optional method sections (see below)",
    )
    stop: StopConfig = Field(StopConfig(), description="stop criteria")
    eval: EvalConfig = Field(EvalConfig(), description="evaluation schedule")
    run: RunConfig = Field(RunConfig(), description="checkpoints (does not change a run's id)")
    limits: LimitsConfig = Field(LimitsConfig(), description="size limits checked before a run starts (do not change a run's id)")
    tracking: TrackingConfig = Field(
        TrackingConfig(), description="live tracking: TensorBoard, MLflow, W&B, your callbacks (not part of a run's id)"
    )

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
        if self.eval.split == "validation" and not self.data.validation_fraction:
            raise key_error("eval.split", "validation needs validation rows: set data.validation_fraction > 0")
        if self.stop.target_accuracy is not None and not self.train.enabled:
            raise key_error("stop.target_accuracy", "needs training (train.enabled: true); a dry run has no accuracy")
        self._positive_task_time()
        return self

    def _positive_task_time(self) -> None:
        """A task must take positive simulated time, or the clock could stop (a run that never ends)."""
        het = self.heterogeneity
        if het.profiles is not None:
            return  # speed and links come from a trace: checked on the population (and guarded in the engine)
        net, compute = het.network, het.compute
        instant_links = net.latency_s.has_atom_at_zero and not net.down_mbps.is_finite and not net.up_mbps.is_finite
        instant_compute = compute.seconds_per_sample.has_atom_at_zero or compute.jitter.has_atom_at_zero
        if instant_links and instant_compute:
            key = "seconds_per_sample" if compute.seconds_per_sample.has_atom_at_zero else "jitter"
            raise key_error(
                f"heterogeneity.compute.{key}",
                "a task could take 0 s (0 compute with zero latency and infinite bandwidth), so simulated time "
                "would not advance: make the compute, the latency or a bandwidth positive and finite",
            )
