"""The adaptive FedOpt server optimizers and the built-in ``algorithm.server_optimizer`` specs.

Reddi et al. 2021, "Adaptive Federated Optimization" (ICLR), Algorithm 2, whose server input
is the average client delta ``Δ_t = −g``:

    m_t = β1·m_{t−1} + (1 − β1)·Δ_t                       (m_{−1} = 0)
    v_t = v_{t−1} + Δ_t²                                  FedAdagrad
    v_t = β2·v_{t−1} + (1 − β2)·Δ_t²                      FedAdam
    v_t = v_{t−1} − (1 − β2)·Δ_t²·sign(v_{t−1} − Δ_t²)    FedYogi
    x_{t+1} = x_t + η·m_t / (√v_t + τ)

with no bias correction (Algorithm 2 has none) and ``v_{−1} ≥ τ²``, an input condition of
Algorithm 2; the default ``initial_accumulator`` is that bound, ``v_{−1} = τ²``.

Reddi et al.'s reference code (github.com/google-research/federated, ``optimization/``) does
not run Algorithm 2 literally: ``optimization/shared/optimizer_utils.py`` (moved to
``utils/optimizers/optimizer_utils.py`` in June 2021) wraps Keras optimizers, so FedAdam (Keras
Adam) and FedYogi (the repository's own Keras Yogi, ``optimization/shared/keras_optimizers/yogi.py``,
now ``utils/optimizers/yogi.py``) rescale the rate by ``√(1 − β2^t)/(1 − β1^t)`` (bias
correction), FedAdagrad is Keras Adagrad with no first moment (``β1 = 0``), and
``optimization/docs/hyperparameters.md`` lists ``initial_accumulator_value=0.0`` for Adagrad and
Yogi (Keras Adam also starts from ``v = 0``). To match the runs rather than the algorithm, pass
``initial_accumulator=0.0`` (and ``beta1=0.0`` for FedAdagrad) and ``bias_correction=True``.

Bias correction (Kingma & Ba 2015, the line before their §2.1) rescales FedAdam's and FedYogi's
rate at the t-th server step to ``η_t = η·√(1 − β2^t)/(1 − β1^t)`` (:func:`scale_by_bias_correction`),
with ``t = 1`` at the first step. Flower's ``FedAdam`` (``flwr.server.strategy.FedAdam`` and
``flwr.serverapp.strategy.FedAdam``, checked against the flwr 1.42.0 wheel) applies the same
factor with ``t = server_round + 1``, i.e. ``t = 2`` at its first round: off by one from Kingma &
Ba. ``bias_correction_offset = 1`` reproduces it (``t = k + 1`` at the k-th step); Flower's
``FedYogi`` and ``FedAdagrad`` have no bias correction. Flower starts ``v`` (and ``m``) at 0, so
``initial_accumulator = 0`` as well; the key-by-key mapping is in ``docs/config.md``.
"""

from __future__ import annotations

import abc
import math
from typing import Any, Callable, NamedTuple

import numpy as np
from pydantic import ConfigDict, Field

from simfl.algorithms.optim import ServerOptimizer, _check, _float_dtype, chain, fedavgm, scale, sgd
from simfl.strict import StrictModel

__all__ = [
    "ScaleByAdaptiveState",
    "BiasCorrectionState",
    "scale_by_bias_correction",
    "scale_by_fedadagrad",
    "scale_by_fedadam",
    "scale_by_fedyogi",
    "fedadagrad",
    "fedadam",
    "fedyogi",
    "ServerOptimizerSpec",
    "SGDSection",
    "AvgMSection",
    "AdagradSection",
    "AdamSection",
    "YogiSection",
]


class ScaleByAdaptiveState(NamedTuple):
    """State of the FedOpt preconditioners (Reddi et al. 2021, Algorithm 2).

    Attributes:
        m: First moment ``m_t`` of the client deltas ``Δ = −g`` (``m_{−1} = 0``).
        v: Second-moment accumulator ``v_t`` (``v_{−1}`` = ``initial_accumulator``).
    """

    m: np.ndarray
    v: np.ndarray


class BiasCorrectionState(NamedTuple):
    """State of :func:`scale_by_bias_correction`.

    Attributes:
        count: Server steps taken so far (0 before the first).
    """

    count: int


