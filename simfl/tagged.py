"""Tagged unions for config fields: a ``type:`` (or ``dist:``) key selects a class from a registry."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, Discriminator, Tag

__all__ = ["tagged_union", "tag_key_of"]


def tagged_union(registry: dict[str, type[BaseModel]], key: str = "type", default: str | None = None) -> Any:
    """An annotated union of ``registry``'s classes, chosen by the value of ``key``.

    Args:
        registry: tag → class; each class has a ``Literal`` field named ``key``.
        key: the mapping key holding the tag.
        default: the tag used when the key is absent (None: the key is required).
    """

    def tag_of(value: Any) -> str | None:
        if isinstance(value, dict):
            return value.get(key, default)
        return getattr(value, key, None)

    tag_of.__name__ = f"{key}_tag"  # named in pydantic's error context; see simfl.config.messages
    members = tuple(Annotated[cls, Tag(name)] for name, cls in registry.items())
    return Annotated[Union[members], Discriminator(tag_of)]  # type: ignore[valid-type]


def tag_key_of(discriminator: str) -> str:
    """The mapping key behind a discriminator named by :func:`tagged_union` (``'dist_tag()'`` → ``'dist'``)."""
    return discriminator.split("_tag")[0]
