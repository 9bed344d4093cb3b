"""Staleness functions s(τ): the damping of an update trained τ server versions ago.

Xie, Koyejo, Gupta (2019), "Asynchronous Federated Optimization" (arXiv:1903.03934), §5.2:
constant, polynomial ``(τ + 1)^(−a)`` and hinge ``1`` for ``τ ≤ b``, else ``1/(a(τ − b) + 1)``, with
their parameter names a and b (the defaults, a = 0.5 for the polynomial and a = 10, b = 4 for the
hinge, are among the values of their experiments); exponential as used in later asynchronous
FL work (no single source). FedBuff (Nguyen et al. 2022) uses the polynomial with a = 0.5,
``1/sqrt(1 + τ)``. Each function maps τ ≥ 0 into (0, 1] (in floating point the exponential
underflows to 0 once a·τ > ~745), is non-increasing, and is written in YAML as
``{type: NAME, ...}``.

Extension point: a staleness function is a subclass of :class:`StalenessFunction` (a frozen
pydantic model): its fields are its parameters, ``__call__(tau)`` its value. Name it in a config
by its import path, ``algorithm.staleness: {type: package.module:Name, ...}`` (see
``docs/plugins.md``); the built-ins are registered in :mod:`simfl.registry`.
"""

from __future__ import annotations

import abc
import math

import numpy as np
from pydantic import ConfigDict, Field

from simfl.strict import StrictModel

__all__ = [
    "StalenessFunction",
    "ConstantStaleness",
    "PolynomialStaleness",
    "HingeStaleness",
    "ExponentialStaleness",
]


class StalenessFunction(StrictModel):
    """Base class; extension point: parameters as fields, and ``__call__(tau)``.

    ``__call__`` receives a Python ``int`` τ ≥ 0 on the per-arrival hot path (return a float)
    and may receive an array of τ (return an array); it should map τ into (0, 1] and not
    increase with τ.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(description="a built-in name or an import path package.module:Name")

    @abc.abstractmethod
    def __call__(self, tau):
        """s(τ) for an integer staleness τ ≥ 0 (vectorized)."""
        raise NotImplementedError


class ConstantStaleness(StalenessFunction):
    """s(τ) = 1: every update counts fully."""

    type: str = "constant"

    def __call__(self, tau):
        return 1.0 if isinstance(tau, int) else np.ones(np.shape(tau))


class PolynomialStaleness(StalenessFunction):
    """s(τ) = (τ + 1)^(−a)."""

    type: str = "polynomial"
    a: float = Field(0.5, ge=0, allow_inf_nan=False, description="decay exponent")

    def __call__(self, tau):
        if isinstance(tau, int):  # the per-arrival hot path
            return (tau + 1.0) ** (-self.a)
        return (np.asarray(tau, dtype=float) + 1.0) ** (-self.a)


class HingeStaleness(StalenessFunction):
    """s(τ) = 1 if τ ≤ b else 1 / (a(τ − b) + 1)."""

    type: str = "hinge"
    a: float = Field(10.0, ge=0, allow_inf_nan=False, description="slope after the hinge")
    b: float = Field(4.0, ge=0, allow_inf_nan=False, description="staleness tolerated at full weight")

    def __call__(self, tau):
        if isinstance(tau, int):
            return 1.0 if tau <= self.b else 1.0 / (self.a * (tau - self.b) + 1.0)
        t = np.asarray(tau, dtype=float)
        return np.where(t <= self.b, 1.0, 1.0 / (self.a * (t - self.b) + 1.0))


class ExponentialStaleness(StalenessFunction):
    """s(τ) = exp(−a τ)."""

    type: str = "exponential"
    a: float = Field(0.5, ge=0, allow_inf_nan=False, description="decay rate per version")

    def __call__(self, tau):
        if isinstance(tau, int):
            return math.exp(-self.a * tau)
        return np.exp(-self.a * np.asarray(tau, dtype=float))
