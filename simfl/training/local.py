"""A client's local training: a pure function of (start parameters, client data, config, stream).

Which samples a task trains on comes from the client's ``k``-th training stream of the seed
tree (``Purpose.TRAIN``, keyed by client and task index): fresh permutations of the client's
data, concatenated, cut into minibatches. So the same job gives the same update whichever
algorithm dispatched it and whenever it is computed.

The SGD step matches ``torch.optim.SGD`` (dampening 0, not Nesterov) on the loss
``cross_entropy + prox_mu/2 ||w − w_start||²``, with coupled weight decay:
``g = ∇loss + weight_decay·w + prox_mu·(w − w_start)``; ``buf = g`` at the first step, then
``buf = momentum·buf + g``; ``w ← w − lr·buf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from simfl.training.models import FlatModel

__all__ = ["SGDConfig", "batch_plan", "local_sgd", "sgd_steps", "sgd_direction"]


@dataclass(frozen=True)
class SGDConfig:
    """The local optimizer's hyperparameters (from the ``train`` config section)."""

    lr: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    prox_mu: float = 0.0

    @classmethod
    def from_train(cls, train) -> "SGDConfig":
        """From a ``train`` config section."""
        return cls(train.lr, train.momentum, train.weight_decay, train.prox_mu)


def sgd_direction(
    g: torch.Tensor, w: torch.Tensor, w_start: torch.Tensor, buf: torch.Tensor | None, sgd: SGDConfig
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The step direction from a loss gradient ``g`` (modified in place): weight decay, the
    FedProx term and momentum as ``torch.optim.SGD`` does; returns it and the momentum buffer.
    Works for one parameter vector or a stack of them (batched jobs)."""
    if sgd.weight_decay:
        g.add_(w, alpha=sgd.weight_decay)
    if sgd.prox_mu:
        g.add_(w - w_start, alpha=sgd.prox_mu)
    if sgd.momentum:
        buf = g.clone() if buf is None else buf.mul_(sgd.momentum).add_(g)
        g = buf
    return g, buf


def batch_plan(num_local: int, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Indices (into the client's ``num_local`` samples) of the ``num_samples`` a task processes:
    fresh permutations concatenated, one per (partial) epoch."""
    epochs = math.ceil(num_samples / num_local)
    return np.concatenate([rng.permutation(num_local) for _ in range(epochs)])[:num_samples]


def local_sgd(
    model: FlatModel,
    w_start: torch.Tensor,
    xs: torch.Tensor,
    ys: torch.Tensor,
    batch_size: int,
    sgd: SGDConfig,
    stats: dict | None = None,
) -> torch.Tensor:
    """Run SGD over ``xs, ys`` (already in batch order) in minibatches of ``batch_size``.

    Args:
        model: the flat model.
        w_start: start parameters (not modified).
        xs: inputs of every sample the task processes, in order.
        ys: their labels.
        batch_size: samples per step (the last step may be smaller).
        sgd: hyperparameters.
        stats: if given, receives ``loss_sum``, ``loss_sq_sum`` and ``samples``: the per-sample
            training losses seen along the way (each at the parameters of its step).

    Returns:
        The parameters after the last step (a new tensor).
    """
    return sgd_steps(model.forward, w_start, xs, ys, batch_size, sgd, stats)


def sgd_steps(
    forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    w_start: torch.Tensor,
    xs: torch.Tensor,
    ys: torch.Tensor,
    batch_size: int,
    sgd: SGDConfig,
    stats: dict | None = None,
) -> torch.Tensor:
    """The SGD loop of :func:`local_sgd` for any ``forward(w, x) -> logits`` on a flat vector ``w``
    (a module's trainable part uses it too: :func:`~simfl.training.module_sgd.module_sgd`)."""
    w = w_start.clone().requires_grad_(True)
    buf = None
    total = torch.zeros((), dtype=w.dtype, device=w.device)
    total_sq = torch.zeros((), dtype=w.dtype, device=w.device)
    for start in range(0, len(ys), batch_size):
        per_sample = F.cross_entropy(forward(w, xs[start : start + batch_size]), ys[start : start + batch_size],
                                     reduction="none")
        (g,) = torch.autograd.grad(per_sample.mean(), w)
        with torch.no_grad():
            if stats is not None:
                total += per_sample.sum()
                total_sq += (per_sample * per_sample).sum()
            g, buf = sgd_direction(g, w, w_start, buf, sgd)
            w.sub_(g, alpha=sgd.lr)
    if stats is not None:
        stats.update(loss_sum=float(total), loss_sq_sum=float(total_sq), samples=len(ys))
    return w.detach()
