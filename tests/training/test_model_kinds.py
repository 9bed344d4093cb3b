"""Models are a registry kind: the registry is the only list, and one description per model gives
both its torch-free parameter count and its flat build."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from simfl import registry
from simfl.config.schema import MODELS, TorchModel
from simfl.errors import ConfigError
from simfl.models import LayerModel, ModelKind
from simfl.scenario.model_size import param_count
from simfl.training import build_model
from tests.training.helpers import WIDE_MODEL_SOURCE

DOCS = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def test_the_registry_lists_the_models_the_schema_takes():
    assert registry.names("model") == ["logreg", "mlp", "cnn", "torch"]
    assert {n: registry.resolve("model", n).params for n in registry.names("model")} == MODELS


def test_docs_list_exactly_the_registered_models():
    text = DOCS.read_text()
    start = text.index("## Models (`model`)")
    table = text[start:text.index("\n## ", start + 1)]
    assert re.findall(r"^\| `([^`]+)` \|", table, flags=re.M)[1:] == registry.names("model")  # [0]: the header


@pytest.mark.parametrize("name", ["logreg", "mlp", "cnn"])
def test_every_builtin_flat_model_is_a_stack_of_layers(name):
    kind = registry.resolve("model", name).build(MODELS[name]())
    assert isinstance(kind, LayerModel)
    layers = kind.layers((1, 8, 8), 10)
    assert param_count(MODELS[name](), (1, 8, 8), 10) == sum(w + b for w, b in (layer.sizes for layer in layers))


def test_a_torch_model_is_counted_only_from_its_factory():
    kind = registry.resolve("model", "torch").build(TorchModel(factory="m:f"))
    assert isinstance(kind, ModelKind) and not isinstance(kind, LayerModel)
    with pytest.raises(ConfigError, match="model.type: a torch model's size is known only from its factory"):
        param_count(TorchModel(factory="m:f"), (3,), 2)
    with pytest.raises(ValueError, match="not a stack of layers"):
        build_model(TorchModel(factory="m:f"), (3,), 2)


def test_one_registry_line_adds_a_model(tmp_path, monkeypatch):
    """A module with the description plus one entry of ``BUILTINS`` is all a new model needs:
    its count and its flat build follow (and agree with the nn.Module twin)."""
    (tmp_path / "regtest_wide.py").write_text(WIDE_MODEL_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry.BUILTINS["model"], "wide", registry.Builtin("regtest_wide:Wide"))
    params = registry.resolve("model", "wide").params(width=7)
    assert "wide" in registry.names("model")
    assert param_count(params, (2, 3), 4) == (6 + 1) * 7 + (7 + 1) * 4
    flat = build_model(params, (2, 3), 4)
    module = flat.module().double()
    assert flat.num_params == sum(p.numel() for p in module.parameters()) == (6 + 1) * 7 + (7 + 1) * 4
    w = torch.from_numpy(flat.init(np.random.default_rng(0), np.float64))
    torch.nn.utils.vector_to_parameters(w, module.parameters())
    x = torch.randn(5, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    np.testing.assert_allclose(flat.forward(w, x).detach().numpy(), module(x).detach().numpy(), rtol=1e-12, atol=1e-12)


def test_a_model_without_a_count_is_refused(tmp_path, monkeypatch):
    (tmp_path / "regtest_nocount.py").write_text(textwrap.dedent('''
        from typing import Literal

        from simfl.models import ModelKind, ModelParams

        class NoCount(ModelKind):
            """Forgets param_count."""

            class Params(ModelParams):
                type: Literal["nocount"] = "nocount"
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry.BUILTINS["model"], "nocount", registry.Builtin("regtest_nocount:NoCount"))
    with pytest.raises(Exception, match="model.type: nocount does not implement param_count"):
        registry.resolve("model", "nocount")
