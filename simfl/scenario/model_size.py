"""Parameter counts of the configured models, without torch (for dry-run transfer sizes).

The torch models of :mod:`simfl.training` are tested to have exactly these counts.
"""

from __future__ import annotations

import math

from simfl.errors import ConfigError

__all__ = ["param_count", "conv_output_hw"]


def conv_output_hw(h: int, w: int, stages: int) -> tuple[int, int]:
    """Spatial size after ``stages`` of (3x3 conv, padding 1) + 2x2 max-pool (floor)."""
    for _ in range(stages):
        h, w = h // 2, w // 2
    return h, w


def param_count(model, input_shape: tuple[int, ...], num_classes: int) -> int:
    """Number of trainable parameters of ``model`` (a model config) on inputs of ``input_shape``."""
    d = math.prod(input_shape)
    if model.type == "logreg":
        return (d + 1) * num_classes
    if model.type == "mlp":
        widths = [d, *model.hidden, num_classes]
        return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    if model.type == "cnn":
        if len(input_shape) != 3:
            raise ConfigError(
                f"model.type: cnn needs image inputs (channels, height, width), but the dataset gives {input_shape}"
            )
        c_in, h, w = input_shape
        h_out, w_out = conv_output_hw(h, w, len(model.channels))
        if h_out == 0 or w_out == 0:
            raise ConfigError(
                f"model.channels: {len(model.channels)} pooling stages shrink a {h}x{w} image to nothing; use fewer"
            )
        total = 0
        for c_out in model.channels:
            total += (c_in * 9 + 1) * c_out
            c_in = c_out
        flat = c_in * h_out * w_out
        return total + (flat + 1) * model.hidden + (model.hidden + 1) * num_classes
    if model.type == "torch":  # counted by building it: simfl.training.torchmodel.flat_size
        raise ConfigError("model.type: a torch model's size is known only from its factory (simfl.running.dry_model_bytes)")
    raise ConfigError(f"model.type: unknown model {model.type!r}")
