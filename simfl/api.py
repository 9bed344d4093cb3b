"""Everything a plugin needs, in one import: ``from simfl.api import ...``.

Write your own method (server policy), client-selection policy, staleness function or server
optimizer, name it in a config by its import path ``package.module:Name``, and simfl validates
its keys, runs it in sweeps and reads its runs back like a built-in. The guide, with the hooks,
the :class:`Server` API and the rules a plugin keeps, is ``docs/plugins.md``.

* A **method**: a :class:`Policy` subclass with a nested ``Params(AlgorithmParams)``. To reuse
  FedAsync's loop, subclass :class:`AsyncMethod` (keys: :class:`AsyncParams`) and write
  ``apply(server, task, tau)``; a method that steps through a server optimizer takes
  :class:`ServerStepParams` and an :class:`OptimizerStep`. Shared steps: :class:`InFlight`,
  :func:`weighted_mean`, :func:`weighted_delta`.
* A **selection policy**: a :class:`Selector` subclass with a nested ``Params(SelectionParams)``.
* A **staleness function**: a :class:`StalenessFunction` subclass with ``__call__(tau)``.
* A **server optimizer**: a :class:`ServerOptimizerSpec` subclass with ``build()`` returning a
  :class:`ServerOptimizer` (an init/update pair).
* A **tracking callback** (``tracking.callbacks``): a :class:`Callback` subclass overriding some of
  its hooks, with keys in a nested ``Params(CallbackParams)`` if it has any (``docs/tracking.md``).

A parameter that holds another component is annotated :data:`StalenessField`,
:data:`SelectionField` or :data:`ServerOptimizerField` (``| None`` when optional); its default is
a mapping (``Field({"type": "hinge", "a": 1.0}, description=...)``) or a factory
(``Field(default_factory=default_staleness, description=...)``). The value a method receives is
the component's validated parameters: a staleness function is called as it is, a server
optimizer spec is built with ``.build()``, and :func:`build_component` gives the object a run
would use for any of them (e.g. the :class:`Selector` of a ``SelectionField``).
"""

from typing import Any

from pydantic import Field

from simfl.algorithms.aggregation import mix, weighted_average
from simfl.algorithms.fedopt import ServerOptimizerSpec
from simfl.algorithms.optim import ServerOptimizer, apply_update, chain, scale, sgd
from simfl.algorithms.staleness import StalenessFunction
from simfl.config.params import AlgorithmParams, ParamError, SelectionParams, World, component_field
from simfl.engine.server import InFlight, OptimizerStep, Policy, Selector, Server, Timer, weighted_delta, weighted_mean
from simfl.engine.tasks import Task
from simfl.errors import PluginError
from simfl.methods.common import AsyncMethod, AsyncParams, ServerStepParams, default_staleness
from simfl.registry import component_of, register
from simfl.tracking.callback import Callback, CallbackParams

#: Annotation of a parameter that holds a staleness function (``{type: ..., ...}``); its value is
#: the function (call it with τ).
StalenessField = component_field("staleness")
#: Annotation of a parameter that holds a client-selection policy; its value is the policy's
#: ``Params`` (:func:`build_component` gives the :class:`Selector`).
SelectionField = component_field("selection")
#: Annotation of a parameter that holds a server optimizer (use ``ServerOptimizerField | None``);
#: its value is the :class:`ServerOptimizerSpec` (``.build()`` gives the :class:`ServerOptimizer`).
ServerOptimizerField = component_field("server_optimizer")


def build_component(params: Any) -> Any:
    """The object a run uses for a component's validated parameters, as simfl builds its own.

    Args:
        params: the value of a component parameter (e.g. of a :data:`SelectionField`).

    Returns:
        A :class:`Selector` for a selection policy's ``Params``, a :class:`ServerOptimizer` for a
        :class:`ServerOptimizerSpec`, the function itself for a :class:`StalenessFunction`, the
        :class:`Policy` for a method's ``Params``.

    Raises:
        PluginError: ``params`` were not made by validating a component, or building it failed.
    """
    return component_of(params).build(params)

__all__ = [
    "Field",
    "Policy",
    "Selector",
    "Server",
    "Task",
    "Timer",
    "AlgorithmParams",
    "SelectionParams",
    "World",
    "ParamError",
    "StalenessFunction",
    "ServerOptimizerSpec",
    "ServerOptimizer",
    "StalenessField",
    "SelectionField",
    "ServerOptimizerField",
    "build_component",
    "default_staleness",
    "AsyncMethod",
    "AsyncParams",
    "ServerStepParams",
    "InFlight",
    "OptimizerStep",
    "weighted_mean",
    "weighted_delta",
    "mix",
    "weighted_average",
    "apply_update",
    "chain",
    "scale",
    "sgd",
    "register",
    "PluginError",
    "Callback",
    "CallbackParams",
]
