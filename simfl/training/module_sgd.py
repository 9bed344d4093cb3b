"""Local SGD of a ``type: torch`` model (:class:`~simfl.training.torchmodel.ModuleModel`).

The step is the one of :mod:`simfl.training.local` (``torch.optim.SGD`` with coupled weight
decay, FedProx and momentum), applied to the trainable part of the vector; the forward pass in
train mode may update the floating buffers (BatchNorm's running statistics), which then travel
with the parameters.

:func:`module_sgd_batched` trains many jobs at once through ``torch.func.vmap`` over
``functional_call``. A module may mix samples within a batch (BatchNorm normalizes with batch
statistics), so batches are never padded: at each step the jobs still running are grouped by
the number of samples they process at that step (full batches together, partial last batches
and clients smaller than a batch apart), and each group is one vmapped forward and backward
pass. Every job thus computes exactly what :func:`module_sgd` computes, up to float rounding.
Modules that vmap cannot handle (data-dependent control flow, ``.item()``, random numbers such
as dropout, operators without a batching rule such as ``nn.LSTM``) raise here; the trainer
then runs their jobs one at a time (:mod:`simfl.training.trainer`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import vmap

from simfl.training.local import SGDConfig, sgd_direction, sgd_steps
from simfl.training.torchmodel import ModuleModel

__all__ = ["module_sgd", "module_sgd_batched"]


def module_sgd(
    model: ModuleModel,
    w_start: torch.Tensor,
    xs: torch.Tensor,
    ys: torch.Tensor,
    batch_size: int,
    sgd: SGDConfig,
    stats: dict | None = None,
) -> torch.Tensor:
    """One job's local SGD over ``xs, ys`` (already in batch order), in minibatches of ``batch_size``.

    The caller seeds torch's generator for the job (:func:`~simfl.training.torchmodel.seeded`).
    Returns the whole vector after the last step (trained part and updated buffers); ``stats``
    receives ``loss_sum``, ``loss_sq_sum`` and ``samples`` as in :func:`~simfl.training.local.local_sgd`.
    """
    p_start, c_start = model.split(w_start)
    bufs = model.buffers(c_start)
    fixed = model.fixed()
    with model.mode(True):  # the forward pass may update bufs in place
        p = sgd_steps(lambda w, x: model.call(w, bufs, fixed, x), p_start, xs, ys, batch_size, sgd, stats)
    return model.join(p, bufs)


def _step_counts(plans: list[np.ndarray], batch_sizes: list[int]) -> np.ndarray:
    """``(B, S)`` samples each job processes at each step (0 once its steps are done)."""
    steps = max(math.ceil(len(p) / b) for p, b in zip(plans, batch_sizes))
    s = np.arange(steps)
    return np.stack([np.clip(len(p) - s * b, 0, b) for p, b in zip(plans, batch_sizes)])


def module_sgd_batched(
    model: ModuleModel,
    w_start: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    layout: np.ndarray,
    counts: np.ndarray,
    sgd: SGDConfig,
    label_maps: torch.Tensor | None = None,
    stats: dict | None = None,
) -> torch.Tensor:
    """Every job's local SGD together (see the module docstring).

    Args:
        model: the module model.
        w_start: ``(B, N)`` start vectors (not modified).
        x: all training samples (jobs index into it).
        y: their labels.
        layout: ``(B, S, b)`` sample indices per job and step, valid ones first in each step
            (:func:`~simfl.training.batched.step_layout`).
        counts: ``(B, S)`` valid samples per job and step (``(layout >= 0).sum(2)``).
        sgd: hyperparameters.
        label_maps: ``(B, num_classes)`` per-job label remapping (concept drift), or None.
        stats: if given, receives per-job ``loss_sum``, ``loss_sq_sum`` and ``samples`` arrays.

    Returns:
        ``(B, N)`` vectors after each job's last step.
    """
    num, steps = counts.shape
    device = w_start.device
    idx = torch.from_numpy(layout).to(device)
    jobs = _Jobs(model, w_start, num)

    def one(p, bufs, fx, xb, yb):  # one job's step: per-sample losses (bufs, fx updated in place)
        return F.cross_entropy(model.call(p, bufs, fx, xb), yb, reduction="none")

    batched = vmap(one, randomness="error")  # a module drawing random numbers cannot be batched exactly
    with model.mode(True):
        for s in range(steps):
            for n in np.unique(counts[:, s]).tolist():
                if n == 0:
                    continue
                ids_np = np.flatnonzero(counts[:, s] == n)
                full = len(ids_np) == num
                ids = None if full else torch.from_numpy(ids_np).to(device)
                rows = idx[:, s, :n] if full else idx[ids, s, :n]
                xb, yb = x[rows], y[rows]
                if label_maps is not None:
                    maps = label_maps if full else label_maps[ids]
                    yb = maps[torch.arange(len(ids_np), device=device).unsqueeze(1), yb]
                jobs.step(batched, ids, s, xb, yb, sgd, stats is not None)
    if stats is not None:
        stats.update(loss_sum=jobs.total.cpu().numpy(), loss_sq_sum=jobs.total_sq.cpu().numpy(),
                     samples=counts.sum(1))
    return model.join(jobs.P, jobs.C)


class _Jobs:
    """Every job's running state in :func:`module_sgd_batched`: trained parts ``P``, buffers ``C``,
    fixed inputs, momentum and loss sums, each with one row per job."""

    def __init__(self, model: ModuleModel, w_start: torch.Tensor, num: int) -> None:
        self.p_start, c_start = model.split(w_start)
        self.P = self.p_start.clone()
        self.C = model.buffers(c_start)  # one (B, *shape) tensor per buffer
        self.fixed = model.fixed(num)
        self.mom: torch.Tensor | None = None
        self.total = torch.zeros(num, dtype=self.P.dtype, device=w_start.device)
        self.total_sq = torch.zeros(num, dtype=self.P.dtype, device=w_start.device)

    def step(self, batched, ids: torch.Tensor | None, s: int, xb: torch.Tensor, yb: torch.Tensor, sgd: SGDConfig,
             record: bool) -> None:
        """Step ``s`` of the jobs ``ids`` (None: every job), one vmapped forward and backward pass."""
        full = ids is None
        p = (self.P if full else self.P[ids]).requires_grad_(True)
        c = self.C if full else [b[ids] for b in self.C]
        fx = self.fixed if full else {k: v[ids] for k, v in self.fixed.items()}
        ce = batched(p, c, fx, xb, yb)  # (k, n) losses; each job's buffers updated in place
        (g,) = torch.autograd.grad(ce.mean(1).sum(), p)  # jobs are independent: per-job gradients
        with torch.no_grad():
            if record:
                self._record(ids, ce)
            # every job's first step is step 0: no momentum buffer yet
            prev = None if s == 0 or self.mom is None else (self.mom if full else self.mom[ids])
            g, buf = sgd_direction(g, p, self.p_start if full else self.p_start[ids], prev, sgd)
            p.sub_(g, alpha=sgd.lr)
            p = p.detach()
            if full:
                self.P, self.mom = p, buf
            else:
                self._scatter(ids, p, c, fx, buf)

    def _record(self, ids: torch.Tensor | None, ce: torch.Tensor) -> None:
        if ids is None:
            self.total += ce.sum(1)
            self.total_sq += (ce * ce).sum(1)
        else:
            self.total[ids] += ce.sum(1)
            self.total_sq[ids] += (ce * ce).sum(1)

    def _scatter(self, ids: torch.Tensor, p: torch.Tensor, c: list, fx: dict, buf: torch.Tensor | None) -> None:
        """Write a group's stepped rows back."""
        self.P[ids] = p
        for b, b_ids in zip(self.C, c):
            b[ids] = b_ids
        for k, v in fx.items():
            self.fixed[k][ids] = v
        if buf is not None:
            if self.mom is None:
                self.mom = torch.zeros_like(self.P)
            self.mom[ids] = buf
