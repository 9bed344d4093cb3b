"""The torch trainer injected into the engine: jobs in, flat parameter vectors out.

Jobs are computed lazily, when the engine first asks for a result. The sequential executor
then trains that job alone; the batched executor trains every job submitted so far together
(:mod:`simfl.training.batched`) and keeps the results until they are asked for — in FedAsync
the first arrival computes the whole set in flight, FedAvg and FedBuff ask for a round or a
buffer at once. Cancelled jobs (lost, dropped, discarded) are forgotten, computed or not.
Client shards are index ranges into one data tensor.

``model.type: torch`` (:mod:`simfl.training.torchmodel`) trains through
:mod:`simfl.training.module_sgd`; its batched executor vmaps the module and, the first time it
cannot (or the first batched group disagrees with the sequential result of its first job), logs
one line saying why and computes every later job sequentially — same results, slower.
Everything runs on ``train.device``; parameters still cross the engine boundary as CPU numpy
vectors.
"""

from __future__ import annotations

import logging
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
from simfl.training.models import FlatModel, build_model
from simfl.training.module_sgd import module_sgd, module_sgd_batched
from simfl.training.torchmodel import ModuleModel, build_module, seeded

_log = logging.getLogger(__name__)

__all__ = ["TorchTrainer", "make_trainer"]

_DTYPES = {"float32": (torch.float32, np.float32), "float64": (torch.float64, np.float64)}
_EVAL_CHUNK = 8192
#: Largest number of sample slots (jobs × steps × batch × input size) gathered at once.
_MAX_BATCH_ELEMENTS = 1 << 24
_MAX_BATCH_JOBS = 512
#: Largest |batched − sequential| on the first batched job of a ``type: torch`` model that is
#: taken as float rounding (relative to the largest parameter, at least 1).
_VERIFY_TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-9}


