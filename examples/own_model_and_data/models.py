"""Model factories for ``model: {type: torch, factory: "models:NAME", kwargs: {...}}``.

A factory is called as ``factory(input_shape=..., num_classes=..., **kwargs)`` and returns a
``torch.nn.Module`` mapping a batch ``(n, *input_shape)`` to logits ``(n, num_classes)``. simfl
seeds torch's generator from the run's seed tree while it runs, so the initial model depends
only on the seed. Put this file next to a config and name a factory as ``models:bn_cnn``.

* :func:`bn_cnn` — a BatchNorm CNN for images ``(1, 8, 8)`` (digits) or ``(1, 28, 28)`` (MNIST).
  Its running statistics travel with the parameters and are averaged like them.
* :func:`lstm` — an LSTM classifier over integer token sequences ``(T,)``: embedding, one LSTM
  layer, a linear layer on the last hidden state. ``cell: unrolled`` (the default) writes the
  LSTM out gate by gate, which the batched executor can vmap; ``cell: torch`` uses
  ``nn.LSTM`` (same parameters and math), which ``torch.func.vmap`` cannot batch, so simfl
  trains its jobs one at a time (it logs one line saying so).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["bn_cnn", "lstm", "UnrolledLSTM"]


def bn_cnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    channels: Sequence[int] = (16, 32),
    hidden: int = 64,
    bn_momentum: float | None = 0.1,
) -> nn.Module:
    """Per entry of ``channels``: conv 3x3 (padding 1) → BatchNorm → ReLU → max-pool 2x2; then
    flatten → linear (``hidden``) → ReLU → linear.

    ``bn_momentum`` is BatchNorm's ``momentum`` (PyTorch's default 0.1: each training batch moves
    the running statistics 10% of the way to its own).
    """
    if len(input_shape) != 3:
        raise ValueError(f"bn_cnn needs images (channels, height, width), got input_shape {tuple(input_shape)}")
    c, h, w = input_shape
    layers: list[nn.Module] = []
    for out in channels:
        layers += [nn.Conv2d(c, out, 3, padding=1), nn.BatchNorm2d(out, momentum=bn_momentum), nn.ReLU(), nn.MaxPool2d(2)]
        c, h, w = out, h // 2, w // 2
    if h == 0 or w == 0:
        raise ValueError(f"{len(channels)} pooling stages shrink a {input_shape[1]}x{input_shape[2]} image to nothing")
    layers += [nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)]
    return nn.Sequential(*layers)


class UnrolledLSTM(nn.Module):
    """One LSTM layer over ``(n, T, input_size)`` (batch first), returning the last hidden state.

    Same parameters (names, shapes, PyTorch's initialization U(±1/sqrt(hidden))) and math as
    ``nn.LSTM(input_size, hidden_size, batch_first=True)``, gates in the order i, f, g, o,
    written out step by step so that ``torch.func.vmap`` can batch it.
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih_l0 = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh_l0 = nn.Parameter(torch.empty(4 * hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():  # nn.LSTM's order and law
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        h = x.new_zeros(n, self.hidden_size)
        c = x.new_zeros(n, self.hidden_size)
        inputs = F.linear(x, self.weight_ih_l0, self.bias_ih_l0)  # (n, T, 4H) for every step at once
        for t in range(x.shape[1]):
            gates = inputs[:, t] + F.linear(h, self.weight_hh_l0, self.bias_hh_l0)
            i, f, g, o = gates.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        return h


class _LSTMClassifier(nn.Module):
    def __init__(self, vocab_size: int, num_classes: int, embed_dim: int, hidden: int, cell: str) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.torch_cell = cell == "torch"
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True) if self.torch_cell else UnrolledLSTM(embed_dim, hidden)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.lstm(self.embed(tokens.long()))
        if self.torch_cell:
            h = h[0][:, -1]
        return self.out(h)


def lstm(
    input_shape: tuple[int, ...],
    num_classes: int,
    vocab_size: int,
    embed_dim: int = 16,
    hidden: int = 32,
    cell: str = "unrolled",
) -> nn.Module:
    """Embedding (``vocab_size`` × ``embed_dim``) → LSTM (``hidden``) → linear on the last step.

    Inputs are token ids in ``[0, vocab_size)``, one sequence of length ``input_shape[0]`` per
    sample. ``cell``: ``unrolled`` (:class:`UnrolledLSTM`, batched by vmap) or ``torch``
    (``nn.LSTM``, trained one job at a time).
    """
    if len(input_shape) != 1:
        raise ValueError(f"lstm needs token sequences (length,), got input_shape {tuple(input_shape)}")
    if cell not in ("unrolled", "torch"):
        raise ValueError(f"cell must be 'unrolled' or 'torch', got {cell!r}")
    return _LSTMClassifier(vocab_size, num_classes, embed_dim, hidden, cell)
