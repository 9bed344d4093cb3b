"""``model.type: torch``: any ``torch.nn.Module`` a factory returns, described without torch.

Its keys (:class:`TorchModel`) and its registry entry (:class:`TorchFactory`) live here, so that
the config schema takes the torch model without importing torch; building and running the module
is :mod:`simfl.training.torchmodel`'s.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from simfl.errors import ConfigError
from simfl.models.base import ModelKind, ModelParams
from simfl.registry import is_import_path
from simfl.strict import key_error

__all__ = ["TorchModel", "TorchFactory", "FACTORY_ARGUMENTS"]

#: Names simfl passes to a model factory itself (from the dataset), so not allowed in ``model.kwargs``.
FACTORY_ARGUMENTS = ("input_shape", "num_classes")


class TorchModel(ModelParams):
    """Any ``torch.nn.Module``, returned by ``factory(input_shape=..., num_classes=..., **kwargs)``
    (the two dataset arguments only if it accepts them) called under torch's generator seeded
    from the seed tree; parameters and floating buffers (BatchNorm statistics) travel as the
    flat vector and aggregate like parameters (docs/models.md).

    See :mod:`simfl.training.torchmodel` for the layout, initialization and how buffers aggregate.
    """

    type: Literal["torch"] = "torch"
    factory: str | None = Field(
        None,
        description="import path package.module:function of a function (or nn.Module class) returning the module, "
        "called as factory(input_shape=..., num_classes=..., **kwargs); looked up in the config file's folder, then "
        "on the Python path; null only when simfl.run(config, model=callable) is given the factory",
    )
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments of the factory (besides input_shape and num_classes)"
    )

    @field_validator("factory")
    @classmethod
    def _import_path(cls, value: str | None) -> str | None:
        if value is not None and not is_import_path(value):
            raise key_error("model.factory", f"expected an import path package.module:function, got {value!r}")
        return value

    @field_validator("kwargs")
    @classmethod
    def _not_ours(cls, value: dict[str, Any]) -> dict[str, Any]:
        taken = [k for k in FACTORY_ARGUMENTS if k in value]
        if taken:
            one = len(taken) == 1
            raise key_error("model.kwargs", f"{' and '.join(taken)} {'is' if one else 'are'} passed by simfl from the "
                                            f"dataset; remove {'it' if one else 'them'}")
        return value


class TorchFactory(ModelKind):
    """Any ``torch.nn.Module`` a factory returns (``model.type: torch``; the registry's ``torch`` model)."""

    Params = TorchModel

    def param_count(self, input_shape: tuple[int, ...], num_classes: int) -> int:
        """Not known without building it from its factory and seed: :func:`simfl.training.torchmodel.flat_size` does that.

        Raises:
            ConfigError: always.
        """
        raise ConfigError("model.type: a torch model's size is known only from its factory (simfl.running.dry_model_bytes)")
