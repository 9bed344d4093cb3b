"""What a model kind is: its parameter model, its parameter count, and (for the built-in flat
models) its layers, without torch."""

from __future__ import annotations

import math
from dataclasses import dataclass

from simfl.strict import StrictModel

__all__ = ["ModelParams", "ModelKind", "Layer", "LayerModel", "conv_output_hw"]


class ModelParams(StrictModel):
    """Base of every model's keys (the ``model`` config section)."""


class ModelKind:
    """A model of the registry (kind ``model``): built as ``cls(params)`` from its ``Params``."""

    Params: type[ModelParams] = ModelParams

    def __init__(self, params: ModelParams) -> None:
        self.params = params

    def param_count(self, input_shape: tuple[int, ...], num_classes: int) -> int:
        """Number of trainable parameters on inputs of ``input_shape``."""
        raise NotImplementedError

    param_count.__simfl_default__ = True  # type: ignore[attr-defined]  (the registry's hook check)


@dataclass(frozen=True)
class Layer:
    """One layer on the flat vector: its weight (then its bias) and what follows it.

    Attributes:
        kind: ``linear`` (weight ``(out, in)``) or ``conv`` (3x3, padding 1; weight ``(out, in, 3, 3)``).
        weight_shape: the weight's shape; the bias has ``weight_shape[0]`` values.
        relu: a ReLU follows.
        pool: a 2x2 max-pool follows (after the ReLU).
    """

    kind: str
    weight_shape: tuple[int, ...]
    relu: bool
    pool: bool = False

    @property
    def fan_in(self) -> int:
        """Inputs of one output unit (PyTorch's default initialization bound is 1/sqrt of it)."""
        return math.prod(self.weight_shape[1:])

    @property
    def sizes(self) -> tuple[int, int]:
        """Values of the weight and of the bias."""
        return math.prod(self.weight_shape), self.weight_shape[0]


class LayerModel(ModelKind):
    """A model given as a stack of :class:`Layer`\\ s: counted by summing them."""

    def layers(self, input_shape: tuple[int, ...], num_classes: int) -> list[Layer]:
        """The layers, first to last, on inputs of ``input_shape``."""
        raise NotImplementedError

    layers.__simfl_default__ = True  # type: ignore[attr-defined]  (the registry's hook check)

    def param_count(self, input_shape: tuple[int, ...], num_classes: int) -> int:
        """Sum of the layers' weights and biases."""
        return sum(sum(layer.sizes) for layer in self.layers(tuple(input_shape), num_classes))


def conv_output_hw(h: int, w: int, stages: int) -> tuple[int, int]:
    """Spatial size after ``stages`` of (3x3 conv, padding 1) + 2x2 max-pool (floor)."""
    for _ in range(stages):
        h, w = h // 2, w // 2
    return h, w
