"""Turning pydantic's validation errors into one-line messages that name the key path.

The schema is walked along an error's location, together with the raw config mapping, so
that tags of tagged unions (``heterogeneity.compute.seconds_per_sample.lognormal.sigma``) are
dropped from the path, a component field (``algorithm``, ``algorithm.staleness``, ...) is
followed into the parameter model of the component its ``type`` names (an item of a list of
components, ``tracking.callbacks.0``, too), and an unknown key can
be matched against the keys allowed at its place (did-you-mean).
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError

import simfl.registry as registry
from simfl.config.params import component_ref
from simfl.errors import PluginError
from simfl.tagged import tag_key_of

__all__ = ["render_validation_error", "unknown_key_hint", "model_classes", "schema_at"]

_MAX_LISTED = 16
_COMPARISONS = (
    ("greater than or equal to", ">="),
    ("less than or equal to", "<="),
    ("greater than", ">"),
    ("less than", "<"),
)


def model_classes(annotation: Any) -> list[type[BaseModel]]:
    """BaseModel classes inside an annotation (through Annotated, Optional, Union, list)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return model_classes(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [c for arg in typing.get_args(annotation) for c in model_classes(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _tag_of(cls: type[BaseModel]) -> str | None:
    """The tag of a class in a static tagged union (distributions, availability, models)."""
    for key in ("type", "dist"):
        field = cls.model_fields.get(key)
        if field is not None and isinstance(field.default, str):
            return field.default
    return None


def _component_params(kind: str, raw: Any, search_path: tuple) -> type[BaseModel] | None:
    """The parameter model of the component a raw mapping names (None if it cannot be resolved)."""
    if isinstance(raw, BaseModel):
        return type(raw)
    name = raw.get("type") if isinstance(raw, dict) else None
    if name is None and kind == "algorithm":
        from simfl.config.params import DEFAULT_ALGORITHM

        name = DEFAULT_ALGORITHM
    if name is None:
        return None
    try:
        return registry.resolve(kind, name, search_path).params
    except PluginError:
        return None


def _default_of(field) -> Any:
    if field.default_factory is not None:
        return field.default_factory()
    return field.default


def schema_at(root: type[BaseModel], raw: Any, loc: Iterable, search_path: tuple = ()) -> tuple[list[str], type[BaseModel] | None, str | None]:
    """Follow ``loc`` through the schema and the raw config.

    Returns:
        The user-facing path, the model class reached (None when the location is not a model),
        and the component kind when the location is a component field's mapping (else None).
    """
    path: list[str] = []
    current: type[BaseModel] | None = root
    node: Any = raw
    candidates: list[type[BaseModel]] = []
    kind: str | None = None
    sections = False
    items: str | None = None  # the kind of the components a list field holds (tracking.callbacks)
    for part in loc:
        if items is not None and isinstance(part, int):  # one of them: its parameter model
            path.append(str(part))
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            node = {"type": node} if isinstance(node, str) else node  # the import-path shorthand
            kind, items = items, None
            current = _component_params(kind, node, search_path) if node is not None else None
            continue
        items = None
        if candidates:  # inside a tagged union, this part may be the tag pydantic inserted
            chosen = next((c for c in candidates if _tag_of(c) == part), None)
            candidates = []
            if chosen is not None:
                current = chosen
                continue
        if current is not None and _tag_of(current) == "constant" and part == "value":
            continue  # a bare number became {dist: constant, value: ...}: name the field itself
        path.append(str(part))
        if sections and isinstance(part, str) and current is not None and part not in current.model_fields:
            sections = False  # a method section: its own method's keys
            node = node.get(part) if isinstance(node, dict) else None
            try:
                current = registry.resolve("algorithm", part, search_path).params
            except PluginError:
                current = None
            kind = None
            continue
        sections = False
        kind = None
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            current = None
            node = None
            continue
        field = current.model_fields[part]
        node = node.get(part) if isinstance(node, dict) else None
        ref = component_ref(field)
        if ref is not None:
            value = node if node is not None else _default_of(field)
            current = _component_params(ref.kind, value, search_path) if value is not None else None
            kind, sections = ref.kind, ref.sections
            continue
        if typing.get_origin(field.annotation) is list and typing.get_args(field.annotation):
            item_ref = component_ref(typing.get_args(field.annotation)[0])
            if item_ref is not None:
                current, items = None, item_ref.kind
                continue
        classes = model_classes(field.annotation)
        if len(classes) == 1:
            current = classes[0]
        elif classes:
            candidates, current = classes, None
        else:
            current = None
    return path, current, kind


def _methods_with_key(key: str, search_path: tuple) -> list[str]:
    """Registered methods that have ``key`` among their parameters."""
    owners = []
    for name in registry.names("algorithm"):
        try:
            if key in registry.resolve("algorithm", name, search_path).params.model_fields:
                owners.append(name)
        except PluginError:
            continue
    return owners


def unknown_key_hint(key: str, allowed: Iterable[str]) -> str:
    """``"(did you mean 'concurrency'?)"`` or a list of the allowed keys."""
    allowed = list(allowed)
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if len(allowed) <= _MAX_LISTED:
        return "allowed: " + ", ".join(allowed)
    return f"see docs/config.md for the {len(allowed)} allowed keys"


def _fmt_input(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return ""
    return f" (got {value!r})"


def _one(error: dict, root: type[BaseModel], raw: Any, override_keys: set[str], search_path: tuple) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "simfl_key":
        return f"{ctx['key']}: {ctx['message']}"
    loc = tuple(error["loc"])
    path, model, component = schema_at(root, raw, loc, search_path)
    where = ".".join(path) or "config"
    if kind == "simfl_param":
        return f"{where}.{ctx['param']}: {ctx['message']}" if where != "config" else f"{ctx['param']}: {ctx['message']}"
    if kind in ("simfl_plugin", "simfl_mapping"):
        return f"{where}: {ctx['message'] if 'message' in ctx else error['msg']}"
    if kind == "extra_forbidden":
        parent, key = path[:-1], path[-1]
        _, parent_model, parent_kind = schema_at(root, raw, loc[:-1], search_path)
        allowed = [k for k in parent_model.model_fields] if parent_model else []
        via_set = [k for k in override_keys if k == where or k.startswith(where + ".")]
        origin = f"--set {via_set[0]}" if via_set else where
        section = ".".join(parent) or "the top level"
        if parent_kind == "algorithm" and parent == ["algorithm"]:
            owners = _methods_with_key(key, search_path)
            if owners:
                from simfl.config.params import DEFAULT_ALGORITHM

                method = raw.get("algorithm", {}).get("type") if isinstance(raw.get("algorithm"), dict) else None
                running = method or f"{DEFAULT_ALGORITHM} (the default)"
                return (f"{origin}: '{key}' is not a key of {running}; it belongs to {', '.join(owners)}: put it in "
                        f"that method's section, e.g. algorithm.{owners[0]}.{key}")
        return f"{origin}: unknown key '{key}' in {section} ({unknown_key_hint(key, allowed)})"
    if kind == "union_tag_invalid":
        key = tag_key_of(ctx.get("discriminator", "type"))
        allowed = [t.strip().strip("'") for t in ctx.get("expected_tags", "").split(",")]
        hint = difflib.get_close_matches(str(ctx.get("tag")), allowed, n=1, cutoff=0.6)
        guess = f" (did you mean '{hint[0]}'?)" if hint else ""
        return f"{where}.{key}: unknown {key} '{ctx.get('tag')}'{guess}; allowed: {', '.join(allowed)}"
    if kind == "union_tag_not_found":
        key = tag_key_of(ctx.get("discriminator", "type"))
        if key == "dist":
            return f"{where}: expected a number or a mapping {{dist: NAME, ...}}{_fmt_input(error.get('input'))}"
        return f"{where}: expected a mapping with a '{key}' key{_fmt_input(error.get('input'))}"
    if kind == "missing":
        return f"{where}: required key missing"
    if kind == "int_parsing_size":
        return f"{where}: too large a number{_fmt_input(error.get('input'))}"
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        allowed = [t.strip().strip("'") for t in expected.replace(" or ", ", ").split(",")]
        hint = difflib.get_close_matches(str(error.get("input")), allowed, n=1, cutoff=0.6)
        guess = f" (did you mean '{hint[0]}'?)" if hint else ""
        return f"{where}: {error.get('input')!r} is not allowed{guess}; allowed: {', '.join(allowed)}"
    msg = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    msg = msg.replace("Input should be", "must be").replace("Input should have", "must have")
    for words, symbol in _COMPARISONS:
        msg = msg.replace(words, symbol)
    return f"{where}: {msg}{_fmt_input(error.get('input'))}"


def render_validation_error(
    exc: ValidationError,
    root: type[BaseModel],
    override_keys: Iterable[str] = (),
    raw: Any = None,
    search_path: Iterable[str] = (),
) -> str:
    """One line per distinct problem, each naming the key path.

    Args:
        exc: pydantic's error.
        root: the model that was validated.
        override_keys: keys set by ``--set`` (named as such in messages).
        raw: the mapping that was validated (to follow component fields by their ``type``).
        search_path: where plugin modules were looked up.
    """
    keys = set(override_keys)
    search = tuple(search_path)
    lines: list[str] = []
    for error in exc.errors():
        line = _one(error, root, raw if raw is not None else {}, keys, search)
        if line not in lines:
            lines.append(line)
    return "\n".join(lines)
