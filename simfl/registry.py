"""One registry for every kind of component a config names with a ``type:`` key.

A component is named by a **built-in name** (``fedbuff``), a name an installed package
registers through an entry point (group ``simfl.algorithms``, ``simfl.selection``,
``simfl.staleness``, ``simfl.server_optimizers``), or an **import path** ``package.module:Name``.
Every name resolves to an import path, and every import path is imported the same way, so
built-ins and plugins share one code path: simfl's own components are simply names listed in
:data:`BUILTINS`. An import path's module is looked up on the Python path and, first, in the
*search path* of the config being read (the config file's folder), so a plugin file can sit
next to its config.

Every component has one shape: a pydantic parameter model (its keys) and a build step,
:meth:`Component.build`, that turns validated parameters into what a run uses. Kinds differ only
in where the model sits (:data:`CONTRACTS`; see :mod:`simfl.api` and ``docs/plugins.md``):

* ``algorithm`` and ``selection``: a class with a nested ``Params`` model, built as ``cls(params)``;
* ``staleness`` and ``server_optimizer``: the model class is the component (by value): a
  staleness function is the parameters themselves, an optimizer spec builds with ``spec.build()``;
* ``model``: a class with a nested ``Params`` (the ``model`` section) and ``param_count``, built as
  ``cls(params)``; the built-in flat models give their ``layers`` too (:mod:`simfl.models`). It
  has no entry-point group: ``model.type`` takes the schema's models only.
* ``dataset``: a class with a nested ``Params`` (its name only: the ``data`` section is flat and
  shared), built as ``cls(params)`` (:mod:`simfl.data.dataset`). Its entries are
  :class:`BuiltinDataset`\\ s: they also hold, as data, what config validation says about a kind
  without importing it. It has no entry-point group and :func:`register` refuses it: a user's
  data come through ``data.dataset: python`` and ``data.source``.
* ``callback``: a tracking callback named in ``tracking.callbacks`` (:mod:`simfl.tracking`): a class
  with a nested ``Params`` subclassing ``CallbackParams`` (a :class:`~simfl.tracking.Callback`
  subclass inherits one without keys), built as ``cls(params)`` inside each run. It has no
  built-in names and no entry-point group: an import path, or a name given with :func:`register`.

Each entry of :data:`BUILTINS` also carries the label, colour and marker figures use, so the
registry is the only list of component names: config descriptions, ``docs/config.md`` and the
plot styles are read from it.

:func:`resolve` returns a :class:`Component`: its parameter model (validated against the
config mapping) and how to build it. Errors are one-line :class:`~simfl.errors.PluginError`\\ s
that name the component.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import importlib.metadata
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from simfl.errors import PluginError

__all__ = [
    "KINDS",
    "BUILTINS",
    "Builtin",
    "BuiltinDataset",
    "CONTRACTS",
    "Contract",
    "builtins",
    "contract",
    "ENTRY_POINT_GROUPS",
    "Component",
    "resolve",
    "names",
    "register",
    "component_of",
    "is_import_path",
    "import_object",
    "plugin_components",
    "no_imports",
    "importing_allowed",
]

#: The kinds of component, each with the config key that names it.
KINDS = {
    "algorithm": "algorithm.type",
    "selection": "algorithm.selection.type",
    "staleness": "algorithm.staleness.type",
    "server_optimizer": "algorithm.server_optimizer.type",
    "model": "model.type",
    "dataset": "data.dataset",
    "callback": "tracking.callbacks",
}

#: Entry-point group through which installed packages register names, per kind.
ENTRY_POINT_GROUPS = {
    "algorithm": "simfl.algorithms",
    "selection": "simfl.selection",
    "staleness": "simfl.staleness",
    "server_optimizer": "simfl.server_optimizers",
}

@dataclass(frozen=True)
class Builtin:
    """One of simfl's own components: where it lives and how figures show it.

    Attributes:
        path: its import path ``package.module:Name``.
        label: its display name in figures and tables (None: the name itself).
        color: its fixed colour in figures (None: one handed out like a plugin's).
        marker: its fixed matplotlib marker (None: one handed out like a plugin's).
    """

    path: str
    label: str | None = None
    color: str | None = None
    marker: str | None = None


@dataclass(frozen=True)
class BuiltinDataset(Builtin):
    """One of simfl's own dataset kinds, with what config validation says about it (data only:
    the schema reads it without importing the kind's module).

    Attributes:
        about: what it is, in a few words (the description of ``data.dataset`` lists these).
        natural_ids: where its own client ids come from (for messages); None for a kind without
            clients of its own (simfl splits its pool).
        path_help: what ``data.path`` must name; None for a kind read from no file.
    """

    about: str = ""
    natural_ids: str | None = None
    path_help: str | None = None


#: simfl's own components, per kind: name → :class:`Builtin`. Adding a built-in is its own file
#: and one line here: config validation, ``docs/config.md`` and the figures read this table.
BUILTINS: dict[str, dict[str, Builtin]] = {
    "algorithm": {
        "fedavg": Builtin("simfl.methods.fedavg:FedAvg", "FedAvg", "#0072B2", "o"),
        "fedasync": Builtin("simfl.methods.fedasync:FedAsync", "FedAsync", "#D55E00", "s"),
        "fedbuff": Builtin("simfl.methods.fedbuff:FedBuff", "FedBuff", "#009E73", "^"),
        "fedat": Builtin("simfl.methods.fedat:FedAT", "FedAT", "#CC79A7", "D"),
        "semisync": Builtin("simfl.methods.semisync:SemiSync", "semi-sync", "#E69F00", "v"),
    },
    "selection": {
        "uniform": Builtin("simfl.methods.selectors:Uniform"),
        "fastest": Builtin("simfl.methods.selectors:Fastest"),
        "least_recent": Builtin("simfl.methods.selectors:LeastRecent"),
        "power_of_choice": Builtin("simfl.methods.selectors:PowerOfChoice"),
        "oort": Builtin("simfl.methods.oort:Oort"),
    },
    "staleness": {
        "constant": Builtin("simfl.algorithms.staleness:ConstantStaleness"),
        "polynomial": Builtin("simfl.algorithms.staleness:PolynomialStaleness"),
        "hinge": Builtin("simfl.algorithms.staleness:HingeStaleness"),
        "exponential": Builtin("simfl.algorithms.staleness:ExponentialStaleness"),
    },
    "server_optimizer": {
        "sgd": Builtin("simfl.algorithms.fedopt:SGDSection"),
        "avgm": Builtin("simfl.algorithms.fedopt:AvgMSection"),
        "adagrad": Builtin("simfl.algorithms.fedopt:AdagradSection"),
        "adam": Builtin("simfl.algorithms.fedopt:AdamSection"),
        "yogi": Builtin("simfl.algorithms.fedopt:YogiSection"),
    },
    "model": {
        "logreg": Builtin("simfl.models.logreg:LogReg"),
        "mlp": Builtin("simfl.models.mlp:MLP"),
        "cnn": Builtin("simfl.models.cnn:CNN"),
        "torch": Builtin("simfl.models.factory:TorchFactory"),
    },
    "dataset": {
        "synthetic": BuiltinDataset("simfl.data.synthetic:Synthetic", about="FedProx Synthetic(alpha, beta)"),
        "digits": BuiltinDataset("simfl.data.digits:Digits", about="scikit-learn's bundled 8x8 digits"),
        "idx": BuiltinDataset("simfl.data.idx:Idx", about="MNIST-format IDX files in `path`",
                              path_help="a folder of MNIST-format IDX files"),
        "leaf": BuiltinDataset("simfl.data.leaf:Leaf", about="LEAF JSON (users, num_samples, user_data) in `path`, one "
                               "client per user", natural_ids="its users",
                               path_help="a LEAF folder (train/ and test/ of .json files) or a .json file"),
        "arrays": BuiltinDataset("simfl.data.arrays:Arrays", about="a .npz (x, y, client_id, x_test, y_test, "
                                 "client_id_test) or .parquet file in `path`",
                                 natural_ids="a client_id array (.npz) or column (.parquet, data.client_column)",
                                 path_help="a .npz or .parquet file"),
        "huggingface": BuiltinDataset("simfl.data.hf:HuggingFace", about="a save_to_disk folder or local data files in "
                                      "`path` (extra simfl[hf])",
                                      natural_ids="a client column (data.client_column, default client_id)",
                                      path_help="a save_to_disk folder or a .parquet/.csv/.json/.arrow file"),
        "python": BuiltinDataset("simfl.data.pysource:Python", about="the arrays `source` returns",
                                 natural_ids="client_id in what data.source returns"),
    },
    "callback": {},  # the built-in writers have keys of their own (tracking.tensorboard, ...)
}


@dataclass(frozen=True)
class Contract:
    """What a component of a kind is.

    Attributes:
        base: import path of the base class of its parameter model.
        by_value: True when the validated parameters are the component itself (a staleness
            function, an optimizer spec); False when the component is a class built as ``cls(params)``
            with a nested ``Params``.
        hooks: the methods it must implement (a tuple of names inside is "one of these").
        build: the method of the parameters that builds what a run uses (by-value kinds; None: the
            parameters themselves are used).
    """

    base: str
    by_value: bool
    hooks: tuple
    build: str | None = None


#: Per kind: what its components are (see :class:`Contract`).
CONTRACTS: dict[str, Contract] = {
    "algorithm": Contract("simfl.config.params:AlgorithmParams", False, ("start", ("on_arrivals", "on_task_ends"))),
    "selection": Contract("simfl.config.params:SelectionParams", False, ("select",)),
    "staleness": Contract("simfl.algorithms.staleness:StalenessFunction", True, ("__call__",)),
    "server_optimizer": Contract("simfl.algorithms.fedopt:ServerOptimizerSpec", True, ("build",), build="build"),
    "model": Contract("simfl.models.base:ModelParams", False, ("param_count",)),
    "dataset": Contract("simfl.data.dataset:DatasetParams", False, ("info", ("pool", "read"))),
    "callback": Contract("simfl.tracking.callback:CallbackParams", False,
                         (("on_run_start", "on_evaluation", "on_server_version", "on_task_end", "on_run_end"),)),
}


_IMPORT_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_registered: dict[str, dict[str, str | Any]] = {kind: {} for kind in KINDS}
_entry_points: dict[str, dict[str, str]] | None = None
_owners: dict[type, "Component"] = {}  # parameter model → the component it belongs to
# (parameter model, name) → component: a plugin that subclasses a built-in and keeps its parameter
# model (``class Boom(FedAsync)``) shares that model, and must not take the built-in's place
_by_name: dict[tuple[type, str], "Component"] = {}
_import_lock = threading.Lock()
_no_imports: contextvars.ContextVar[bool] = contextvars.ContextVar("simfl_no_imports", default=False)
_stored: dict[tuple[str, str], "Component"] = {}  # (kind, name) → its data-only stand-in


@contextlib.contextmanager
def no_imports():
    """Within this block nothing a config names is imported: results are data.

    A component that is not one of simfl's own (:data:`BUILTINS`) resolves to a *stored*
    stand-in: a parameter model of the kind's base that keeps the component's keys as data and
    cannot be built or called; :func:`import_object` refuses. Used when a run or sweep
    directory is read (``load_run``, ``simfl report``, ``simfl plot``), so that a results folder
    received from someone else never runs code.
    """
    token = _no_imports.set(True)
    try:
        yield
    finally:
        _no_imports.reset(token)


def importing_allowed() -> bool:
    """False inside :func:`no_imports`."""
    return not _no_imports.get()


def is_import_path(name: str) -> bool:
    """True for ``package.module:Name`` (as opposed to a registered name)."""
    return isinstance(name, str) and bool(_IMPORT_PATH.match(name))


def import_object(path: str, search_path: Iterable[str | Path] = (), key: str = "import path") -> Any:
    """The object an import path ``package.module:name`` names, imported as components are.

    The module is looked up first in ``search_path`` (e.g. ``config.search_path``, the config
    file's folder), then on the Python path. Used for objects that are not registry components,
    such as a model factory (``model.factory``).

    Raises:
        PluginError: not an import path, no such module, the module raised on import, or no such
            attribute; the message is one line and names ``key``.
    """
    if not is_import_path(path):
        raise PluginError(f"{key}: expected an import path package.module:Name, got {path!r}")
    if not importing_allowed():
        raise PluginError(f"{key}: {path}: not imported: results are read as data, never by running code they name")
    return _import(path, key, path, search_path)


@dataclass(frozen=True)
class Component:
    """A resolved component.

    Attributes:
        kind: one of :data:`KINDS`.
        name: the name it was asked for (a registered name or an import path).
        target: the object the name resolved to (a class).
        params: the pydantic model of its keys (with a ``type`` field).
        builtin: True for simfl's own components.
    """

    kind: str
    name: str
    target: Any
    params: Any
    builtin: bool = False

    @property
    def by_value(self) -> bool:
        """True when the validated parameters are the component itself (staleness, optimizer spec)."""
        return self.params is self.target

    def build(self, params: Any) -> Any:
        """The object a run uses, for every kind the same call: ``target(params)`` for a class with
        a nested ``Params``; for a by-value kind its build method (``spec.build()``) or, without
        one, the parameters themselves (a staleness function is called as it is)."""
        step = contract(self.kind).build
        if self.by_value and step is None:
            return params
        try:
            return getattr(params, step)() if self.by_value else self.target(params)
        except (Exception, SystemExit) as exc:  # a plugin's constructor or build step failed (sys.exit() included)
            raise PluginError(f"{KINDS[self.kind]}: {self.name}: building it failed: {type(exc).__name__}: {exc}") from exc

    def describe(self) -> str:
        """First line of the component's docstring."""
        doc = (self.target.__doc__ or "").strip()
        return " ".join(doc.split("\n\n")[0].split())


def register(kind: str, name: str, target: str | Any) -> None:
    """Give a component a short name (Python API; configs may then use ``type: name``).

    Args:
        kind: one of :data:`KINDS`.
        name: the name (letters, digits, underscores).
        target: an import path ``package.module:Name`` or the class itself.
    """
    _check_kind(kind)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise PluginError(f"register: {name!r} is not a valid name (letters, digits and underscores)")
    if name in BUILTINS[kind]:
        raise PluginError(f"register: {name!r} is a built-in {kind} name")
    if kind == "dataset":
        raise PluginError("register: dataset kinds are simfl's own; bring data with data.dataset: python and "
                          "data.source: package.module:function")
    _registered[kind][name] = target


def builtins(kind: str) -> dict[str, Builtin]:
    """simfl's own components of a kind: name → :class:`Builtin` (an entry given as a bare import
    path reads as ``Builtin(path)``)."""
    _check_kind(kind)
    return {name: entry if isinstance(entry, Builtin) else Builtin(entry) for name, entry in BUILTINS[kind].items()}


def contract(kind: str) -> Contract:
    """What a component of ``kind`` is (:class:`Contract`; a bare tuple entry reads as one)."""
    _check_kind(kind)
    entry = CONTRACTS[kind]
    return entry if isinstance(entry, Contract) else Contract(*entry)


def names(kind: str) -> list[str]:
    """Every registered name of a kind: built-ins first, then entry points and :func:`register`."""
    _check_kind(kind)
    return [*BUILTINS[kind], *_entry_point_names(kind), *_registered[kind]]


def component_of(params: Any) -> Component:
    """The component whose parameter model ``params`` is an instance of (and whose name is ``params.type``)."""
    name = getattr(params, "type", None)
    for cls in type(params).__mro__:
        if (cls, name) in _by_name:
            return _by_name[(cls, name)]
    for cls in type(params).__mro__:
        if cls in _owners:
            return _owners[cls]
    raise PluginError(f"{type(params).__name__} was not produced by resolving a component")


def resolve(kind: str, name: str, search_path: Iterable[str | Path] = (), key: str | None = None) -> Component:
    """Resolve a name of a kind to its :class:`Component`.

    Args:
        kind: one of :data:`KINDS`.
        name: a registered name or an import path ``package.module:Name``.
        search_path: folders searched before the Python path for an import path's module.
        key: the config key named in error messages (default: the kind's usual key).

    Raises:
        PluginError: unknown name, import failure, or an object that is not such a component;
            the message is one line and names the config key and the component.
    """
    _check_kind(kind)
    key = key or KINDS[kind]
    if not isinstance(name, str) or not name:
        raise PluginError(f"{key}: expected a name or an import path package.module:Name, got {name!r}")
    builtin = name in BUILTINS[kind]
    target: Any
    if not builtin and not importing_allowed():
        return _stored_component(kind, name, key)
    if builtin:
        target = builtins(kind)[name].path
    elif name in _registered[kind]:
        target = _registered[kind][name]
    elif name in _entry_point_names(kind):
        target = _entry_point_names(kind)[name]
    elif is_import_path(name):
        target = name
    else:
        raise PluginError(f"{key}: unknown {kind} {name!r}{_hint(name, names(kind))}; allowed: "
                          f"{', '.join(names(kind))}, or an import path package.module:Name")
    obj = _import(target, key, name, search_path) if isinstance(target, str) else target
    params = _params_model(kind, obj, key, name)
    component = Component(kind, name, obj, params, builtin)
    _owners.setdefault(params, component)
    _by_name[(params, name)] = component
    return component


# ----------------------------------------------------------------------------- internals
def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown component kind {kind!r}; kinds: {', '.join(KINDS)}")


def _hint(name: str, allowed: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _entry_point_names(kind: str) -> dict[str, str]:
    global _entry_points
    if _entry_points is None:
        found: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        for k, group in ENTRY_POINT_GROUPS.items():
            try:
                eps = importlib.metadata.entry_points(group=group)
            except Exception:  # broken metadata of some installed package: no plugins from it
                continue
            for ep in eps:
                if ep.name not in BUILTINS[k]:
                    found[k][ep.name] = ep.value
        _entry_points = found
    return _entry_points[kind]


def _import(path: str, key: str, name: str, search_path: Iterable[str | Path]) -> Any:
    module_name, _, attr = path.partition(":")
    folders = [str(Path(p).resolve()) for p in search_path]
    with _import_lock:
        added = [f for f in folders if f not in sys.path]
        sys.path[:0] = added
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                where = f" (looked in {', '.join(folders)} and on the Python path)" if folders else " (not on the Python path)"
                raise PluginError(f"{key}: {name}: no module named {exc.name!r}{where}") from None
            raise PluginError(f"{key}: {name}: importing {module_name} failed: {type(exc).__name__}: {exc}") from None
        except (Exception, SystemExit) as exc:  # the plugin module itself raised (sys.exit() included)
            raise PluginError(f"{key}: {name}: importing {module_name} failed: {type(exc).__name__}: {exc}") from None
        finally:
            for f in added:
                if f in sys.path:
                    sys.path.remove(f)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise PluginError(f"{key}: {name}: module {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def _stored_component(kind: str, name: str, key: str) -> Component:
    """The data-only stand-in of a component that is not simfl's own (see :func:`no_imports`)."""
    if (kind, name) in _stored:
        return _stored[(kind, name)]
    base = _import(contract(kind).base, key, contract(kind).base, ())
    why = (f"{key}: {name}: read from results as data (not imported); load its config with "
           "simfl.load_config to run it")

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise PluginError(why)

    namespace: dict[str, Any] = {
        "__doc__": f"{name}, as stored in a results folder (its keys kept as data).",
        "__module__": __name__,
        "model_config": {**base.model_config, "extra": "allow"},
    }
    for hook in ("__call__", "build", "select", "start", "on_arrivals", "on_task_ends"):
        if hasattr(base, hook):
            namespace[hook] = unavailable
    params = type(f"Stored{''.join(p.title() for p in kind.split('_'))}", (base,), namespace)
    target = params if contract(kind).by_value else type("StoredTarget", (), {"__init__": unavailable, "__module__": __name__})
    component = Component(kind, name, target, params, builtin=False)
    _owners.setdefault(params, component)
    _by_name[(params, name)] = component
    _stored[(kind, name)] = component
    return component


def _params_model(kind: str, obj: Any, key: str, name: str) -> Any:
    """The parameter model of ``obj`` for ``kind``, checking that ``obj`` is such a component."""
    base_path, by_value, hooks = contract(kind).base, contract(kind).by_value, contract(kind).hooks
    base = _import(base_path, key, base_path, ())
    if not isinstance(obj, type):
        raise PluginError(f"{key}: {name} is not a class (got {type(obj).__name__})")
    if by_value:
        if not issubclass(obj, base):
            raise PluginError(f"{key}: {name} must subclass {base.__module__}.{base.__qualname__}")
        params = obj
    else:
        params = getattr(obj, "Params", None)
        if not (isinstance(params, type) and issubclass(params, base)):
            raise PluginError(f"{key}: {name} needs a nested class Params subclassing {base.__module__}.{base.__qualname__}")
    absent = [h if isinstance(h, str) else " or ".join(h) for h in hooks
              if not any(_implements(obj, one) for one in ((h,) if isinstance(h, str) else h))]
    if absent:
        raise PluginError(f"{key}: {name} does not implement {', '.join(absent)}")
    _check_defaults(params, key, name)
    return params


def _check_defaults(params: type, key: str, name: str) -> None:
    """Refuse a parameter whose default its own annotation rejects (pydantic never validates
    defaults): ``rounds: int = Field("two")`` is one line here, not a warning at the end of a run.
    Component defaults written as mappings are validated with the config (``Params``)."""
    from pydantic import TypeAdapter, ValidationError
    from pydantic_core import PydanticUndefined

    for field_name, field in params.model_fields.items():
        default = field.default
        if default is PydanticUndefined or field_name == "type" or isinstance(default, dict) or any(
                type(m).__name__ == "ComponentRef" for m in field.metadata):
            continue
        try:
            TypeAdapter(field.rebuild_annotation()).validate_python(default)
        except ValidationError as exc:
            raise PluginError(f"{key}: {name}: the default of {field_name}: {exc.errors()[0]['msg']} "
                              f"(got {default!r})") from None
        except Exception:  # an annotation a TypeAdapter cannot take alone: pydantic checks it in the model
            continue


def _implements(cls: type, hook: str) -> bool:
    """``cls`` has its own ``hook``: callable, not abstract, not a base class's default."""
    fn = getattr(cls, hook, None)
    return callable(fn) and not getattr(fn, "__isabstractmethod__", False) and not getattr(fn, "__simfl_default__", False)


def plugin_components(params: Any, key: str = "algorithm") -> list[tuple[str, str, str]]:
    """The plugins a config section uses: ``(config key, name, module)`` for every component that
    is not a built-in — the section's own (e.g. the method of ``config.algorithm``) and any
    component among its parameters (selection, staleness, server optimizer), depth first."""
    from pydantic import BaseModel

    found: list[tuple[str, str, str]] = []

    def visit(section: Any, where: str) -> None:
        try:
            component = component_of(section)
        except Exception:
            component = None
        if component is not None and not component.builtin:
            found.append((f"{where}.type", component.name, component.target.__module__))
        for name in type(section).model_fields:
            value = getattr(section, name)
            if isinstance(value, BaseModel) and "type" in type(value).model_fields:
                visit(value, f"{where}.{name}")

    visit(params, key)
    return found
