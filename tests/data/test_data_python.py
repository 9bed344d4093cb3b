"""dataset: python — data.source names a function (config folder first) returning arrays or a torch Dataset."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from simfl.config.load import load_config
from simfl.data import load_data
from simfl.errors import ConfigError, DataError, PluginError
from simfl.registry import import_object
from simfl.rng import SeedTree

MODULE = '''
import numpy as np

def arrays(n=30, clients=3):
    rng = np.random.default_rng(0)
    return {"x": rng.random((n, 4)), "y": np.arange(n) % 3, "client_id": np.arange(n) % clients}

def as_tuple():
    d = arrays()
    return d["x"], d["y"], d["client_id"], d["x"][:6], d["y"][:6]

def torch_dataset():
    import torch
    from torch.utils.data import TensorDataset
    d = arrays()
    ds = TensorDataset(torch.tensor(d["x"], dtype=torch.float32), torch.tensor(d["y"]))
    return ds, d["client_id"]

def broken():
    raise RuntimeError("no data today")

def wrong():
    return [1, 2, 3]

def ragged():
    return {"x": [[1.0], [1.0, 2.0]], "y": [0, 1]}

not_callable = 3
'''


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "my_data_source.py").write_text(MODULE)
    return tmp_path


def load(folder: Path, source: str, **data):
    cfg = folder / "cfg.yaml"
    body = {"dataset": "python", "source": f"my_data_source:{source}", **data}
    cfg.write_text(textwrap.dedent(f"""
        data: {body!r}
        train: {{enabled: false}}
        algorithm: {{concurrency: 2}}
    """).replace("'", '"').replace("None", "null"))
    return load_config(cfg)


def test_mapping_found_in_the_config_folder(folder):
    cfg = load(folder, "arrays", num_clients=None, source_kwargs={"n": 31, "clients": 4})
    assert cfg.data.num_clients == 4 and cfg.data.search_path == (str(folder.resolve()),)
    data = load_data(cfg.data, SeedTree(0))
    assert data.client_sizes.sum() + data.test_sizes.sum() == 31
    np.testing.assert_array_equal(data.client_sizes + data.test_sizes, [8, 8, 8, 7])


def test_tuple_with_a_test_set(folder):
    data = load_data(load(folder, "as_tuple", num_clients=None).data, SeedTree(0))
    assert not data.test_by_client and len(data.x_test) == 6
    np.testing.assert_array_equal(data.client_sizes, [10, 10, 10])


def test_torch_dataset_with_client_ids(folder):
    data = load_data(load(folder, "torch_dataset", num_clients=2).data, SeedTree(0))
    assert data.info.input_shape == (4,) and data.info.num_classes == 3
    np.testing.assert_array_equal(data.client_sizes + data.test_sizes, [10, 10])


@pytest.mark.parametrize(
    "source, error, fragment",
    [
        ("broken", ConfigError, "data.source: my_data_source:broken() raised RuntimeError: no data today"),
        ("not_callable", ConfigError, "data.source: my_data_source:not_callable is not callable"),
        ("nowhere", ConfigError, "data.source: my_data_source:nowhere: module my_data_source has no attribute 'nowhere'"),
        ("wrong", DataError, "data.source my_data_source:wrong: returned list; expected a mapping with x and y"),
        ("ragged", DataError, "data.source my_data_source:ragged: x is ragged"),
    ],
)
def test_bad_sources_are_one_line_errors(folder, source, error, fragment):
    with pytest.raises(error) as err:
        load(folder, source, num_clients=None, partition="natural")
    assert "\n" not in str(err.value) and fragment in str(err.value)


def test_import_object_names_the_key():
    assert import_object("numpy:zeros") is np.zeros
    with pytest.raises(PluginError, match=r"^data.source: expected an import path package.module:Name, got 'zeros'"):
        import_object("zeros", key="data.source")
    with pytest.raises(PluginError, match=r"^data.source: no_such_module_x:f: no module named 'no_such_module_x'"):
        import_object("no_such_module_x:f", key="data.source")


def test_source_is_only_for_python(folder):
    with pytest.raises(ConfigError, match=r"data.source: only for dataset python"):
        load_config(None, {"data.source": "my_data_source:arrays"})
    with pytest.raises(ConfigError, match=r"data.source: dataset python needs data.source"):
        load_config(None, {"data.dataset": "python"})
