"""The import graph of ``simfl`` has no cycle, and its layers point one way.

Every module under ``simfl/`` is parsed with :mod:`ast`; every import counts (module level or
inside a function), except those under ``if TYPE_CHECKING:``, which never run. A cycle among
these runtime imports means that which module finishes loading first depends on who imports
whom first: the failure mode is a half-initialised module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import simfl

ROOT = Path(simfl.__file__).parent


def _module_name(path: Path) -> str:
    parts = ["simfl", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST, typing: bool = False):
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` blocks (with them: ``typing``)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if not typing and isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _imports(path: Path, modules: set[str], me: str | None = None, typing: bool = False) -> set[str]:
    """The simfl modules ``path`` imports at run time (``from pkg import mod`` names the module).

    Importing ``a.b.c`` also runs the package ``a.b``'s ``__init__`` (unless the importer is inside
    ``a.b``, which is then loading already), so that counts as an import of ``a.b`` too.
    """
    me = me or _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8")), typing):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            while target:
                if target != me and not me.startswith(target + "."):
                    found.add(target)
                target = target.rpartition(".")[0]
    return found


def import_graph(typing: bool = False) -> dict[str, set[str]]:
    """Module → the simfl modules it imports at run time (``typing``: and for type checkers only)."""
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    return {name: _imports(path, set(files), typing=typing) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    colour: dict[str, int] = {}
    for start in sorted(graph):
        if colour.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        colour[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = 2
                stack.pop()
            elif colour.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            elif not colour.get(nxt):
                colour[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def _outside(graph: dict[str, set[str]], prefix: str) -> dict[str, set[str]]:
    return {m: {t for t in ts if not t.startswith(prefix)} for m, ts in graph.items() if not m.startswith(prefix)}


def _reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for t in graph.get(todo.pop(), ()):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_type_checking_imports_and_local_imports_are_told_apart(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import simfl.runner\n"
        "def f():\n    from simfl.config import schema\n    import simfl.errors\n"
    )
    found = _imports(src, {"simfl", "simfl.runner", "simfl.config", "simfl.config.schema", "simfl.errors"}, "simfl.x.m")
    assert found == {"simfl.config", "simfl.config.schema", "simfl.errors"}


def test_no_runtime_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "runtime import cycle: " + " -> ".join(cycle)


def test_no_engine_import_cycle_even_for_type_checkers():
    """An import under ``if TYPE_CHECKING:`` never runs, but a circle of them still ties modules
    together for a reader and an IDE (the engine's parts name the simulation by a protocol,
    :mod:`simfl.engine.services`)."""
    graph = import_graph(typing=True)
    engine = {m: {t for t in ts if t.startswith("simfl.engine.")} for m, ts in graph.items() if m.startswith("simfl.engine.")}
    cycle = find_cycle(engine)
    assert cycle is None, "import cycle (counting TYPE_CHECKING imports): " + " -> ".join(cycle)


def test_the_dataset_kinds_read_only_the_registry():
    """config and data both read the dataset names: the module holding them imports the registry
    alone, and the registry imports no dataset module (nor anything but the errors)."""
    graph = import_graph()
    assert graph["simfl.data.kinds"] == {"simfl.registry"}
    assert graph["simfl.registry"] == {"simfl.errors"}


@pytest.mark.parametrize(
    "lower, upper",
    [
        ("simfl.scenario", "simfl.config"),
        ("simfl.data", "simfl.config"),
        ("simfl.scenario", "simfl.engine"),
        ("simfl.data", "simfl.engine"),
        ("simfl.config", "simfl.engine"),
        ("simfl.config", "simfl.training"),
        ("simfl.scenario", "simfl.training"),
        ("simfl.registry", "simfl.config"),
    ],
)
def test_layers_point_one_way(lower, upper):
    graph = import_graph()
    bad = sorted(m for m in graph if m.startswith(lower) and any(t.startswith(upper) for t in graph[m]))
    assert not bad, f"{lower} must not import {upper} at run time; it does in {', '.join(bad)}"
