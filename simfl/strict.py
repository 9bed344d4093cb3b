"""Strict scalars for config models: a boolean is not a number and a number is not a boolean.

pydantic's lax mode would read ``num_clients: true`` as 1, ``seed: false`` as 0 and
``train.enabled: "yes"`` as true. A YAML typo like that silently changes an experiment, so
every config model derives from :class:`StrictModel`, which rejects, before pydantic's own
validation:

* ``true`` / ``false`` where the field holds integers or floats (and no boolean);
* anything but ``true`` / ``false`` where the field holds only a boolean.

Everything else stays lax on purpose: an integer is a valid float (``lr: 1``), ``1e-3`` is a
float, ``1e6`` is a valid integer count, a tuple is a valid list. Lists are checked item by item.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

__all__ = ["StrictModel", "strict_scalar_problem", "FilePath", "key_error"]


def _members(annotation: Any) -> list[Any]:
    """The alternatives of an annotation, ``Annotated`` and ``Optional`` unwrapped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _admits_bool(members: list[Any]) -> bool:
    for m in members:
        if m is bool or m is Any or m is object:
            return True
        if typing.get_origin(m) is typing.Literal and any(isinstance(v, bool) for v in typing.get_args(m)):
            return True
    return False


def strict_scalar_problem(annotation: Any, value: Any) -> str | None:
    """Why ``value`` is refused for a field annotated ``annotation`` (None: not refused here).

    Examples: ``(int, True)`` → ``"must be an integer, not a boolean"``; ``(bool, "yes")`` →
    ``"must be true or false"``; ``(list[int], [1, True])`` → ``"item 1 must be an integer, not a
    boolean"``; ``(float, 1)`` → None.
    """
    members = [m for m in _members(annotation) if m is not type(None)]
    if isinstance(value, bool):
        if _admits_bool(members):
            return None
        if int in members:
            return "must be an integer, not a boolean"
        if float in members:
            return "must be a number, not a boolean"
        return None
    if value is not None and members and all(m is bool for m in members):
        return "must be true or false"
    if isinstance(value, (list, tuple)):
        for m in members:
            if typing.get_origin(m) in (list, tuple, typing.Sequence) and typing.get_args(m):
                item = typing.get_args(m)[0]
                for i, v in enumerate(value):
                    problem = strict_scalar_problem(item, v)
                    if problem is not None:
                        return f"item {i} {problem}"
    return None


class StrictModel(BaseModel):
    """Base of config models: frozen, unknown keys rejected, booleans and numbers kept apart."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name) if info.field_name else None
        if field is not None:
            problem = strict_scalar_problem(field.annotation, value)
            if problem is not None:
                raise PydanticCustomError("simfl_strict", problem)
        return value


def _file_path(value: str) -> str:
    if "\0" in value:
        raise ValueError("a file path cannot contain a NUL character")
    return value


#: A file path in a config: a string the operating system can take as a path.
FilePath = Annotated[str, AfterValidator(_file_path)]


def key_error(key: str, message: str) -> PydanticCustomError:
    """A validation error about the dotted config ``key`` (rendered as ``key: message``)."""
    return PydanticCustomError("simfl_key", "{message}", {"key": key, "message": message})
