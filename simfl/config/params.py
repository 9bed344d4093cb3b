"""Parameters of named components, and the config fields that hold them.

A config field that names a component (``algorithm``, ``algorithm.selection``,
``algorithm.staleness``, ``algorithm.server_optimizer``) is a mapping with a ``type`` key —
a built-in name or an import path ``package.module:Name`` — and that component's own keys.
:func:`component_field` makes such a field: the ``type`` is resolved through
:mod:`simfl.registry` (the config file's folder first, through the validation context's
``search_path``), and the rest of the mapping is validated against the component's parameter
model, so an unknown key is an error naming the key and listing what is allowed, for plugins
as for built-ins. :func:`algorithm_field` adds *method sections* (see :data:`ALGORITHM_DOC`).
"""

from __future__ import annotations

from typing import Annotated, Any, Callable, ClassVar

from pydantic import Field, PlainSerializer, PlainValidator, ValidationError, ValidationInfo, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

import simfl.registry as registry
from simfl.errors import PluginError
from simfl.strict import StrictModel, key_error

__all__ = [
    "Params",
    "AlgorithmParams",
    "SelectionParams",
    "World",
    "ParamError",
    "param_error",
    "key_error",
    "ComponentRef",
    "component_field",
    "component_ref",
    "algorithm_field",
    "builtin_params",
    "choices",
    "DEFAULT_ALGORITHM",
    "ALGORITHM_DOC",
]

#: The algorithm when ``algorithm.type`` is not given.
DEFAULT_ALGORITHM = "fedasync"

ALGORITHM_DOC = """\
`algorithm.type` names the method that runs. Its keys may be written directly under
`algorithm` (they are that method's keys: a key of another method is an error) or in a
*method section* `algorithm.<name>` (e.g. `algorithm.fedbuff.buffer_size`), where `<name>` is
a method's name or import path. Sections of methods that do not run are validated too (an
unknown key is still an error) but do not affect the run, so one config can carry every
method's settings and `--set algorithm.type=...` switches between them. Keys written directly
under `algorithm` take precedence over the running method's section. The resolved config of a
run (`config.yaml`) holds only the running method's keys."""


class Params(StrictModel):
    """Base of every component's parameters: frozen, unknown keys rejected, booleans and numbers
    kept apart (:mod:`simfl.strict`), a ``type`` tag."""

    type: str = Field(description="the component: a built-in name or an import path package.module:Name")

    @model_validator(mode="after")
    def _component_defaults(self, info: ValidationInfo) -> "Params":
        """A component parameter left at a default written as a mapping (``Field({"type": "polynomial",
        "a": 0.5})``) is validated like a configured one (pydantic does not validate defaults; the
        mapping then failed to serialize when the run wrote its config)."""
        for name, field in type(self).model_fields.items():
            ref = next((m for m in field.metadata if isinstance(m, ComponentRef)), None)
            value = getattr(self, name)
            if ref is not None and isinstance(value, dict):
                try:
                    object.__setattr__(self, name, _validate_component(ref.kind, value, info))
                except ValidationError as exc:  # name the parameter whose default is wrong
                    first = exc.errors()[0]
                    where = ".".join(str(p) for p in (name, *first["loc"]))
                    raise ValueError(f"the default of {where}: {first['msg']} (got {first['input']!r})") from None
        return self


class World:
    """What a component's :meth:`AlgorithmParams.check` may know about the run it will be in."""

    def __init__(self, num_clients: int, trained: bool) -> None:
        #: number of clients in the population
        self.num_clients = num_clients
        #: True when a trainer runs (False: a timing-only dry run)
        self.trained = trained


class ParamError(ValueError):
    """Raised by a component's ``check``: ``key`` is the offending parameter (relative to the component)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def param_error(key: str, message: str) -> PydanticCustomError:
    """A validation error about a component's own key ``key`` (rendered as ``<its place>.key: message``)."""
    return PydanticCustomError("simfl_param", "{message}", {"param": key, "message": message})


class ComponentRef:
    """Annotation marker of a field that names a component of ``kind``."""

    def __init__(self, kind: str, sections: bool = False) -> None:
        self.kind = kind
        self.sections = sections

    def __repr__(self) -> str:
        return f"ComponentRef({self.kind!r})"


