"""The torch trainer injected into the engine: jobs in, flat parameter vectors out.

Jobs are computed lazily, when the engine first asks for a result. The sequential executor
then trains that job alone; the batched executor trains every job submitted so far together
(:mod:`simfl.training.batched`) and keeps the results until they are asked for — in FedAsync
the first arrival computes the whole set in flight, FedAvg and FedBuff ask for a round or a
buffer at once. Cancelled jobs (lost, dropped, discarded) are forgotten, computed or not.
Client shards are index ranges into one data tensor.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from simfl.data import FederatedData
from simfl.data.drift import build_drift
from simfl.engine.protocols import Job
from simfl.rng import Purpose, SeedTree
from simfl.scenario.population import samples_per_task
from simfl.training.batched import local_sgd_batched, step_layout
from simfl.training.local import SGDConfig, batch_plan, local_sgd
from simfl.training.models import FlatModel, build_model

__all__ = ["TorchTrainer", "make_trainer"]

_DTYPES = {"float32": (torch.float32, np.float32), "float64": (torch.float64, np.float64)}
_EVAL_CHUNK = 8192
#: Largest number of sample slots (jobs × steps × batch × input size) gathered at once.
_MAX_BATCH_ELEMENTS = 1 << 24
_MAX_BATCH_JOBS = 512


class TorchTrainer:
    """Local SGD on real data (see :mod:`simfl.training.local`) and test-set evaluation.

    Args:
        config: the run config (``model``, ``train`` and ``eval`` sections are used).
        data: every client's train/test arrays.
        tree: the run's seed tree (initial model, per-task batch streams).
    """

    def __init__(self, config, data: FederatedData, tree: SeedTree) -> None:
        self.tree = tree
        self.train = config.train
        self.per_client = config.eval.per_client
        self.torch_dtype, self.np_dtype = _DTYPES[config.train.dtype]
        self.model: FlatModel = build_model(config.model, data.info.input_shape, data.info.num_classes)
        self.sgd = SGDConfig.from_train(config.train)
        self.data = data
        self.x = torch.from_numpy(data.x).to(self.torch_dtype)  # no copy for float32
        self.y = torch.from_numpy(data.y)
        self.x_test = torch.from_numpy(data.x_test).to(self.torch_dtype)
        self.y_test = torch.from_numpy(data.y_test)
        self.offsets = data.offsets.tolist()
        self.sizes = data.client_sizes
        #: training samples per client (the run takes client sizes from here)
        self.client_sizes = self.sizes
        self.samples = samples_per_task(config.train, self.sizes).tolist()
        self.model_bytes = self.model.num_params * np.dtype(self.np_dtype).itemsize
        self.batched = config.train.executor == "batched"
        self.drift = build_drift(config.data.drift, data.num_clients, data.info.num_classes, tree)
        # the client of every held-out row, to remap test labels under drift
        self._test_client = torch.from_numpy(np.repeat(np.arange(data.num_clients), np.diff(data.test_offsets)))
        self._pending: dict[int, Job] = {}
        self._done: dict[int, np.ndarray] = {}
        self._stats: dict[int, tuple[float, float, int]] = {}

    # ------------------------------------------------------------ checkpoints
    def checkpoint_state(self) -> dict:
        """What a checkpoint keeps of the trainer: the jobs waiting to be computed, the results
        computed and not yet fetched, their loss statistics (the rest is rebuilt from the config).
        Restored exactly, the batched executor groups the same jobs, so results are bitwise equal."""
        return {"pending": dict(self._pending), "done": dict(self._done), "stats": dict(self._stats)}

    def load_checkpoint_state(self, state: dict) -> None:
        """Restore :meth:`checkpoint_state`."""
        self._pending = dict(state["pending"])
        self._done = dict(state["done"])
        self._stats = dict(state["stats"])

    # ------------------------------------------------------------ the protocol
    def initial_params(self) -> np.ndarray:
        """PyTorch-default initialization from the seed tree's ``MODEL_INIT`` stream."""
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
        w = torch.from_numpy(params)
        out = np.empty(len(clients))
        table = None if self.drift is None else torch.from_numpy(self.drift.table(sim_time_s))
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
        table = torch.from_numpy(self.drift.table(sim_time_s))
        return table[self._test_client, self.y_test]

    def evaluate(self, params: np.ndarray, sim_time_s: float = 0.0) -> Mapping[str, float]:
        """Mean cross-entropy and accuracy on the test set as it is at ``sim_time_s``
        (+ mean and 10th percentile of per-client accuracy if asked)."""
        w = torch.from_numpy(params)
        labels = self.test_labels(sim_time_s)
        losses, correct = [], []
        with torch.no_grad():
            for start in range(0, len(labels), _EVAL_CHUNK):
                logits = self.model.forward(w, self.x_test[start : start + _EVAL_CHUNK])
                y = labels[start : start + _EVAL_CHUNK]
                losses.append(F.cross_entropy(logits, y, reduction="sum").item())
                correct.append((logits.argmax(1) == y).numpy())
        hits = np.concatenate(correct) if correct else np.zeros(0, bool)
        n = max(len(hits), 1)
        out = {"test_loss": sum(losses) / n, "test_accuracy": float(hits.mean()) if len(hits) else float("nan")}
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
        idx = torch.from_numpy(plan)
        ys = self.y[idx]
        mapping = self._label_map(job)
        if mapping is not None:
            ys = torch.from_numpy(mapping)[ys]
        stats: dict = {}
        w = local_sgd(self.model, torch.from_numpy(job.start_params), self.x[idx], ys, batch, self.sgd, stats)
        self._record(job.task_id, stats["loss_sum"], stats["loss_sq_sum"], stats["samples"])
        return w.numpy()

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
        if len(group) == 1:
            j = group[0]
            self._done[j.task_id] = self.train_job(j)
            return
        layout = step_layout([plans[j.task_id][0] for j in group], [plans[j.task_id][1] for j in group])
        start = torch.from_numpy(np.stack([j.start_params for j in group]))
        maps = [self._label_map(j) for j in group]
        label_maps = None
        if any(m is not None for m in maps):
            identity = np.arange(self.data.info.num_classes)
            label_maps = torch.from_numpy(np.stack([identity if m is None else m for m in maps]))
        stats: dict = {}
        w = local_sgd_batched(self.model, start, self.x, self.y, layout, self.sgd, label_maps, stats).numpy()
        for i, (j, row) in enumerate(zip(group, w)):
            self._done[j.task_id] = row
            self._record(j.task_id, stats["loss_sum"][i], stats["loss_sq_sum"][i], stats["samples"][i])


def make_trainer(config, data: FederatedData, tree: SeedTree) -> TorchTrainer:
    """The trainer for a config (the engine gets it injected by :func:`simfl.run`)."""
    return TorchTrainer(config, data, tree)
