"""Datasets are a registry kind (``data.dataset``): the registry is the only list, every kind is
one class of one shape, and the data pipeline asks the kind rather than testing its name."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import numpy as np
import pytest

from simfl import registry
from simfl.config.schema import DataConfig
from simfl.data import kinds
from simfl.data.dataset import Dataset, PooledDataset, SourceDataset, dataset_of
from simfl.data.federated import client_sizes, dataset_info, load_data
from simfl.errors import PluginError
from simfl.rng import SeedTree

DATA = Path(__file__).resolve().parents[2] / "simfl" / "data"


def test_the_dataset_tables_are_read_from_the_registry():
    entries = registry.builtins("dataset")
    assert kinds.DATASETS == tuple(registry.names("dataset")) == tuple(entries)
    assert kinds.SOURCE_DATASETS == tuple(n for n, e in entries.items() if e.natural_ids is not None)
    assert kinds.NATURAL_ID_HINTS == {n: e.natural_ids for n, e in entries.items() if e.natural_ids is not None}
    assert kinds.PATH_HELP == {n: e.path_help for n, e in entries.items() if e.path_help is not None}
    assert typing.get_args(DataConfig.model_fields["dataset"].annotation) == kinds.DATASETS
    assert all(f"{n}: {e.about}" in DataConfig.model_fields["dataset"].description for n, e in entries.items())


@pytest.mark.parametrize("name", registry.names("dataset"))
def test_every_dataset_kind_has_one_shape_agreeing_with_its_entry(name):
    """A kind that brings its own clients is a SourceDataset exactly when its entry says where its
    client ids come from; every other kind is a pool."""
    entry = registry.builtins("dataset")[name]
    component = registry.resolve("dataset", name)
    kind = component.build(component.params(type=name))
    assert isinstance(kind, Dataset) and kind.name == name
    assert kind.brings_clients == (entry.natural_ids is not None) == isinstance(kind, SourceDataset)
    assert isinstance(kind, PooledDataset) != isinstance(kind, SourceDataset)


def test_the_kind_a_section_names_answers_for_it():
    cfg = DataConfig(dataset="digits", num_clients=5, partition="iid")
    assert type(dataset_of(cfg)).__name__ == "Digits"
    assert dataset_info(cfg).input_shape == (1, 8, 8)
    tree = SeedTree(3)
    assert dataset_of(cfg).pool_size(cfg, tree) == 1797
    np.testing.assert_array_equal(client_sizes(cfg, tree), load_data(cfg, tree).client_sizes)


def test_a_dataset_kind_cannot_be_registered():
    with pytest.raises(PluginError, match="^register: dataset kinds are simfl's own; bring data with data.dataset: python"):
        registry.register("dataset", "mine", "mine:Mine")


def _names_compared(path: Path) -> list[str]:
    """``x.dataset`` compared with anything (``==``, ``!=``, ``in``, ``not in``) in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Attribute) and side.attr == "dataset":
                    found.append(f"{path.name}:{node.lineno}")
    return found


@pytest.mark.parametrize("module", ["federated.py", "loaders.py", "validate.py"])
def test_the_data_pipeline_never_tests_a_dataset_name(module):
    assert _names_compared(DATA / module) == []


def test_the_name_test_finder_finds_name_tests(tmp_path):
    (tmp_path / "m.py").write_text("if cfg.dataset in SOURCE:\n    pass\nok = cfg.dataset\nbad = 'idx' == cfg.dataset\n")
    assert _names_compared(tmp_path / "m.py") == ["m.py:1", "m.py:4"]
