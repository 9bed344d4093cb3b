"""Sigmoid staleness: full weight for fresh updates, a smooth cut-off around ``b`` versions.

``s(τ) = (1 + e^(−k b)) / (1 + e^(k (τ − b)))``: ``s(0) = 1``, ``s(b) ≈ 1/2``, steeper with ``k``;
between the hinge function (a sharp corner at b) and the polynomial (no plateau).
"""

import math

import numpy as np

from simfl.api import Field, StalenessFunction


class Sigmoid(StalenessFunction):
    """s(tau) = (1 + exp(-k b)) / (1 + exp(k (tau - b)))."""

    k: float = Field(1.0, gt=0, allow_inf_nan=False, description="steepness of the cut-off")
    b: float = Field(4.0, ge=0, allow_inf_nan=False, description="staleness at which the weight is about 1/2")

    def __call__(self, tau):
        scale = 1.0 + math.exp(-self.k * self.b)
        if isinstance(tau, int):  # one arrival: the hot path
            return scale / (1.0 + math.exp(min(self.k * (tau - self.b), 700.0)))
        t = np.asarray(tau, dtype=float)
        return scale / (1.0 + np.exp(np.minimum(self.k * (t - self.b), 700.0)))
