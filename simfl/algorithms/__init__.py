"""Aggregation math, staleness functions and server optimizers (pure, no simulation)."""

from simfl.algorithms.aggregation import (
    Accumulator,
    fedat_tier_weights,
    accumulate,
    accumulate_init,
    accumulated_mean,
    mix,
    weighted_average,
)
from simfl.algorithms.fedopt import ServerOptimizerSpec, fedadagrad, fedadam, fedyogi
from simfl.algorithms.optim import ServerOptimizer, apply_update, chain, fedavgm, scale, sgd, trace
from simfl.algorithms.staleness import (
    ConstantStaleness,
    ExponentialStaleness,
    HingeStaleness,
    PolynomialStaleness,
    StalenessFunction,
)

__all__ = [
    "Accumulator",
    "fedat_tier_weights",
    "accumulate",
    "accumulate_init",
    "accumulated_mean",
    "mix",
    "weighted_average",
    "ServerOptimizer",
    "ServerOptimizerSpec",
    "fedavgm",
    "fedadagrad",
    "fedadam",
    "fedyogi",
    "trace",
    "apply_update",
    "chain",
    "scale",
    "sgd",
    "StalenessFunction",
    "ConstantStaleness",
    "PolynomialStaleness",
    "HingeStaleness",
    "ExponentialStaleness",
]
