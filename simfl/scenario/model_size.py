"""Parameter counts of the configured models, without torch (for dry-run transfer sizes).

A model's count is its registry component's (kind ``model``): the built-in flat models sum
their layers (:mod:`simfl.models`); the torch models of :mod:`simfl.training` are tested to
have exactly these counts.
"""

from __future__ import annotations

from simfl import registry
from simfl.models.base import ModelKind, conv_output_hw

__all__ = ["param_count", "conv_output_hw", "model_kind"]


def model_kind(model) -> ModelKind:
    """The registry component of a ``model`` config section, built from it."""
    component = registry.resolve("model", model.type)
    return component.build(model)


def param_count(model, input_shape: tuple[int, ...], num_classes: int) -> int:
    """Number of trainable parameters of ``model`` (a model config) on inputs of ``input_shape``."""
    return model_kind(model).param_count(tuple(input_shape), num_classes)
