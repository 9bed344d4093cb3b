"""The built-in models as torch-free descriptions: their keys and their layers.

Each built-in model is one module here: a class with a nested ``Params`` (its config keys, the
``model`` section) and ``layers(input_shape, num_classes)``; the registry names it (kind
``model``). Counting the parameters sums the layers (no torch); :mod:`simfl.training.models`
builds the same layers on a flat parameter vector. Imports no config, no torch.
"""

from simfl.models.base import Layer, LayerModel, ModelKind, ModelParams, conv_output_hw

__all__ = ["Layer", "LayerModel", "ModelKind", "ModelParams", "conv_output_hw"]
