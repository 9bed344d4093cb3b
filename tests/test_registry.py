"""The registry is the only list of component names.

A built-in added as one line of :data:`simfl.registry.BUILTINS` (here: monkeypatched in, its
class in a module of the test's own) is seen by config validation, method sections, the
generated reference (``docs/config.md``, choices in descriptions) and the figures' labels,
colours, markers and order, with no other edit; and no other table of names is left to drift.
"""

import re
import textwrap
from pathlib import Path

import pytest

import simfl.registry as registry
from simfl.config.docs import _TITLES, render
from simfl.config.load import config_from_dict
from simfl.config.params import choices
from simfl.errors import ConfigError, PluginError
from simfl.plots import labels, style
from simfl.running.world import build_policy, build_selector

DOCS = Path(__file__).resolve().parents[1] / "docs" / "config.md"

_MODULE = '''
from pydantic import Field

from simfl.config.params import SelectionParams
from simfl.methods.fedasync import FedAsync
from simfl.methods.selectors import Uniform


class MyAsync(FedAsync):
    """MyAsync: FedAsync with a boost (a test built-in)."""

    class Params(FedAsync.Params):
        """MyAsync: FedAsync with a boost (a test built-in)."""

        boost: float = Field(1.0, gt=0, description="a key only this method has")


class Lucky(Uniform):
    """Lucky: uniform with a charm (a test built-in)."""

    class Params(SelectionParams):
        """Lucky: uniform with a charm (a test built-in)."""

        charm: int = Field(7, description="a key only this rule has")
'''