def scale_by_bias_correction(beta1: float, beta2: float, offset: int = 0) -> ServerOptimizer:
    """Adam's bias correction as a transformation: ``u = g·√(1 − β2^t)/(1 − β1^t)``.

    ``t = k + offset`` at the k-th call (k = 1, 2, ...): ``offset = 0`` is Kingma & Ba's step
    count, ``offset = 1`` Flower's ``FedAdam`` (its ``server_round + 1``). Placed between a
    preconditioner and ``scale(−η)`` it turns ``η`` into Kingma & Ba's ``α_t``.

    Args:
        beta1: First-moment decay ``β1 ∈ [0, 1)`` of the preconditioner it corrects.
        beta2: Second-moment decay ``β2 ∈ [0, 1)``.
        offset: Added to the step count (≥ 0).
    """
    beta1 = _check("beta1", beta1, 0.0, 1.0)
    beta2 = _check("beta2", beta2, 0.0, 1.0)
    if int(offset) != offset or offset < 0:
        raise ValueError(f"bias_correction_offset must be a non-negative integer, got {offset!r}")
    offset = int(offset)

    def update(g, state):
        count = state.count + 1
        t = count + offset
        factor = math.sqrt(1.0 - beta2**t) / (1.0 - beta1**t)
        g = np.asarray(g)
        return g.dtype.type(factor) * g, BiasCorrectionState(count=count)

    return ServerOptimizer(lambda params: BiasCorrectionState(count=0), update)


# --------------------------------------------------------------------------- FedOpt


def _scale_by_adaptive(
    second_moment: Callable[[np.ndarray, np.ndarray, Any], np.ndarray],
    beta1: float,
    beta2: float,
    tau: float,
    initial_accumulator: float | None,
) -> ServerOptimizer:
    """Shared body of Algorithm 2: first moment, ``second_moment(v, Δ², dtype)``, preconditioning."""
    beta1 = _check("beta1", beta1, 0.0, 1.0)
    beta2 = _check("beta2", beta2, 0.0, 1.0)
    tau = _check("tau", tau, 0.0, lo_open=True)
    v0 = tau * tau if initial_accumulator is None else _check("initial_accumulator", initial_accumulator, 0.0)

    def init(params):
        dtype = _float_dtype(params)
        shape = np.shape(params)
        return ScaleByAdaptiveState(m=np.zeros(shape, dtype), v=np.full(shape, v0, dtype))

    def update(g, state):
        dtype = state.m.dtype
        delta = -np.asarray(g, dtype)
        m = dtype.type(beta1) * state.m + dtype.type(1.0 - beta1) * delta
        v = second_moment(state.v, delta * delta, dtype)
        # −m_t/(√v_t + τ): the preconditioned step in the pseudo-gradient's sign convention.
        return -(m / (np.sqrt(v) + dtype.type(tau))), ScaleByAdaptiveState(m=m, v=v)

    return ServerOptimizer(init, update)


def scale_by_fedadagrad(
    beta1: float = 0.9, tau: float = 1e-3, initial_accumulator: float | None = None
) -> ServerOptimizer:
    """FedAdagrad preconditioner: ``v_t = v_{t−1} + Δ_t²``; outputs ``−m_t/(√v_t + τ)``.

    See :func:`fedadagrad` for the arguments.
    """
    return _scale_by_adaptive(lambda v, d2, dtype: v + d2, beta1, 0.0, tau, initial_accumulator)


def scale_by_fedadam(
    beta1: float = 0.9, beta2: float = 0.99, tau: float = 1e-3, initial_accumulator: float | None = None
) -> ServerOptimizer:
    """FedAdam preconditioner: ``v_t = β2·v_{t−1} + (1 − β2)·Δ_t²``; outputs ``−m_t/(√v_t + τ)``.

    See :func:`fedadam` for the arguments.
    """

    def second_moment(v, d2, dtype):
        return dtype.type(beta2) * v + dtype.type(1.0 - beta2) * d2

    return _scale_by_adaptive(second_moment, beta1, beta2, tau, initial_accumulator)


def scale_by_fedyogi(
    beta1: float = 0.9, beta2: float = 0.99, tau: float = 1e-3, initial_accumulator: float | None = None
) -> ServerOptimizer:
    """FedYogi preconditioner: ``v_t = v_{t−1} − (1 − β2)·Δ_t²·sign(v_{t−1} − Δ_t²)``.

    ``v_t ≥ 0`` whenever ``v_{−1} ≥ 0``: it moves towards ``Δ_t²`` by at most ``(1 − β2)·Δ_t²``.
    See :func:`fedyogi` for the arguments.
    """

    def second_moment(v, d2, dtype):
        return v - dtype.type(1.0 - beta2) * d2 * np.sign(v - d2)

    return _scale_by_adaptive(second_moment, beta1, beta2, tau, initial_accumulator)