class TorchTrainer:
    """Local SGD on real data (see :mod:`simfl.training.local`) and test-set evaluation.

    Args:
        config: the run config (``model``, ``train`` and ``eval`` sections are used).
        data: every client's train/test arrays. Floating inputs are cast to ``train.dtype``;
            integer inputs (token ids) stay integers (int64) for a ``type: torch`` model.
        tree: the run's seed tree (initial model, per-task batch streams).
        model: a factory to build the model from instead of ``config.model`` (it is then a
            ``type: torch`` model; see :func:`~simfl.training.torchmodel.build_module`).
    """

    def __init__(self, config, data: FederatedData, tree: SeedTree, model: Callable | None = None) -> None:
        self.tree = tree
        self.train = config.train
        self.per_client = config.eval.per_client
        self.torch_dtype, self.np_dtype = _DTYPES[config.train.dtype]
        self.device = resolve_device(config.train.device, config.train.dtype)
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
        self.batched = config.train.executor == "batched"
        #: the executor that computes jobs (``sequential`` after a fallback from ``batched``)
        self.executor = config.train.executor
        self._verified = False  # type torch: the first batched group was checked against sequential
        self.drift = build_drift(config.data.drift, data.num_clients, data.info.num_classes, tree)
        # the client of every held-out row, to remap test labels under drift
        test_client = np.repeat(np.arange(data.num_clients), np.diff(data.test_offsets))
        self._test_client = torch.from_numpy(test_client).to(self.device)
        self._pending: dict[int, Job] = {}
        self._done: dict[int, np.ndarray] = {}
        self._stats: dict[int, tuple[float, float, int]] = {}

    def _inputs(self, x: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(x)
        dtype = torch.int64 if self.custom and not t.is_floating_point() else self.torch_dtype
        return t.to(device=self.device, dtype=dtype)

    # ------------------------------------------------------------ checkpoints
    def checkpoint_state(self) -> dict:
        """What a checkpoint keeps of the trainer: the jobs waiting to be computed, the results
        computed and not yet fetched, their loss statistics (the rest is rebuilt from the config).
        Restored exactly, the batched executor groups the same jobs, so results are bitwise equal."""
        return {"pending": dict(self._pending), "done": dict(self._done), "stats": dict(self._stats),
                "executor": self.executor, "batched": self.batched, "verified": self._verified}

    def load_checkpoint_state(self, state: dict) -> None:
        """Restore :meth:`checkpoint_state`."""
        self._pending = dict(state["pending"])
        self._done = dict(state["done"])
        self._stats = dict(state["stats"])
        self.executor, self.batched, self._verified = state["executor"], state["batched"], state["verified"]

    # ------------------------------------------------------------ the protocol
    def initial_params(self) -> np.ndarray:
        """The initial model, from the seed tree's ``MODEL_INIT`` stream: PyTorch-default
        initialization for built-in models, the factory's module for ``type: torch``."""
        if self.custom:
            return self.model.init()
        return self.model.init(self.tree.generator(Purpose.MODEL_INIT), self.np_dtype)

    def submit(self, job: Job) -> None:
        """Remember the job; it is computed when its result is first needed."""
        self._pending[job.task_id] = job

    def cancel(self, job: Job) -> None:
        """Forget a job whose result will never be needed."""
        self._pending.pop(job.task_id, None)
        self._done.pop(job.task_id, None)
        self._stats.pop(job.task_id, None)

    def job_stats(self, job: Job) -> tuple[float, float, int]:
        """Training-loss statistics of a trained job: (mean, root mean square, samples) of the
        per-sample losses seen during its local steps (each at the parameters of its step)."""
        return self._stats.pop(job.task_id, (float("nan"), float("nan"), 0))

    def _record(self, task_id: int, loss_sum: float, loss_sq_sum: float, samples: int) -> None:
        n = max(int(samples), 1)
        self._stats[task_id] = (float(loss_sum) / n, float(np.sqrt(float(loss_sq_sum) / n)), int(samples))

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

    def result(self, job: Job) -> np.ndarray:
        """The client's parameters after the job (trained now if not yet)."""
        return self.results([job])[0]

    def results(self, jobs: Sequence[Job]) -> list[np.ndarray]:
        """:meth:`result` for each job, in order (batched: all pending jobs are trained together)."""
        missing = [j for j in jobs if j.task_id not in self._done]
        if missing:
            if self.batched:
                for j in missing:
                    self._pending[j.task_id] = j
                self._train_pending()
            else:
                for j in missing:
                    self._pending.pop(j.task_id, None)
                    self._done[j.task_id] = self.train_job(j)
        return [self._done.pop(j.task_id) for j in jobs]

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

    def train_job(self, job: Job) -> np.ndarray:
        """The job's local training (pure: its client, task index, start model and data time)."""
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
        self._record(job.task_id, stats["loss_sum"], stats["loss_sq_sum"], stats["samples"])
        return w.cpu().numpy()

    def _train_pending(self) -> None:
        """Train every pending job, in groups of similar step counts that fit in memory."""
        jobs = list(self._pending.values())
        self._pending.clear()
        plans = {j.task_id: self._plan(j.client_id, j.task_index) for j in jobs}
        steps = {tid: -(-len(p) // b) for tid, (p, b) in plans.items()}
        jobs.sort(key=lambda j: (steps[j.task_id], j.task_id))
        per_job = max(steps.values()) * self.train.batch_size * int(np.prod(self.model.input_shape))
        cap = max(1, min(_MAX_BATCH_JOBS, _MAX_BATCH_ELEMENTS // max(per_job, 1)))
        group: list[Job] = []
        for job in jobs:
            # a group's jobs run as many steps as its longest: keep step counts within 1.5x
            if group and (len(group) == cap or steps[job.task_id] > 1.5 * steps[group[0].task_id]):
                self._train_group(group, plans)
                group = []
            group.append(job)
        if group:
            self._train_group(group, plans)

    def _train_group(self, group: list[Job], plans: dict) -> None:
        if len(group) == 1 or self.executor == "sequential":
            for j in group:
                self._done[j.task_id] = self.train_job(j)
            return
        layout = step_layout([plans[j.task_id][0] for j in group], [plans[j.task_id][1] for j in group])
        start = torch.from_numpy(np.stack([j.start_params for j in group])).to(self.device)
        maps = [self._label_map(j) for j in group]
        label_maps = None
        if any(m is not None for m in maps):
            identity = np.arange(self.data.info.num_classes)
            label_maps = torch.from_numpy(np.stack([identity if m is None else m for m in maps])).to(self.device)
        stats: dict = {}
        if self.custom:
            w = self._train_module_group(group, start, layout, label_maps, stats)
            if w is None:  # fell back: the group was trained job by job
                return
        else:
            w = local_sgd_batched(self.model, start, self.x, self.y, layout, self.sgd, label_maps, stats).cpu().numpy()
        for i, (j, row) in enumerate(zip(group, w)):
            self._done[j.task_id] = row
            self._record(j.task_id, stats["loss_sum"][i], stats["loss_sq_sum"][i], stats["samples"][i])


    def _train_module_group(self, group: list[Job], start: torch.Tensor, layout: np.ndarray,
                            label_maps: torch.Tensor | None, stats: dict) -> np.ndarray | None:
        """A ``type: torch`` group through vmap; None after falling back to sequential jobs."""
        try:
            counts = (layout >= 0).sum(axis=2)
            w = module_sgd_batched(self.model, start, self.x, self.y, layout, counts, self.sgd, label_maps, stats)
            w = w.cpu().numpy()
        except Exception as exc:  # vmap cannot run this module: its jobs run one at a time
            self._fall_back(f"torch.func.vmap failed: {type(exc).__name__}: {_first_line(exc)}", group)
            return None
        if not self._verified:
            self._verified = True
            reference = self.train_job(group[0])
            gap = float(np.max(np.abs(reference - w[0]))) if len(reference) else 0.0
            scale = max(1.0, float(np.max(np.abs(reference))) if len(reference) else 1.0)
            if not gap <= _VERIFY_TOLERANCE[self.torch_dtype] * scale:
                self._fall_back(f"its batched result differs from the sequential one by {gap:.3g}", group)
                return None
        return w

    def _fall_back(self, why: str, group: list[Job]) -> None:
        """Compute ``group`` and every later job sequentially, saying why in one logged line."""
        self.executor = "sequential"
        _log.warning("train.executor: batched cannot run model %s (%s); its jobs run one at a time (same results, "
                     "slower)", self.model_source, why)
        for j in group:
            self._done[j.task_id] = self.train_job(j)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def make_trainer(config, data: FederatedData, tree: SeedTree, model: Callable | None = None) -> TorchTrainer:
    """The trainer for a config (the engine gets it injected by :func:`simfl.run`); ``model``: a
    factory used instead of ``config.model`` (``simfl.run(config, model=...)``)."""
    return TorchTrainer(config, data, tree, model)
