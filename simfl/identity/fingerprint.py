"""Fingerprints of the user files that define a run: what a run's id cannot see.

A run's id (:func:`simfl.sweep.spec.run_id_of`) is a hash of its resolved config, which
*names* files but does not hold them: edit your plugin and the config, so the id, stays the
same. :func:`file_fingerprints` adds, per config key, the SHA-256 of the files that key names
(:mod:`simfl.identity.filedigest`: streamed, cached per user). The run's manifest keeps them
(``fingerprints``), a sweep recomputes a finished run whose files changed since (and never
resumes a checkpoint written under other files), and ``simfl report`` warns about a sweep whose
runs used different versions of one file.

Covered, under the key that names the file:

* **plugins**: every component of ``algorithm`` that is not a built-in (the method, its
  ``selection``, ``staleness``, ``server_optimizer``, and components nested in theirs), under
  ``algorithm.type``, ``algorithm.selection.type``, ...: the file of the module that defines it
  (and of the module its import path names), the ``__init__.py`` of every package on its dotted
  path, and the modules it imports that live in the same folder tree (the folder it was imported
  from: the config's folder or a Python path entry), followed through their own imports. Imports
  are found by reading ``import`` statements (all of them, even inside ``if``); for a module
  installed in site-packages only modules of its own package are followed.
* ``model.factory`` (``model: {type: torch}``), ``data.source`` (``dataset: python``) and
  ``data.flwr_partitioner`` when it is an import path: the same, for the module named.
* **data and traces**: every file-path field of the config (:data:`simfl.strict.FilePath`:
  ``data.path``, ``heterogeneity.profiles.path``, ``heterogeneity.availability.path``, and such
  fields of a plugin's parameters): the file's digest, or for a folder the digest of every file
  under it with its relative name (hidden names skipped). A path that does not exist is recorded
  with ``sha256: null``.

Not covered: modules loaded another way (``importlib``, ``exec``, a path computed at run time) or
installed packages a plugin imports (their versions are not recorded), files a plugin or a data
source opens itself, simfl itself (its version is in the manifest), a model callable given to
:func:`simfl.run` that has no import path (a lambda, a function of ``__main__``), a custom
``trainer``, a component :func:`simfl.registry.register`-ed from a module without a file.

A module's digest is taken the first time this process fingerprints it (just after importing
it) and kept while it stays loaded, so it describes the code the process runs: a worker of a
long sweep that imported your plugin before you edited it records the old version, and the next
``simfl sweep`` recomputes what it ran. In a long-lived Python session, reload an edited plugin
(``importlib.reload``) or restart.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import site
import sys
import sysconfig
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from pydantic import BaseModel

from simfl.identity.filedigest import file_sha256, folder_sha256, lines_sha256
from simfl.strict import FilePath

__all__ = ["FileFingerprints", "file_fingerprints", "component_fingerprint", "changed_files", "stale_reason",
           "describe_files", "combined_fingerprint", "mixed_versions", "module_files", "STALE"]

#: How :func:`stale_reason` starts (a sweep's summary shows it as the error of a run to recompute).
STALE = "to recompute:"

_FILE_PATH_CHECK = FilePath.__metadata__[0].func  # how a FilePath field is recognised
_loaded: dict[str, tuple[Any, dict[str, tuple[str, str | None]]]] = {}  # module → (its spec, {file: (name, sha256)})
_loaded_lock = threading.Lock()


# ------------------------------------------------------------------ modules and what they import
@functools.lru_cache(maxsize=1)
def _shared_folders() -> frozenset[str]:
    """Folders of installed packages and the standard library (imports there are not followed)."""
    paths = set(sysconfig.get_paths().values())
    try:
        paths.update(site.getsitepackages())
        paths.add(site.getusersitepackages())
    except AttributeError:  # some embedded interpreters have no site functions
        pass
    return frozenset(os.path.abspath(p) for p in paths if isinstance(p, str))


def _file_of(root: str, dotted: str) -> str | None:
    """The source file of module ``dotted`` under ``root`` (a package wins over a module), or None."""
    base = os.path.join(root, *dotted.split("."))
    for candidate in (os.path.join(base, "__init__.py"), base + ".py"):
        if os.path.isfile(candidate):
            return candidate
    return None


def _imported_names(path: str, module: str) -> Iterator[str]:
    """Every module name the ``import`` statements of ``path`` (module ``module``) may load."""
    try:
        tree = ast.parse(Path(path).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return
    package = module.split(".") if os.path.basename(path) == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > len(package):
                    continue
                base = package[: len(package) - (node.level - 1)]
                prefix = ".".join([*base, *([node.module] if node.module else [])])
            else:
                prefix = node.module or ""
            if prefix:
                yield prefix
            yield from (f"{prefix}.{a.name}" if prefix else a.name for a in node.names if a.name != "*")


def module_files(name: str) -> dict[str, str]:
    """The files of loaded module ``name`` a fingerprint covers: ``{absolute path: name relative to
    the folder it was imported from}`` (see the module docstring). Empty for a module without a file."""
    file = getattr(sys.modules.get(name), "__file__", None)
    if not file or not os.path.isfile(file):
        return {}
    file = os.path.abspath(file)
    parts = name.split(".")
    is_package = os.path.basename(file) == "__init__.py"
    layout = os.path.join(*parts, "__init__.py") if is_package else os.path.join(*parts[:-1], Path(file).name)
    if not file.endswith(os.sep + layout):  # not laid out as its name says (loaded from a path): no following
        return {file: Path(file).name}
    root = str(Path(file).parents[len(parts) - 1 + is_package])
    shared = root in _shared_folders()
    scope = None if shared and len(parts) == 1 and not is_package else (os.path.join(root, parts[0]) if shared else root)
    found: dict[str, str] = {}
    queue = [(name, file)]
    while queue:
        module, path = queue.pop()
        if path in found:
            continue
        found[path] = Path(os.path.relpath(path, root)).as_posix()
        pieces = module.split(".")
        inits = [(".".join(pieces[:i]), _file_of(root, ".".join(pieces[:i]))) for i in range(1, len(pieces))]
        queue += [(m, f) for m, f in inits if f is not None]
        if scope is None or not path.endswith(".py"):
            continue
        for target in _imported_names(path, module):
            if target.split(".")[0] == "simfl":
                continue  # simfl's own code: its version is in the manifest
            local = _file_of(root, target)
            if local is not None and os.path.commonpath([local, scope]) == scope:
                queue.append((target, local))
    return found


def _loaded_digests(name: str) -> dict[str, tuple[str, str | None]]:
    """``{file: (relative name, sha256 or None)}`` of module ``name`` as this process loaded it (memoized
    while the same module stays loaded; a reload or a fresh import hashes it again)."""
    spec = getattr(sys.modules.get(name), "__spec__", None)
    with _loaded_lock:
        memo = _loaded.get(name)
        if memo is not None and memo[0] is spec and spec is not None:
            return memo[1]
    digests: dict[str, tuple[str, str | None]] = {}
    for path, rel in module_files(name).items():
        try:
            digests[path] = (rel, file_sha256(path))
        except OSError:
            digests[path] = (rel, None)
    with _loaded_lock:
        _loaded[name] = (spec, digests)
    return digests


def _module_entry(modules: Iterable[str]) -> dict[str, Any]:
    """The fingerprint of a component's or function's modules (the first one names it)."""
    modules = list(dict.fromkeys(m for m in modules if m))
    files: dict[str, tuple[str, str | None]] = {}
    for name in modules:
        files.update(_loaded_digests(name))
    primary = getattr(sys.modules.get(modules[0]), "__file__", None) if modules else None
    entry: dict[str, Any] = {"module": modules[0] if modules else None,
                             "path": os.path.abspath(primary) if primary else None}
    if not files or any(digest is None for _, digest in files.values()):
        entry.update(sha256=None, error="no readable file (a module without a file is not covered)")
        return entry
    names = sorted({(rel, digest) for rel, digest in files.values()})
    entry.update(sha256=lines_sha256(names), files=[rel for rel, _ in names])
    return entry


# ------------------------------------------------------------------ files and folders named by the config
def _is_file_path(field) -> bool:
    """True for a field annotated :data:`~simfl.strict.FilePath` (optional or not)."""
    def marked(items) -> bool:
        return any(getattr(m, "func", None) is _FILE_PATH_CHECK for m in items)

    def walk(annotation) -> bool:
        return marked(getattr(annotation, "__metadata__", ())) or any(walk(a) for a in getattr(annotation, "__args__", ()))

    return marked(field.metadata) or walk(field.annotation)


def _file_fields(model: BaseModel, prefix: str) -> Iterator[tuple[str, str]]:
    """``(dotted key, path)`` of every file-path field set in ``model`` and the models it holds."""
    from simfl.config.schema import NON_RESULT_SECTIONS

    for name, field in type(model).model_fields.items():
        if not prefix and name in NON_RESULT_SECTIONS:
            continue
        value = getattr(model, name, None)
        key = f"{prefix}.{name}" if prefix else name
        if isinstance(value, str) and _is_file_path(field):
            yield key, value
        elif isinstance(value, BaseModel):
            yield from _file_fields(value, key)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _file_fields(item, f"{key}.{i}")


def _path_entry(path: str) -> dict[str, Any]:
    name = os.path.abspath(os.path.expanduser(path))
    try:
        if os.path.isdir(name):
            digest, count = folder_sha256(name)
            return {"path": name, "sha256": digest, "file_count": count}
        if os.path.isfile(name):
            return {"path": name, "sha256": file_sha256(name)}
        return {"path": name, "sha256": None, "error": "no such file or folder"}
    except OSError as exc:
        return {"path": name, "sha256": None, "error": f"cannot read ({exc.strerror or exc})"}


def _import_paths(config) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """``(key, import path, search path)`` of the functions and classes the config names outside ``algorithm``."""
    from simfl.registry import is_import_path

    if config.model.type == "torch" and config.model.factory:
        yield "model.factory", config.model.factory, config.search_path
    if config.data.dataset == "python" and config.data.source:
        yield "data.source", config.data.source, config.data.search_path
    if config.data.partition == "flwr" and is_import_path(config.data.flwr_partitioner or ""):
        yield "data.flwr_partitioner", config.data.flwr_partitioner, ()


class FileFingerprints:
    """Fingerprints of the user files of configs; one instance hashes each path once (a sweep's plan)."""

    def __init__(self) -> None:
        self._paths: dict[str, dict[str, Any]] = {}

    def __call__(self, config) -> dict[str, dict[str, Any]]:
        """``{config key: {"path", "sha256", ...}}`` for every user file ``config`` names (sorted by key)."""
        from simfl.registry import import_object, is_import_path, plugin_components

        out: dict[str, dict[str, Any]] = {}
        for key, name, module in plugin_components(config.algorithm):
            named = name.partition(":")[0] if is_import_path(name) else None
            out[key] = _module_entry([module, named])
        for key, path, search in _import_paths(config):
            try:
                target = import_object(path, search, key)
            except Exception:  # the run fails on it by itself, naming the key
                out[key] = {"module": path.partition(":")[0], "path": None, "sha256": None, "error": "cannot import"}
                continue
            out[key] = _module_entry([path.partition(":")[0], getattr(target, "__module__", None)])
        for key, path in _file_fields(config, ""):
            if path not in self._paths:
                self._paths[path] = _path_entry(path)
            out[key] = self._paths[path]
        return dict(sorted(out.items()))


def component_fingerprint(name: str, target: Any) -> dict[str, Any]:
    """The fingerprint of one component ``name`` (an import path or a registered name) resolved to
    ``target``, as a plugin's entry of :func:`file_fingerprints` reads (used for the callbacks of
    ``tracking.callbacks``, which are kept apart: they do not define a run's results)."""
    named = name.partition(":")[0] if ":" in name else None
    return _module_entry([getattr(target, "__module__", None), named])


def file_fingerprints(config) -> dict[str, dict[str, Any]]:
    """``{config key: {"path", "sha256", ...}}`` for every user file ``config`` names (see the module docstring)."""
    return FileFingerprints()(config)


# ------------------------------------------------------------------ comparing fingerprints
def _digest(entry: Any) -> Any:
    return entry.get("sha256") if isinstance(entry, Mapping) else entry


def changed_files(recorded: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[str]:
    """The keys whose files differ between a recorded and the current fingerprints (sorted).

    A run recorded without fingerprints (``recorded`` None: an older simfl) cannot be checked:
    every current key counts as changed, and a run that uses no user file never does.
    """
    if not current:
        return []
    if recorded is None:
        return sorted(current)
    return sorted(k for k in set(recorded) | set(current) if _digest(recorded.get(k)) != _digest(current.get(k)))


def stale_reason(manifest: Mapping[str, Any] | None, fingerprints: Mapping[str, Any] | None) -> str | None:
    """Why the run of ``manifest`` is not a run of a config whose user files are ``fingerprints``:
    its files changed since it ran, or were not recorded (see :func:`changed_files`). None: it is
    (or there is nothing to compare: no manifest, or ``fingerprints`` None)."""
    if manifest is None or fingerprints is None:
        return None
    changed = changed_files(manifest.get("fingerprints"), fingerprints)
    if not changed:
        return None
    how = "changed since it ran" if "fingerprints" in manifest else "were not recorded (an older simfl)"
    return f"{STALE} its files {how}: {describe_files(changed, fingerprints)}"


def describe_files(keys: Iterable[str], fingerprints: Mapping[str, Any]) -> str:
    """``algorithm.type (my_rules.py), data.path (train.npz)`` for messages."""
    def name(key: str) -> str:
        path = (fingerprints.get(key) or {}).get("path")
        return f"{key} ({os.path.basename(path)})" if path else key

    return ", ".join(name(k) for k in keys)


def combined_fingerprint(fingerprints: Mapping[str, Any] | None) -> str | None:
    """12 hex digits summing up a run's fingerprints (None: the run uses no user file, or none were recorded)."""
    if not fingerprints:
        return None
    text = "".join(f"{key}\0{_digest(entry)}\n" for key, entry in sorted(fingerprints.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def mixed_versions(manifests: Mapping[str, Mapping[str, Any]], shown: int = 3) -> list[str]:
    """One warning line per user file that runs used in different versions.

    Args:
        manifests: run id → its manifest (runs recorded without fingerprints are skipped).
        shown: run ids named per version.
    """
    versions: dict[tuple[str, str], dict[Any, list[str]]] = defaultdict(lambda: defaultdict(list))
    for run_id, manifest in manifests.items():
        for key, entry in (manifest.get("fingerprints") or {}).items():
            if isinstance(entry, Mapping):
                versions[(key, str(entry.get("path")))][entry.get("sha256")].append(str(run_id))
    lines = []
    for (key, path), by_digest in sorted(versions.items()):
        if len(by_digest) < 2:
            continue
        runs = sum(len(ids) for ids in by_digest.values())
        parts = [f"{(digest or 'unreadable')[:12]} in {len(ids)} ({', '.join(sorted(ids)[:shown])}"
                 f"{', ...' if len(ids) > shown else ''})"
                 for digest, ids in sorted(by_digest.items(), key=lambda kv: (-len(kv[1]), str(kv[0])))]
        lines.append(f"warning: {key} ({path}): {len(by_digest)} versions across {runs} runs: {'; '.join(parts)}; "
                     "rerunning simfl sweep recomputes the runs whose files changed")
    return lines
