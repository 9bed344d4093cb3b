"""Local SGD for many jobs at once: the same math as :func:`~simfl.training.local.local_sgd`.

Jobs are stacked: parameters ``(B, P)``, the samples each processes laid out step by step
``(B, S, b, ...)`` with a mask for padding. Jobs may differ in start model, client, data size,
batch size (a client smaller than a batch) and number of steps (``local_epochs``): a job's
loss at a step is the mean over its valid samples, and a job whose steps are done stops
moving (its update is masked out). Because each job's loss depends only on its own
parameters, one backward pass of the summed loss gives every job its own gradient.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from simfl.training.local import SGDConfig, sgd_direction
from simfl.training.models import FlatModel

__all__ = ["step_layout", "local_sgd_batched"]


def step_layout(plans: list[np.ndarray], batch_sizes: list[int]) -> np.ndarray:
    """Sample indices laid out ``(B, S, b)`` with ``-1`` padding.

    Job ``j`` processes ``plans[j]`` in steps of ``batch_sizes[j]`` samples (the last may be
    partial); ``S`` is the largest number of steps and ``b`` the largest batch.
    """
    steps = [math.ceil(len(p) / bs) for p, bs in zip(plans, batch_sizes)]
    out = np.full((len(plans), max(steps), max(batch_sizes)), -1, dtype=np.int64)
    for j, (plan, bs, s) in enumerate(zip(plans, batch_sizes, steps)):
        padded = np.full(s * bs, -1, dtype=np.int64)
        padded[: len(plan)] = plan
        out[j, :s, :bs] = padded.reshape(s, bs)
    return out


def local_sgd_batched(
    model: FlatModel,
    w_start: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    layout: np.ndarray,
    sgd: SGDConfig,
    label_maps: torch.Tensor | None = None,
    stats: dict | None = None,
) -> torch.Tensor:
    """Run every job's local SGD together.

    Args:
        model: the flat model.
        w_start: ``(B, P)`` start parameters (not modified).
        x: all training samples (one tensor; jobs index into it).
        y: their labels.
        layout: ``(B, S, b)`` sample indices per job and step, ``-1`` for padding
            (see :func:`step_layout`).
        sgd: hyperparameters.
        label_maps: ``(B, num_classes)`` per-job label remapping (concept drift), or None.
        stats: if given, receives per-job ``loss_sum``, ``loss_sq_sum`` and ``samples`` arrays
            (see :func:`~simfl.training.local.local_sgd`).

    Returns:
        ``(B, P)`` parameters after each job's last step.
    """
    idx = torch.from_numpy(layout).to(x.device)
    valid = idx >= 0
    xs = x[idx.clamp(min=0)]  # (B, S, b, ...) — padding rows are masked out of the loss
    ys = y[idx.clamp(min=0)]
    if label_maps is not None:
        ys = label_maps[torch.arange(len(layout), device=x.device).view(-1, 1, 1), ys]
    counts = valid.sum(dim=2)  # (B, S) samples per job and step
    num, steps, b = layout.shape
    w = w_start.clone().requires_grad_(True)
    weights = valid.to(w.dtype) / counts.clamp(min=1).unsqueeze(2).to(w.dtype)  # per-sample 1/count
    mask = valid.to(w.dtype)
    total = torch.zeros(num, dtype=w.dtype, device=w.device)
    total_sq = torch.zeros(num, dtype=w.dtype, device=w.device)
    buf = None
    for s in range(steps):
        logits = model.forward_batched(w, xs[:, s])  # (B, b, C)
        ce = F.cross_entropy(logits.reshape(num * b, -1), ys[:, s].reshape(-1), reduction="none").view(num, b)
        loss = (ce * weights[:, s]).sum()  # Σ_jobs mean over the job's valid samples
        (g,) = torch.autograd.grad(loss, w)
        if stats is not None:
            with torch.no_grad():
                masked = ce * mask[:, s]
                total += masked.sum(1)
                total_sq += (masked * ce).sum(1)
        with torch.no_grad():
            g, buf = sgd_direction(g, w, w_start, buf, sgd)
            active = (counts[:, s] > 0).to(w.dtype).unsqueeze(1)  # jobs whose steps are not done
            w.sub_(g * active, alpha=sgd.lr)
    if stats is not None:
        stats.update(loss_sum=total.cpu().numpy(), loss_sq_sum=total_sq.cpu().numpy(),
                     samples=valid.sum(dim=(1, 2)).cpu().numpy())
    return w.detach()