def fedadagrad(
    lr: float, *, beta1: float = 0.9, tau: float = 1e-3, initial_accumulator: float | None = None
) -> ServerOptimizer:
    """FedAdagrad: ``x_{t+1} = x_t + η·m_t/(√v_t + τ)`` with ``v_t = v_{t−1} + Δ_t²``.

    State: ``(ScaleByAdaptiveState(m, v), ())``.

    Args:
        lr: Server learning rate ``η ≥ 0`` (no default; task-dependent).
        beta1: First-moment decay ``β1 ∈ [0, 1)``; default 0.9 as in Algorithm 2's shared
            ``m_t``. ``beta1 = 0`` gives ``m_t = Δ_t`` (classic Adagrad, as in the reference code).
        tau: Adaptivity ``τ > 0``; default 1e-3, the value the reference code recommends
            (``optimization/docs/hyperparameters.md``, whose tuned best values range 1e-5 to 1e-1).
        initial_accumulator: ``v_{−1} ≥ 0``; ``None`` (default) means ``τ²``.

    Note:
        Algorithm 2 of Reddi et al. 2021 as printed: no bias correction, ``τ`` outside the
        square root, ``v_{−1} ≥ τ²`` (default exactly ``τ²``). Their reference code
        (google-research/federated ``optimization/``) runs Keras Adagrad instead, started from
        ``initial_accumulator_value=0.0`` (``optimization/docs/hyperparameters.md``), with no
        first moment (``β1 = 0``) and no bias correction (Adagrad has none).
        See the module docstring.
    """
    return chain(scale_by_fedadagrad(beta1, tau, initial_accumulator), scale(-_check("lr", lr, 0.0)))


def fedadam(
    lr: float,
    *,
    beta1: float = 0.9,
    beta2: float = 0.99,
    tau: float = 1e-3,
    initial_accumulator: float | None = None,
    bias_correction: bool = False,
    bias_correction_offset: int = 0,
) -> ServerOptimizer:
    """FedAdam: ``x_{t+1} = x_t + η·m_t/(√v_t + τ)`` with ``v_t = β2·v_{t−1} + (1 − β2)·Δ_t²``.

    State: ``(ScaleByAdaptiveState(m, v), ())``.

    Args:
        lr: Server learning rate ``η ≥ 0`` (no default; task-dependent).
        beta1: First-moment decay ``β1 ∈ [0, 1)``; default 0.9.
        beta2: Second-moment decay ``β2 ∈ [0, 1)``; default 0.99, as in Flower's FedAdam/FedYogi
            (the reference code's ``optimization/docs/hyperparameters.md`` says Keras' 0.999 was
            kept).
        tau: Adaptivity ``τ > 0``; default 1e-3, the value the reference code recommends
            (``optimization/docs/hyperparameters.md``, whose tuned best values range 1e-5 to 1e-1).
        initial_accumulator: ``v_{−1} ≥ 0``; ``None`` (default) means ``τ²``.
        bias_correction: Rescale the rate by ``√(1 − β2^t)/(1 − β1^t)`` (Kingma & Ba); default
            False (Algorithm 2 as printed). State then gains a :class:`BiasCorrectionState`.
        bias_correction_offset: ``t = k + offset`` at the k-th step; 1 reproduces Flower's
            ``FedAdam`` (``server_round + 1``, off by one from Kingma & Ba's ``t = k``).

    Note:
        Algorithm 2 as printed (no bias correction, ``v_{−1} = τ²``) by default; the module
        docstring says how the paper's reference code and Flower differ.
    """
    return _with_rate(scale_by_fedadam(beta1, beta2, tau, initial_accumulator), lr, beta1, beta2, bias_correction,
                      bias_correction_offset)


def fedyogi(
    lr: float,
    *,
    beta1: float = 0.9,
    beta2: float = 0.99,
    tau: float = 1e-3,
    initial_accumulator: float | None = None,
    bias_correction: bool = False,
    bias_correction_offset: int = 0,
) -> ServerOptimizer:
    """FedYogi: ``x_{t+1} = x_t + η·m_t/(√v_t + τ)`` with additive ``v`` updates.

    ``v_t = v_{t−1} − (1 − β2)·Δ_t²·sign(v_{t−1} − Δ_t²)`` (Zaheer et al. 2018's Yogi).

    State: ``(ScaleByAdaptiveState(m, v), ())``.

    Args:
        lr: Server learning rate ``η ≥ 0`` (no default; task-dependent).
        beta1: First-moment decay ``β1 ∈ [0, 1)``; default 0.9.
        beta2: Second-moment rate ``β2 ∈ [0, 1)``; default 0.99 (as for :func:`fedadam`).
        tau: Adaptivity ``τ > 0``; default 1e-3, the value the reference code recommends
            (``optimization/docs/hyperparameters.md``, whose tuned best values range 1e-5 to 1e-1).
        initial_accumulator: ``v_{−1} ≥ 0``; ``None`` (default) means ``τ²``.
        bias_correction: Rescale the rate by ``√(1 − β2^t)/(1 − β1^t)`` (Kingma & Ba); default
            False (Algorithm 2 as printed). State then gains a :class:`BiasCorrectionState`.
        bias_correction_offset: ``t = k + offset`` at the k-th step; 1 reproduces Flower's
            ``FedAdam`` (``server_round + 1``, off by one from Kingma & Ba's ``t = k``).

    Note:
        Algorithm 2 as printed (no bias correction, ``v_{−1} = τ²``) by default; the module
        docstring says how the paper's reference code and Flower differ.
    """
    return _with_rate(scale_by_fedyogi(beta1, beta2, tau, initial_accumulator), lr, beta1, beta2, bias_correction,
                      bias_correction_offset)


