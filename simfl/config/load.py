"""Loading a config: YAML file → ``--set`` overrides → validated, frozen :class:`Config`.

Every failure becomes a :class:`~simfl.errors.ConfigError` whose message names the key path
and what is allowed, one line per problem.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml
from pydantic import BaseModel, ValidationError

from simfl.config.messages import render_validation_error, schema_at
from simfl.config.params import component_ref
from simfl.config.schema import UNRESOLVED_CLIENTS, Config, DataConfig
from simfl.data.kinds import NATURAL_ID_HINTS, SOURCE_DATASETS
from simfl.errors import ConfigError, PluginError

__all__ = [
    "load_config",
    "config_from_dict",
    "parse_override",
    "apply_overrides",
    "dump_config",
    "read_yaml",
    "resolve_paths",
    "split_key",
    "resolve_num_clients",
    "PATH_KEYS",
]

_SEGMENT = r"""[A-Za-z_][A-Za-z0-9_]*|"[^"]+"|'[^']+'"""
_KEY = re.compile(rf"(?:{_SEGMENT})(?:\.(?:{_SEGMENT}))*")


class _Loader(yaml.SafeLoader):
    """YAML 1.1 safe loader that reads ``1e-3`` as a float (PyYAML needs ``1.0e-3``) and
    rejects a key repeated in one mapping (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _yaml_load(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        kind = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
        raise ConfigError(f"{source}: {kind}{where}: {problem}") from None


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file (UTF-8 text) into its non-empty content.

    Raises:
        ConfigError: one line: a missing or unreadable file, a binary or non-UTF-8 file, a
            file with no content (empty, only comments, or ``null``), or a YAML error.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if b"\x00" in data or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"{path}: a binary file, not YAML text (a config file is UTF-8 text)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save the file as UTF-8"
        ) from None
    value = _yaml_load(text, str(path))
    if value is None:
        raise ConfigError(f"{path}: the file is empty (no YAML content); expected a mapping of keys, e.g. seed: 0")
    return value


def split_key(key: str) -> list[str]:
    """``'algorithm."my_rules:Adaptive".eta'`` → ``['algorithm', 'my_rules:Adaptive', 'eta']``.

    A dotted key's parts are identifiers, or quoted strings (for method sections named by an
    import path, which hold dots and a colon).
    """
    if not _KEY.fullmatch(key):
        raise ConfigError(
            f"{key!r}: expected a dotted key such as algorithm.alpha "
            "(quote a part holding dots or colons: algorithm.\"pkg.mod:Name\".eta)"
        )
    return [p[1:-1] if p[0] in "'\"" else p for p in re.findall(_SEGMENT, key)]


def parse_override(text: str) -> tuple[str, Any]:
    """``"algorithm.alpha=0.5"`` → ``("algorithm.alpha", 0.5)``; the value is read as YAML."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or not _KEY.fullmatch(key):
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE with a dotted key, e.g. algorithm.alpha=0.5")
    return key, _yaml_load(value, f"--set {key}")


def _default_at(raw: dict, path: list[str], search_path: tuple) -> Any:
    """The default value at ``path`` given the rest of ``raw`` (e.g. the running method's)."""
    _, model, _ = schema_at(Config, raw, path[:-1], search_path)
    if model is None or path[-1] not in model.model_fields:
        return None
    field = model.model_fields[path[-1]]
    ref = component_ref(field)
    if ref is not None and ref.sections:
        return {}  # the method section: its keys start from the running method's defaults anyway
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python")
    return value


def apply_overrides(
    raw: Mapping[str, Any],
    overrides: Iterable[str | tuple[str, Any]] | Mapping[str, Any],
    search_path: Iterable[str] = (),
) -> dict:
    """Return a copy of ``raw`` with dotted-key overrides set.

    A missing intermediate section is created; where it is a tagged union or a component (a
    distribution, staleness function or availability model) it starts from the default value
    so that ``--set algorithm.staleness.a=1`` changes one parameter of the default function.
    """
    out = copy.deepcopy(dict(raw))
    search = tuple(search_path)
    items = overrides.items() if isinstance(overrides, Mapping) else overrides
    for item in items:
        key, value = parse_override(item) if isinstance(item, str) else item
        parts = split_key(key)
        node = out
        for depth, part in enumerate(parts[:-1]):
            here = ".".join(parts[: depth + 1])
            if part not in node or node[part] is None:
                default = _default_at(out, parts[: depth + 1], search)
                tagged = isinstance(default, dict) and ("type" in default or "dist" in default)
                node[part] = copy.deepcopy(default) if tagged or not isinstance(default, (dict, type(None))) else {}
            if not isinstance(node[part], dict):
                raise ConfigError(
                    f"--set {key}: {here} is {node[part]!r}, not a mapping; set it whole, "
                    f"e.g. --set '{here}={{dist: lognormal, mean: 0.01, sigma: 1}}'"
                )
            node = node[part]
        node[parts[-1]] = value
    return out


