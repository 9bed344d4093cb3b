"""The torch trainer injected into the engine: jobs in, flat parameter vectors out.

The trainer holds the model, the data and the evaluation, and computes one job
(:meth:`TorchTrainer.compute_job`, a pure function of the job) or a group of jobs together
(:meth:`TorchTrainer.compute_group`, :mod:`simfl.training.batched`). Where and when jobs are
computed is decided by its executor (:mod:`simfl.training.executors`, ``train.executor``): in
this process job by job or batched (the local executor, lazily: when a result is first
needed), spread over several devices, or on a Dask cluster. Cancelled jobs (lost, dropped,
discarded) are forgotten, computed or not. Client shards are index ranges into one data tensor.

``model.type: torch`` (:mod:`simfl.training.torchmodel`) trains through
:mod:`simfl.training.module_sgd`; batched, it vmaps the module (see
:mod:`simfl.training.executors.local` for the fallback to one job at a time). Everything runs
on ``train.device``; parameters still cross the engine boundary as CPU numpy vectors.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from simfl.data import FederatedData
from simfl.data.drift import build_drift
from simfl.engine.protocols import Job
from simfl.errors import PluginError
from simfl.rng import Purpose, SeedTree
from simfl.scenario.population import samples_per_task
from simfl.training.batched import local_sgd_batched, step_layout
from simfl.training.local import SGDConfig, batch_plan, local_sgd
from simfl.training.device import resolve_device
from simfl.training.executors import CannotBatch, Executor, JobStats, build_executor, job_stats
from simfl.training.models import FlatModel, build_model
from simfl.training.module_sgd import module_sgd, module_sgd_batched
from simfl.training.torchmodel import ModuleModel, build_module, seeded

__all__ = ["TorchTrainer", "make_trainer", "worker_trainer"]

_DTYPES = {"float32": (torch.float32, np.float32), "float64": (torch.float64, np.float64)}
_EVAL_CHUNK = 8192


class TorchTrainer:
    """Local SGD on real data (see :mod:`simfl.training.local`) and test-set evaluation.

    Args:
        config: the run config (``model``, ``train`` and ``eval`` sections are used).
        data: every client's train/test arrays. Floating inputs are cast to ``train.dtype``;
            integer inputs (token ids) stay integers (int64) for a ``type: torch`` model.
        tree: the run's seed tree (initial model, per-task batch streams).
        model: a factory to build the model from instead of ``config.model`` (it is then a
            ``type: torch`` model; see :func:`~simfl.training.torchmodel.build_module`).
        device: a torch device name (``cuda:1``) used instead of ``train.device`` (the replicas
            of the ``devices`` executor).
    """

    def __init__(self, config, data: FederatedData, tree: SeedTree, model: Callable | None = None,
                 device: str | None = None) -> None:
        self.tree = tree
        self.train = config.train
        self.per_client = config.eval.per_client
        self.torch_dtype, self.np_dtype = _DTYPES[config.train.dtype]
        self.device = resolve_device(device or config.train.device, config.train.dtype)
        info = data.info
        self.model: FlatModel | ModuleModel
        if model is not None or config.model.type == "torch":
            module, source = build_module(config.model, info.input_shape, info.num_classes, tree,
                                          config.search_path, model)
            self.model = ModuleModel(module, info.input_shape, self.torch_dtype, self.device, source)
            #: what model ran: a built-in type or the factory's name
            self.model_source = source
        else:
            self.model = build_model(config.model, info.input_shape, info.num_classes)
            self.model_source = config.model.type
        self.custom = isinstance(self.model, ModuleModel)
        self.sgd = SGDConfig.from_train(config.train)
        self.data = data
        self.x = self._inputs(data.x)  # no copy for float32 on the CPU
        self.y = torch.from_numpy(data.y).to(self.device)
        self.x_test = self._inputs(data.x_test)
        self.y_test = torch.from_numpy(data.y_test).to(self.device)
        if self.custom and len(self.x):
            self.model.check_outputs(self.x[:2], info.num_classes)
        self.offsets = data.offsets.tolist()
        self.sizes = data.client_sizes
        #: training samples per client (the run takes client sizes from here)
        self.client_sizes = self.sizes
        self.samples = samples_per_task(config.train, self.sizes).tolist()
        self.model_bytes = self.model.num_params * np.dtype(self.np_dtype).itemsize
        self.drift = build_drift(config.data.drift, data.num_clients, data.info.num_classes, tree)
        # the client of every held-out row, to remap test labels under drift
        test_client = np.repeat(np.arange(data.num_clients), np.diff(data.test_offsets))
        self._test_client = torch.from_numpy(test_client).to(self.device)
        #: where and when jobs are computed (:mod:`simfl.training.executors`)
        self.jobs: Executor = build_executor(config.train, self, partial(worker_trainer, config, data, tree, model))

    def _inputs(self, x: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(x)
        dtype = torch.int64 if self.custom and not t.is_floating_point() else self.torch_dtype
        return t.to(device=self.device, dtype=dtype)

    # ------------------------------------------------------------ the protocol
    # Where and when jobs are computed is the executor's business (simfl.training.executors);
    # the trainer only computes one job (compute_job) or one group of jobs (compute_group).
    @property
    def executor(self) -> str:
        """The executor that computes jobs (``sequential`` after a fallback from ``batched``)."""
        return self.jobs.name

    def checkpoint_state(self) -> dict:
        """What a checkpoint keeps of the trainer: its executor's jobs waiting to be computed, the
        results computed and not yet fetched, their loss statistics (the rest is rebuilt from the
        config). Restored exactly, the batched executor groups the same jobs (bitwise equal results)."""
        return self.jobs.checkpoint_state()

    def load_checkpoint_state(self, state: dict) -> None:
        """Restore :meth:`checkpoint_state`."""
        self.jobs.load_checkpoint_state(state)

    def close(self) -> None:
        """Release the executor's resources (a Dask client and the cluster it started, GPU threads)."""
        self.jobs.close()

    def initial_params(self) -> np.ndarray:
        """The initial model, from the seed tree's ``MODEL_INIT`` stream: PyTorch-default
        initialization for built-in models, the factory's module for ``type: torch``."""
        if self.custom:
            return self.model.init()
        return self.model.init(self.tree.generator(Purpose.MODEL_INIT), self.np_dtype)

    def submit(self, job: Job) -> None:
        """Hand the job to the executor (computed now, later, or when its result is first needed)."""
        self.jobs.submit(job)

    def cancel(self, job: Job) -> None:
        """Forget a job whose result will never be needed (never computed if not yet)."""
        self.jobs.cancel(job)

    def job_stats(self, job: Job) -> tuple[float, float, int]:
        """Training-loss statistics of a trained job: (mean, root mean square, samples) of the
        per-sample losses seen during its local steps (each at the parameters of its step)."""
        return self.jobs.job_stats(job)

    def result(self, job: Job) -> np.ndarray:
        """The client's parameters after the job (trained now if not yet)."""
        return self.results([job])[0]

    def results(self, jobs: Sequence[Job]) -> list[np.ndarray]:
        """:meth:`result` for each job, in order (batched: all pending jobs are trained together)."""
        return self.jobs.results(jobs)

    def client_losses(self, params: np.ndarray, clients: np.ndarray, sim_time_s: float = 0.0) -> np.ndarray:
        """Mean cross-entropy of the model ``params`` on each client's training data as it is
        at ``sim_time_s`` (for loss-based client selection)."""
        w = torch.from_numpy(params).to(self.device)
        out = np.empty(len(clients))
        table = None if self.drift is None else torch.from_numpy(self.drift.table(sim_time_s)).to(self.device)
        with torch.no_grad():
            for i, c in enumerate(np.asarray(clients).tolist()):
                lo, hi = self.offsets[c], self.offsets[c + 1]
                y = self.y[lo:hi] if table is None else table[c][self.y[lo:hi]]
                out[i] = float(F.cross_entropy(self.model.forward(w, self.x[lo:hi]), y)) if hi > lo else 0.0
        return out

    def test_labels(self, sim_time_s: float) -> torch.Tensor:
        """The held-out labels as they are at ``sim_time_s`` (concept drift applied)."""
        if self.drift is None:
            return self.y_test
        table = torch.from_numpy(self.drift.table(sim_time_s)).to(self.device)
        return table[self._test_client, self.y_test]

    def evaluate(self, params: np.ndarray, sim_time_s: float = 0.0) -> Mapping[str, float]:
        """Mean cross-entropy and accuracy on the held-out rows as they are at ``sim_time_s``
        (+ mean and 10th percentile of per-client accuracy if asked): ``test_loss`` and
        ``test_accuracy``, or ``validation_loss`` and ``validation_accuracy`` when the data's
        held-out rows are the validation rows (``eval.split: validation``)."""
        w = torch.from_numpy(params).to(self.device)
        labels = self.test_labels(sim_time_s)
        losses, correct = [], []
        with torch.no_grad():
            for start in range(0, len(labels), _EVAL_CHUNK):
                logits = self.model.forward(w, self.x_test[start : start + _EVAL_CHUNK])
                y = labels[start : start + _EVAL_CHUNK]
                losses.append(F.cross_entropy(logits, y, reduction="sum").item())
                correct.append((logits.argmax(1) == y).cpu().numpy())
        hits = np.concatenate(correct) if correct else np.zeros(0, bool)
        n = max(len(hits), 1)
        split = self.data.held_out
        out = {f"{split}_loss": sum(losses) / n, f"{split}_accuracy": float(hits.mean()) if len(hits) else float("nan")}
        if self.per_client:
            sizes = np.diff(self.data.test_offsets)
            has = sizes > 0
            per = np.add.reduceat(hits.astype(float), self.data.test_offsets[:-1][has]) / sizes[has]
            out["client_accuracy_mean"] = float(per.mean())
            out["client_accuracy_p10"] = float(np.quantile(per, 0.1))
        return out

    # ------------------------------------------------------------------- work
    def _plan(self, client: int, task_index: int) -> tuple[np.ndarray, int]:
        """Rows of the data tensor a job processes, in order, and its batch size."""
        lo, hi = self.offsets[client], self.offsets[client + 1]
        rng = self.tree.generator(Purpose.TRAIN, client, task_index)
        return batch_plan(hi - lo, self.samples[client], rng) + lo, min(self.train.batch_size, hi - lo)

    def _label_map(self, job: Job) -> np.ndarray | None:
        return None if self.drift is None else self.drift.client_map(job.client_id, job.dispatch_time_s)

    def plan(self, job: Job) -> tuple[np.ndarray, int]:
        """Rows of the data tensor the job processes, in order, and its batch size."""
        return self._plan(job.client_id, job.task_index)

    def train_job(self, job: Job) -> np.ndarray:
        """The parameters after the job's local training (see :meth:`compute_job`)."""
        return self.compute_job(job)[0]

    def compute_job(self, job: Job) -> tuple[np.ndarray, JobStats]:
        """The job's local training, a pure function of the job (client, task index, start model,
        data time) and the trainer's config: its parameters after training and loss statistics."""
        plan, batch = self._plan(job.client_id, job.task_index)
        idx = torch.from_numpy(plan).to(self.device)
        ys = self.y[idx]
        mapping = self._label_map(job)
        if mapping is not None:
            ys = torch.from_numpy(mapping).to(self.device)[ys]
        stats: dict = {}
        start = torch.from_numpy(job.start_params).to(self.device)
        if self.custom:
            # the job's own random numbers (dropout): torch's generator seeded from its stream
            seed = int(self.tree.generator(Purpose.TRAIN, job.client_id, job.task_index, 1).integers(2**63))
            with seeded(seed, self.device):
                try:
                    w = module_sgd(self.model, start, self.x[idx], ys, batch, self.sgd, stats)
                except Exception as exc:  # the user's module failed: say whose, on one line
                    raise PluginError(f"model.factory: {self.model_source}: training client {job.client_id}'s task "
                                      f"{job.task_index} raised {type(exc).__name__}: {_first_line(exc)}") from exc
        else:
            w = local_sgd(self.model, start, self.x[idx], ys, batch, self.sgd, stats)
        return w.cpu().numpy(), job_stats(stats["loss_sum"], stats["loss_sq_sum"], stats["samples"])

    @property
    def slots_per_step(self) -> int:
        """Sample slots one job's step gathers in a batched group (batch size × input size)."""
        return self.train.batch_size * int(np.prod(self.model.input_shape))

    def steps(self, job: Job) -> int:
        """Local SGD steps of the job: its samples over its batch size (its plan is not drawn)."""
        c = job.client_id
        return -(-self.samples[c] // min(self.train.batch_size, self.offsets[c + 1] - self.offsets[c]))

    def compute_group(self, group: Sequence[Job]) -> tuple[np.ndarray, list[JobStats]]:
        """Every job of ``group`` trained together (same math as :meth:`compute_job`, up to float
        rounding): ``(len(group), P)`` parameters and each job's loss statistics.

        Raises:
            CannotBatch: a ``type: torch`` module that ``torch.func.vmap`` cannot run.
        """
        plans = [self._plan(j.client_id, j.task_index) for j in group]
        layout = step_layout([p for p, _ in plans], [b for _, b in plans])
        start = torch.from_numpy(np.stack([j.start_params for j in group])).to(self.device)
        maps = [self._label_map(j) for j in group]
        label_maps = None
        if any(m is not None for m in maps):
            identity = np.arange(self.data.info.num_classes)
            label_maps = torch.from_numpy(np.stack([identity if m is None else m for m in maps])).to(self.device)
        stats: dict = {}
        if self.custom:
            try:
                counts = (layout >= 0).sum(axis=2)
                w = module_sgd_batched(self.model, start, self.x, self.y, layout, counts, self.sgd, label_maps, stats)
            except Exception as exc:  # vmap cannot run this module
                raise CannotBatch(f"torch.func.vmap failed: {type(exc).__name__}: {_first_line(exc)}") from exc
        else:
            w = local_sgd_batched(self.model, start, self.x, self.y, layout, self.sgd, label_maps, stats)
        rows = [job_stats(stats["loss_sum"][i], stats["loss_sq_sum"][i], stats["samples"][i]) for i in range(len(group))]
        return w.cpu().numpy(), rows


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def make_trainer(config, data: FederatedData, tree: SeedTree, model: Callable | None = None) -> TorchTrainer:
    """The trainer for a config (the engine gets it injected by :func:`simfl.run`); ``model``: a
    factory used instead of ``config.model`` (``simfl.run(config, model=...)``)."""
    return TorchTrainer(config, data, tree, model)


def worker_trainer(config, data: FederatedData, tree: SeedTree, model: Callable | None = None,
                   device: str | None = None) -> TorchTrainer:
    """A trainer that computes jobs where it is built (a Dask worker, one device of several): the
    run's trainer with the local sequential executor, on ``device`` if given."""
    train = config.train.model_copy(update={"executor": "sequential"})
    return TorchTrainer(config.model_copy(update={"train": train}), data, tree, model, device)
