"""Training runs for the tests: small, float64 where formulas are compared."""

import simfl
from tests.conftest import _merge

TRAIN_BASE = {
    "seed": 0,
    "data": {"dataset": "digits", "partition": "iid", "num_clients": 3},
    "model": {"type": "logreg"},
    "train": {"enabled": True, "dtype": "float64", "local_steps": 5, "batch_size": 10, "lr": 0.1},
    "heterogeneity": {"compute": {"seconds_per_sample": 0.01, "jitter": 1.0}},
    "stop": {"sim_time_s": None},
    "eval": {"every_s": None},
}


def train_run(**sections):
    return simfl.run(simfl.config_from_dict(_merge(TRAIN_BASE, sections)), progress=False)


#: A model kind written as a user would (one wide hidden layer): tests add it with one registry line.
WIDE_MODEL_SOURCE = '''
import math
from typing import Literal

from simfl.models import Layer, LayerModel, ModelParams


class WideParams(ModelParams):
    """One wide hidden layer (a test built-in)."""

    type: Literal["wide"] = "wide"
    width: int = 5


class Wide(LayerModel):
    """Flatten -> linear(width) -> ReLU -> linear (a test built-in)."""

    Params = WideParams

    def layers(self, input_shape, num_classes):
        return [Layer("linear", (self.params.width, math.prod(input_shape)), relu=True),
                Layer("linear", (num_classes, self.params.width), relu=False)]
'''