@pytest.fixture
def one_line(tmp_path, monkeypatch):
    """``myasync`` and ``lucky`` as built-ins: a module of their own and one registry line each."""
    (tmp_path / "regtest_builtins.py").write_text(textwrap.dedent(_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry.BUILTINS["algorithm"], "myasync",
                        registry.Builtin("regtest_builtins:MyAsync", "MyAsync!", "#123456", "P"))
    monkeypatch.setitem(registry.BUILTINS["selection"], "lucky", registry.Builtin("regtest_builtins:Lucky"))
    monkeypatch.setattr(style, "_ASSIGNED", {})


def test_one_registry_line_validates_and_builds(one_line):
    config = config_from_dict({"algorithm": {"type": "myasync", "boost": 2.5, "selection": {"type": "lucky", "charm": 3}}})
    assert config.algorithm.boost == 2.5 and config.algorithm.selection.charm == 3
    assert registry.component_of(config.algorithm).builtin
    assert type(build_policy(config)).__name__ == "MyAsync"
    assert type(build_selector(config)).__name__ == "Lucky"
    # a method section of the new built-in is validated while another method runs
    with pytest.raises(ConfigError, match="algorithm.myasync.boost"):
        config_from_dict({"algorithm": {"type": "fedavg", "myasync": {"boost": -1.0}}})
    with pytest.raises(ConfigError, match="algorithm.boost"):  # its key is its own, not fedasync's
        config_from_dict({"algorithm": {"type": "fedasync", "boost": 2.0}})


def test_one_registry_line_reaches_docs_and_descriptions(one_line):
    text = render()
    methods = text[text.index(f"## {_TITLES['algorithm']}"):text.index(f"## {_TITLES['selection']}")]
    assert "### `myasync`" in methods and "| `boost` | `1.0` | a key only this method has |" in methods
    assert "### `lucky`" in text and "| `charm` | `7` | a key only this rule has |" in text
    assert "myasync" in choices("algorithm").split(" | ")
    assert "lucky (charm)" in choices("selection").split(" | ")
    assert "lucky (charm)" in text  # the algorithm.selection description, generated


def test_one_registry_line_reaches_figures(one_line):
    assert labels.method_label("myasync") == "MyAsync!"
    assert style.method_style("myasync") == ("#123456", "P")
    # built-ins first, in registry order: the new one right after semisync, before other names
    assert style.method_order(["zzz", "myasync", "fedavg"]) == ["fedavg", "myasync", "zzz"]
    # a name that is not built in gets none of the built-ins' markers
    assert style.method_style("pkg.mod:Other").marker not in {"o", "s", "^", "D", "v", "P"}


def test_registry_entries_keep_the_figures_unchanged():
    """The styles and labels moved into the registry are the ones figures always had."""
    expected = {"fedavg": ("FedAvg", "#0072B2", "o"), "fedasync": ("FedAsync", "#D55E00", "s"),
                "fedbuff": ("FedBuff", "#009E73", "^"), "fedat": ("FedAT", "#CC79A7", "D"),
                "semisync": ("semi-sync", "#E69F00", "v")}
    assert {n: (labels.method_label(n), *style.method_style(n)) for n in registry.names("algorithm")} == expected
    assert all(style.method_style(n).color in style.METHOD_COLORS for n in expected)


def _documented(kind: str) -> list[str]:
    text = DOCS.read_text()
    start = text.index(f"## {_TITLES[kind]}")
    end = text.index("\n## ", start + 1)
    return re.findall(r"^### `([^`]+)`$", text[start:end], flags=re.M)


@pytest.mark.parametrize("kind", list(registry.ENTRY_POINT_GROUPS))  # models: tests/training/test_model_kinds.py
def test_docs_list_exactly_the_registry(kind):
    assert _documented(kind) == registry.names(kind)
    assert f"type: {choices(kind)}".replace("|", "\\|") in DOCS.read_text()  # the generated description


def test_no_side_table_of_names_remains():
    import simfl.algorithms as algorithms
    import simfl.algorithms.fedopt as fedopt
    import simfl.algorithms.staleness as staleness

    for module, name in [(staleness, "STALENESS_FUNCTIONS"), (fedopt, "SERVER_OPTIMIZERS"),
                         (fedopt, "server_optimizer"), (fedopt, "SERVER_OPTIMIZER_SECTIONS"),
                         (algorithms, "STALENESS_FUNCTIONS"), (algorithms, "SERVER_OPTIMIZERS"),
                         (labels, "METHOD_NAMES"), (style, "_BUILTIN")]:
        assert not hasattr(module, name), f"{module.__name__}.{name}"
    assert list(labels.method_names()) == registry.names("algorithm")


@pytest.mark.parametrize("kind", ["staleness", "server_optimizer"])
def test_a_by_value_builtin_is_named_as_registered(kind):
    """A staleness function's or optimizer spec's own ``type`` default is its registry name."""
    for name in registry.names(kind):
        assert registry.resolve(kind, name).params.model_fields["type"].default == name


def test_one_build_step_for_every_kind():
    """``Component.build(params)`` gives what a run uses, whatever the kind."""
    from simfl.algorithms.optim import ServerOptimizer
    from simfl.data.dataset import Dataset
    from simfl.engine.server import Policy, Selector
    from simfl.models import ModelKind

    made = {}
    for kind in registry.KINDS:
        for name in registry.names(kind):
            component = registry.resolve(kind, name)
            made[(kind, name)] = component.build(component.params.model_validate({"type": name}))
    assert all(isinstance(made[("algorithm", n)], Policy) for n in registry.names("algorithm"))
    assert all(isinstance(made[("selection", n)], Selector) for n in registry.names("selection"))
    assert all(made[("staleness", n)](0) == 1.0 for n in registry.names("staleness"))  # s(0) = 1
    assert all(isinstance(made[("server_optimizer", n)], ServerOptimizer) for n in registry.names("server_optimizer"))
    assert all(isinstance(made[("model", n)], ModelKind) for n in registry.names("model"))
    assert all(isinstance(made[("dataset", n)], Dataset) for n in registry.names("dataset"))


def test_a_failing_build_step_is_one_line_naming_the_key(tmp_path, monkeypatch):
    (tmp_path / "regtest_broken.py").write_text(textwrap.dedent('''
        from simfl.api import ServerOptimizerSpec

        class Broken(ServerOptimizerSpec):
            """Cannot be built."""

            type: str = "regtest_broken:Broken"

            def build(self):
                raise RuntimeError("no optimizer today")
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    component = registry.resolve("server_optimizer", "regtest_broken:Broken")
    with pytest.raises(PluginError, match=r"^algorithm.server_optimizer.type: regtest_broken:Broken: building it failed: "
                                          r"RuntimeError: no optimizer today$"):
        component.build(component.params())
