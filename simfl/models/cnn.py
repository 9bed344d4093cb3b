"""``model.type: cnn``: conv3x3 + ReLU + 2x2 max-pool stages, then a hidden dense layer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from simfl.errors import ConfigError
from simfl.models.base import Layer, LayerModel, ModelParams, conv_output_hw

__all__ = ["CNN", "CNNModel"]


class CNNModel(ModelParams):
    """conv3x3 (padding 1) + ReLU + 2x2 max-pool per entry of ``channels``, then a hidden dense layer."""

    type: Literal["cnn"] = "cnn"
    channels: list[Annotated[int, Field(ge=1)]] = Field([16, 32], min_length=1, description="conv channels per stage")
    hidden: int = Field(64, ge=1, description="width of the dense layer after the convolutions")


class CNN(LayerModel):
    """Per channel count, conv 3x3 (padding 1) → ReLU → max-pool 2x2; flatten → linear (``hidden``) → ReLU → linear."""

    Params = CNNModel

    def layers(self, input_shape: tuple[int, ...], num_classes: int) -> list[Layer]:
        """The conv stages, the hidden dense layer and the output layer.

        Raises:
            ConfigError: inputs that are not images, or more stages than the image has pixels for.
        """
        channels, hidden = self.params.channels, self.params.hidden
        if len(input_shape) != 3:
            raise ConfigError(
                f"model.type: cnn needs image inputs (channels, height, width), but the dataset gives {input_shape}"
            )
        c_in, h, w = input_shape
        h_out, w_out = conv_output_hw(h, w, len(channels))
        if h_out == 0 or w_out == 0:
            raise ConfigError(f"model.channels: {len(channels)} pooling stages shrink a {h}x{w} image to nothing; use fewer")
        layers = []
        for c_out in channels:
            layers.append(Layer("conv", (c_out, c_in, 3, 3), relu=True, pool=True))
            c_in = c_out
        layers.append(Layer("linear", (hidden, c_in * h_out * w_out), relu=True))
        return [*layers, Layer("linear", (num_classes, hidden), relu=False)]
