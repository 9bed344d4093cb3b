"""``model.type: logreg``: multinomial logistic regression on flattened inputs."""

from __future__ import annotations

import math
from typing import Literal

from simfl.models.base import Layer, LayerModel, ModelParams

__all__ = ["LogReg", "LogRegModel"]


class LogRegModel(ModelParams):
    """Multinomial logistic regression on flattened inputs."""

    type: Literal["logreg"] = "logreg"


class LogReg(LayerModel):
    """Flatten → linear."""

    Params = LogRegModel

    def layers(self, input_shape: tuple[int, ...], num_classes: int) -> list[Layer]:
        """One linear layer from the flattened input to the classes."""
        return [Layer("linear", (num_classes, math.prod(input_shape)), relu=False)]
