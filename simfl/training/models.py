"""Models as pure functions of a flat parameter vector: ``forward(w, x) -> logits``.

Parameters live in one flat tensor laid out like ``torch.nn.utils.parameters_to_vector`` of
the equivalent ``nn.Sequential`` (:meth:`FlatModel.module`): for each layer, its weight then
its bias. Local SGD then updates one tensor in place, and parameters cross the engine boundary
as flat vectors without any copy or reshaping.

The layers are the model's registry component's (kind ``model``; :mod:`simfl.models`:
``logreg``, ``mlp``, ``cnn``), so one description gives both the count and the build.

Initialization follows PyTorch's defaults for ``nn.Linear``/``nn.Conv2d`` (uniform in
±1/sqrt(fan_in) for weights and biases), drawn from a numpy generator of the seed tree.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simfl.models.base import Layer, LayerModel
from simfl.scenario.model_size import model_kind

__all__ = ["FlatModel", "build_model"]


class FlatModel:
    """A stack of layers evaluated on views of a flat parameter vector."""

    def __init__(self, layers: list[Layer], input_shape: tuple[int, ...]) -> None:
        self.layers = layers
        self.input_shape = tuple(input_shape)
        self._slices = []
        offset = 0
        for layer in layers:
            w_size, b_size = layer.sizes
            self._slices.append((offset, offset + w_size, offset + w_size + b_size))
            offset += w_size + b_size
        self.num_params = offset
        self._has_conv = any(layer.kind == "conv" for layer in layers)

    def forward(self, w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch ``x`` (shape ``(n, *input_shape)``) under parameters ``w``."""
        h = x if self._has_conv else x.reshape(x.shape[0], -1)
        for layer, (a, b, c) in zip(self.layers, self._slices):
            weight = w[a:b].view(layer.weight_shape)
            bias = w[b:c]
            if layer.kind == "conv":
                h = F.conv2d(h, weight, bias, padding=1)
            else:
                if h.dim() > 2:
                    h = h.reshape(h.shape[0], -1)
                h = F.linear(h, weight, bias)
            if layer.relu:
                h = F.relu(h)
            if layer.pool:
                h = F.max_pool2d(h, 2)
        return h

    def forward_batched(self, w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Logits of ``B`` models at once: ``w`` is ``(B, P)``, ``x`` is ``(B, n, *input_shape)``.

        Hand-batched kernels: linear layers are one ``baddbmm`` for all models; convolutions
        run as one grouped convolution (``groups = B``) on inputs laid out ``(n, B·C, H, W)``.
        Model ``j``'s logits equal ``forward(w[j], x[j])`` up to floating-point rounding.
        """
        num, n = x.shape[0], x.shape[1]
        conv_layout = self._has_conv
        h = x.transpose(0, 1).reshape(n, num * self.input_shape[0], *self.input_shape[1:]) if conv_layout else x.reshape(num, n, -1)
        for layer, (a, b, c) in zip(self.layers, self._slices):
            weight = w[:, a:b].view(num, *layer.weight_shape)
            bias = w[:, b:c]
            if layer.kind == "conv":
                out_c = layer.weight_shape[0]
                h = F.conv2d(h, weight.reshape(num * out_c, *layer.weight_shape[1:]), bias.reshape(-1), padding=1, groups=num)
            else:
                if conv_layout:  # (n, B*C, H, W) -> (B, n, C*H*W), per-model flatten order (C, H, W)
                    h = h.reshape(n, num, -1).transpose(0, 1)
                    conv_layout = False
                h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
            if layer.relu:
                h = F.relu(h)
            if layer.pool:
                h = F.max_pool2d(h, 2)
        return h

    def init(self, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
        """PyTorch-default initialization: U(±1/sqrt(fan_in)) for every weight and bias."""
        parts = []
        for layer in self.layers:
            bound = 1.0 / math.sqrt(layer.fan_in)
            w_size, b_size = layer.sizes
            parts.append(rng.uniform(-bound, bound, w_size + b_size))
        return np.concatenate(parts).astype(dtype)

    def module(self) -> nn.Sequential:
        """The equivalent ``nn.Sequential`` (same parameter order), e.g. for plain-PyTorch baselines."""
        mods: list[nn.Module] = [] if self._has_conv else [nn.Flatten()]
        flattened = not self._has_conv
        for layer in self.layers:
            if layer.kind == "conv":
                out_c, in_c = layer.weight_shape[:2]
                mods.append(nn.Conv2d(in_c, out_c, 3, padding=1))
            else:
                if not flattened:
                    mods.append(nn.Flatten())
                    flattened = True
                mods.append(nn.Linear(layer.weight_shape[1], layer.weight_shape[0]))
            if layer.relu:
                mods.append(nn.ReLU())
            if layer.pool:
                mods.append(nn.MaxPool2d(2))
        return nn.Sequential(*mods)


def build_model(model_cfg, input_shape: tuple[int, ...], num_classes: int) -> FlatModel:
    """The :class:`FlatModel` of a ``model`` config section for a dataset's input shape: the layers
    its registry component gives (:mod:`simfl.models`)."""
    kind = model_kind(model_cfg)
    if not isinstance(kind, LayerModel):
        raise ValueError(f"model type {model_cfg.type!r} is not a stack of layers; build it with simfl.training.torchmodel")
    return FlatModel(kind.layers(tuple(input_shape), num_classes), input_shape)