def config_from_dict(
    raw: Any,
    overrides: Iterable[str] | Mapping[str, Any] = (),
    source: str = "config",
    search_path: Iterable[str | Path] = (),
) -> Config:
    """Validate a config mapping (after applying overrides) into a frozen :class:`Config`.

    Args:
        raw: the config mapping.
        overrides: ``"key.sub=value"`` strings or a ``{dotted_key: value}`` mapping.
        source: how to name the config in messages.
        search_path: folders searched first for plugin modules (``package.module:Name``);
            :func:`load_config` passes the config file's folder. Kept as ``config.search_path``.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections (seed, data, model, ...)")
    search = tuple(str(Path(p).resolve()) for p in search_path)
    merged = apply_overrides(raw, overrides, search)
    override_keys = {
        (parse_override(o)[0] if isinstance(o, str) else o[0])
        for o in (overrides.items() if isinstance(overrides, Mapping) else overrides)
    }
    merged, unresolved = resolve_num_clients(merged, search)
    context: dict[str, Any] = {"search_path": search}
    if unresolved is not None:
        context[UNRESOLVED_CLIENTS] = unresolved
    try:
        config = Config.model_validate(merged, context=context)
    except ValidationError as exc:
        raise ConfigError(render_validation_error(exc, Config, override_keys, merged, search)) from None
    except PluginError as exc:  # raised outside a field validator (e.g. building a default)
        raise ConfigError(str(exc)) from None
    return config.with_search_path(search)


def resolve_num_clients(raw: dict, search_path: tuple[str, ...] = ()) -> tuple[dict, tuple[str, str] | None]:
    """Fill in ``data.num_clients: null`` (every client of the data) with the data's client count.

    Runs before the config is validated, so a validated config never changes afterwards and the
    schema reads no file: the data section is validated alone first, and only a valid section of
    a dataset with its own clients whose ``num_clients`` is null has its data read (once; kept in
    memory by :func:`simfl.data.loaders.load_source`). A resolved config (a run's
    ``config.yaml``) holds the number, so it validates without its data.

    Returns:
        ``(raw, None)`` with the count filled in (a copy) or untouched, or ``(raw, (key, message))``
        when the count cannot be had: the schema reports it with the config's other problems.

    Raises:
        DataError: the data cannot be read (malformed or missing files).
    """
    section = raw.get("data", {})
    if not isinstance(section, dict) or section.get("dataset") not in SOURCE_DATASETS:
        return raw, None
    try:
        data = DataConfig.model_validate(section, context={"search_path": search_path})
    except (ValidationError, ConfigError):
        return raw, None  # the full validation names the problem
    if data.num_clients is not None:
        return raw, None
    from simfl.data.loaders import load_source

    try:
        src = load_source(data)
    except PluginError as exc:
        return raw, ("data.source", str(exc).removeprefix("data.source: "))
    if src.num_clients is None:
        if data.partition == "natural":
            return raw, ("data.partition", f"natural needs client ids in the data ({NATURAL_ID_HINTS[data.dataset]}); "
                                           f"{src.origin} has none: use iid, dirichlet or shards")
        return raw, ("data.num_clients", f"null means one client per client id, but {src.origin} has no client ids; "
                                         "give a number")
    return {**raw, "data": {**section, "num_clients": src.num_clients}}, None


#: Config keys holding file paths; in a config file they are relative to the file's folder.
PATH_KEYS = (("data", "path"), ("heterogeneity", "profiles", "path"), ("heterogeneity", "availability", "path"))


def resolve_paths(raw: Any, base_dir: str | Path) -> Any:
    """A copy of a raw config mapping whose relative file paths are made relative to ``base_dir``."""
    if not isinstance(raw, dict):
        return raw
    out = copy.deepcopy(raw)
    for keys in PATH_KEYS:
        node = out
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(keys[-1]), str):
            if "\0" in node[keys[-1]]:
                continue  # not a path: the schema says so, naming the key
            p = Path(node[keys[-1]]).expanduser()
            node[keys[-1]] = str(p if p.is_absolute() else (Path(base_dir) / p).resolve())
    return out


def load_config(path: str | Path | None = None, overrides: Iterable[str] | Mapping[str, Any] = ()) -> Config:
    """Load and validate a config file.

    File paths inside the config (``data.path``, ``heterogeneity.profiles.path``,
    ``heterogeneity.availability.path``) are relative to the config file's folder; paths given
    by ``overrides`` are relative to the current directory. Plugin modules named by import
    paths (``algorithm.type: my_rules:MyMethod``) are looked up in the config file's folder
    first, then on the Python path.

    Args:
        path: a YAML file (None: all defaults).
        overrides: ``"key.sub=value"`` strings (values read as YAML) or a ``{dotted_key: value}`` mapping.

    Raises:
        ConfigError: with a one-line message per problem naming the key path.
    """
    raw = {} if path is None else resolve_paths(read_yaml(path), Path(path).parent)
    search = () if path is None else (Path(path).parent,)
    config = config_from_dict(raw, overrides, source=str(path or "config"), search_path=search)
    if config.name is None and path is not None:
        config = config.model_copy(update={"name": Path(path).stem})
    return config


def dump_config(config: Config) -> str:
    """The resolved config as YAML (distributions as ``{dist: ...}``, constants as numbers)."""
    return yaml.safe_dump(config.model_dump(mode="python"), sort_keys=False)