def component_ref(annotation: Any) -> ComponentRef | None:
    """The :class:`ComponentRef` of a field (a pydantic ``FieldInfo``) or inside an ``Annotated``
    (possibly optional) annotation, or None."""
    import types
    import typing

    from pydantic.fields import FieldInfo

    if isinstance(annotation, FieldInfo):
        for meta in annotation.metadata:
            if isinstance(meta, ComponentRef):
                return meta
        return component_ref(annotation.annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        for meta in annotation.__metadata__:
            if isinstance(meta, ComponentRef):
                return meta
        return component_ref(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            ref = component_ref(arg)
            if ref is not None:
                return ref
    return None


def _search_path(info: ValidationInfo) -> tuple:
    ctx = info.context if info is not None else None
    return tuple(ctx.get("search_path", ())) if isinstance(ctx, dict) else ()


def _plugin_error(exc: PluginError) -> PydanticCustomError:
    detail = str(exc).split(": ", 1)[1] if ": " in str(exc) else str(exc)
    return PydanticCustomError("simfl_plugin", "{message}", {"message": detail})


def _relocated(exc: ValidationError, prefix: tuple, skip_missing: bool = False) -> list[InitErrorDetails]:
    """``exc``'s errors with ``prefix`` put in front of their locations."""
    out: list[InitErrorDetails] = []
    for e in exc.errors():
        if skip_missing and e["type"] == "missing":
            continue
        loc = (*prefix, *e["loc"])
        ctx = e.get("ctx")
        detail = InitErrorDetails(type=e["type"], loc=loc, input=e.get("input"))
        if ctx:
            detail["ctx"] = ctx
        try:
            ValidationError.from_exception_data("check", [detail])
        except Exception:  # a custom error type: carry its rendered message and context
            message = e["msg"].replace("{", "(").replace("}", ")")
            detail = InitErrorDetails(type=PydanticCustomError(e["type"], message, ctx or {}), loc=loc, input=e.get("input"))
        out.append(detail)
    return out


def _validate_component(kind: str, value: Any, info: ValidationInfo) -> Any:
    base = _base(kind)
    if isinstance(value, base):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError("simfl_mapping", "expected a mapping with a 'type' key{got}",
                                  {"got": "" if isinstance(value, list) else f" (got {value!r})"})
    if "type" not in value:
        raise PydanticCustomError("simfl_mapping", "expected a mapping with a 'type' key{got}", {"got": ""})
    component = _resolve(kind, value["type"], _search_path(info), "component")
    return component.params.model_validate(value, context=info.context)


def _dump(value: Any, info) -> Any:
    if value is None:
        return None
    return value.model_dump(mode=info.mode if info.mode in ("json", "python") else "python")


_BASES: dict[str, type] = {}


def _base(kind: str) -> type:
    if kind not in _BASES:
        module, _, name = registry.contract(kind).base.partition(":")
        import importlib

        _BASES[kind] = getattr(importlib.import_module(module), name)
    return _BASES[kind]


def component_field(kind: str) -> Any:
    """The annotation of a config field naming a component of ``kind`` (see the module docstring)."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        return _validate_component(kind, value, info)

    return Annotated[Any, ComponentRef(kind), PlainValidator(validate), PlainSerializer(_dump, when_used="always")]


def builtin_params(kind: str, name: str, **params: Any) -> Any:
    """Validated parameters of a built-in component (for defaults)."""
    return registry.resolve(kind, name).params.model_validate({"type": name, **params})


def choices(kind: str) -> str:
    """The values of a ``type`` of ``kind``, from the registry: each built-in name with its own keys
    (a method's names only), then ``package.module:Name`` — e.g. ``uniform | fastest (epsilon) | ...``."""
    shown = []
    for name in registry.builtins(kind):
        params = registry.resolve(kind, name).params
        own = [] if kind == "algorithm" else [k for k in params.model_fields if k not in _base(kind).model_fields]
        shown.append(name if not own else f"{name} ({', '.join(own)})" if len(own) <= 4 else f"{name} (keys below)")
    return " | ".join([*shown, "package.module:Name"])


def _default_selection() -> Any:
    return builtin_params("selection", "uniform")


class SelectionParams(Params):
    """Base of a client-selection policy's parameters (``algorithm.selection``)."""

    #: True when the policy needs client losses from a trainer (so no dry run).
    needs_losses: ClassVar[bool] = False


class AlgorithmParams(Params):
    """Base of a method's parameters (``algorithm``): the keys every method shares.

    A method's ``Params`` subclasses this and adds its own keys as pydantic fields, each with
    a ``description`` (it becomes the method's table in ``docs/config.md``). Override
    :meth:`check` for rules that depend on the population.
    """

    selection: component_field("selection") = Field(  # type: ignore[valid-type]
        default_factory=_default_selection,
        description="who is dispatched",
    )
    client_cooldown_s: float = Field(
        0.0, ge=0, allow_inf_nan=False, description="a client is not selected again until this long after its task ended"
    )

    def check(self, world: World) -> None:
        """Rules that need the population; raise :class:`ParamError` naming the key. Default: none."""

    def in_flight(self, num_clients: int) -> int:
        """How many tasks the method keeps in flight at most (size estimates before a run).
        Default: every client."""
        return num_clients


# ------------------------------------------------------------------- the algorithm field
def _is_method_name(key: str) -> bool:
    return key in registry.names("algorithm") or registry.is_import_path(key)


def _resolve(kind: str, name: Any, search: tuple, title: str) -> Any:
    """:func:`registry.resolve`, its error as a validation error at ``type``."""
    try:
        return registry.resolve(kind, name, search)
    except PluginError as exc:
        raise ValidationError.from_exception_data(
            title, [InitErrorDetails(type=_plugin_error(exc), loc=("type",), input=name)]
        ) from None


def _section_error(message: str, loc: tuple, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("simfl_mapping", message, {}), loc=loc, input=value)


def _split_algorithm(value: dict, fields: Any, stored: bool) -> tuple[dict, dict, list[InitErrorDetails]]:
    """``algorithm``'s keys: the running method's own (flat), method sections, unknown keys."""
    flat: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    errors: list[InitErrorDetails] = []
    for key, v in value.items():
        if key == "type":
            continue
        if key in fields or stored:
            flat[key] = v
        elif isinstance(key, str) and _is_method_name(key):
            sections[key] = {} if v is None else v
        else:
            errors.append(InitErrorDetails(type="extra_forbidden", loc=(key,), input=v))
    return flat, sections, errors


def _check_sections(sections: dict, name: str, info: ValidationInfo, errors: list) -> dict[str, Any]:
    """Validate the method sections (errors appended); returns the running method's section."""
    active: dict[str, Any] = {}
    for key, section in sections.items():
        if not isinstance(section, dict):
            errors.append(_section_error("a method section is a mapping of that method's keys", (key,), section))
        elif "type" in section:
            errors.append(_section_error("a method section has no 'type' (its key names the method)", (key, "type"),
                                         section["type"]))
        elif key == name:
            active = section
        else:
            try:
                other = registry.resolve("algorithm", key, _search_path(info))
                other.params.model_validate({"type": key, **section}, context=info.context)
            except PluginError as exc:
                errors.append(InitErrorDetails(type=_plugin_error(exc), loc=(key,), input=section))
            except ValidationError as exc:  # a required key may come when that method runs: not an error now
                errors.extend(_relocated(exc, (key,), skip_missing=True))
    return active


def _validate_algorithm(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, AlgorithmParams):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError("simfl_mapping", "expected a mapping with a 'type' key{got}",
                                  {"got": "" if isinstance(value, list) else f" (got {value!r})"})
    name = value.get("type", DEFAULT_ALGORITHM)
    component = _resolve("algorithm", name, _search_path(info), "algorithm")
    stored = not component.builtin and not registry.importing_allowed()  # keys kept as data
    flat, sections, errors = _split_algorithm(value, component.params.model_fields, stored)
    active = _check_sections(sections, name, info, errors)
    if errors:
        raise ValidationError.from_exception_data("algorithm", errors)
    try:
        return component.params.model_validate({**active, **flat, "type": name}, context=info.context)
    except ValidationError as exc:
        relocated = []
        for detail in _relocated(exc, ()):
            loc = detail["loc"]
            if loc and loc[0] in active and loc[0] not in flat:
                detail["loc"] = (name, *loc)
            relocated.append(detail)
        raise ValidationError.from_exception_data("algorithm", relocated) from None


def _default_algorithm() -> Any:
    return builtin_params("algorithm", DEFAULT_ALGORITHM)


def algorithm_field() -> tuple[Any, Callable[[], Any]]:
    """The annotation of ``Config.algorithm`` and its default factory."""
    annotation = Annotated[
        Any,
        ComponentRef("algorithm", sections=True),
        PlainValidator(_validate_algorithm),
        PlainSerializer(_dump, when_used="always"),
    ]
    return annotation, _default_algorithm