def _with_rate(
    preconditioner: ServerOptimizer, lr: float, beta1: float, beta2: float, bias_correction: bool, offset: int
) -> ServerOptimizer:
    """``preconditioner``, optionally bias-corrected, then ``scale(−lr)``."""
    rate = scale(-_check("lr", lr, 0.0))
    if not bias_correction:
        return chain(preconditioner, rate)
    return chain(preconditioner, scale_by_bias_correction(beta1, beta2, offset), rate)


# ------------------------------------------------------------------ config sections
class ServerOptimizerSpec(StrictModel):
    """Base of ``algorithm.server_optimizer`` specs. Extension point: parameters as fields and
    :meth:`build`, returning a :class:`~simfl.algorithms.optim.ServerOptimizer` (an init/update
    pair over a pseudo-gradient, see :mod:`simfl.algorithms.optim`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(description="a built-in name or an import path package.module:Name")

    @abc.abstractmethod
    def build(self) -> ServerOptimizer:
        """The optimizer this spec describes."""


class SGDSection(ServerOptimizerSpec):
    """Plain server SGD: ``x ← x − lr·g``."""

    type: str = "sgd"
    lr: float = Field(1.0, gt=0, allow_inf_nan=False, description="server learning rate")

    def build(self) -> ServerOptimizer:
        """:func:`~simfl.algorithms.optim.sgd` at ``lr``."""
        return sgd(self.lr)


class AvgMSection(ServerOptimizerSpec):
    """FedAvgM (Hsu et al. 2019): ``m ← β m + Δ``, ``x ← x + lr·m``."""

    type: str = "avgm"
    lr: float = Field(1.0, gt=0, allow_inf_nan=False, description="server learning rate")
    momentum: float = Field(0.9, ge=0, lt=1, description="server momentum beta")

    def build(self) -> ServerOptimizer:
        """:func:`~simfl.algorithms.optim.fedavgm` with these keys."""
        return fedavgm(self.lr, momentum=self.momentum)


class _AdaptiveSection(ServerOptimizerSpec):
    lr: float = Field(0.01, gt=0, allow_inf_nan=False, description="server learning rate eta")
    beta1: float = Field(0.9, ge=0, lt=1, description="first-moment decay")
    tau: float = Field(1e-3, gt=0, allow_inf_nan=False, description="adaptivity tau")
    initial_accumulator: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="v_{-1}; null = tau^2 (Algorithm 2's bound)"
    )


class AdagradSection(_AdaptiveSection):
    """FedAdagrad (Reddi et al. 2021)."""

    type: str = "adagrad"

    def build(self) -> ServerOptimizer:
        """:func:`fedadagrad` with these keys."""
        return fedadagrad(self.lr, beta1=self.beta1, tau=self.tau, initial_accumulator=self.initial_accumulator)


class _CorrectableSection(_AdaptiveSection):
    beta2: float = Field(0.99, ge=0, lt=1, description="second-moment decay")
    bias_correction: bool = Field(
        False,
        description="rescale the rate by sqrt(1 - beta2^t)/(1 - beta1^t) at the t-th server step (Kingma & Ba); "
        "false = Algorithm 2 as printed",
    )
    bias_correction_offset: int = Field(
        0, ge=0,
        description="t = k + offset at the k-th step: 0 = Kingma & Ba; 1 = Flower's FedAdam (it uses server_round + 1)",
    )

    def _keys(self) -> dict[str, Any]:
        return dict(beta1=self.beta1, beta2=self.beta2, tau=self.tau, initial_accumulator=self.initial_accumulator,
                    bias_correction=self.bias_correction, bias_correction_offset=self.bias_correction_offset)


class AdamSection(_CorrectableSection):
    """FedAdam (Reddi et al. 2021)."""

    type: str = "adam"

    def build(self) -> ServerOptimizer:
        """:func:`fedadam` with these keys."""
        return fedadam(self.lr, **self._keys())


class YogiSection(_CorrectableSection):
    """FedYogi (Reddi et al. 2021)."""

    type: str = "yogi"

    def build(self) -> ServerOptimizer:
        """:func:`fedyogi` with these keys."""
        return fedyogi(self.lr, **self._keys())
