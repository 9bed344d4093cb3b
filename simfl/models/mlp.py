"""``model.type: mlp``: a fully connected network with ReLU hidden layers."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field

from simfl.models.base import Layer, LayerModel, ModelParams

__all__ = ["MLP", "MLPModel"]


class MLPModel(ModelParams):
    """A fully connected network with ReLU hidden layers."""

    type: Literal["mlp"] = "mlp"
    hidden: list[Annotated[int, Field(ge=1)]] = Field([64], description="hidden layer widths")


class MLP(LayerModel):
    """Flatten → (linear → ReLU) per hidden width → linear."""

    Params = MLPModel

    def layers(self, input_shape: tuple[int, ...], num_classes: int) -> list[Layer]:
        """A ReLU linear layer per hidden width, then a linear layer to the classes."""
        widths = [math.prod(input_shape), *self.params.hidden]
        layers = [Layer("linear", (o, i), relu=True) for i, o in zip(widths[:-1], widths[1:])]
        return [*layers, Layer("linear", (num_classes, widths[-1]), relu=False)]
