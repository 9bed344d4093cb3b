"""dataset: huggingface — save_to_disk folders and local data files (optional extra simfl[hf])."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simfl.config.load import config_from_dict
from simfl.data import load_data
from simfl.errors import DataError
from simfl.rng import SeedTree

datasets = pytest.importorskip("datasets")


def config(path: Path, **data):
    return config_from_dict({"data": {"dataset": "huggingface", "path": str(path), **data},
                             "train": {"enabled": False}, "algorithm": {"concurrency": 2}})


def table(rng, n, writers=("b", "a", "c")):
    return {"pixels": rng.random((n, 3)).tolist(), "label": rng.integers(0, 4, n).tolist(),
            "writer": rng.choice(list(writers), n).tolist()}


def test_dataset_dict_with_a_client_column_and_test_split(tmp_path):
    rng = np.random.default_rng(0)
    train, test = table(rng, 30), table(rng, 9)
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(train), "test": datasets.Dataset.from_dict(test)}) \
        .save_to_disk(str(tmp_path / "dd"))
    cfg = config(tmp_path / "dd", num_clients=None, client_column="writer")
    assert cfg.data.num_clients == 3
    data = load_data(cfg.data, SeedTree(0))
    writers = np.array(train["writer"])
    np.testing.assert_array_equal(data.client_sizes, [(writers == w).sum() for w in "abc"])
    np.testing.assert_array_equal(data.test_sizes, [(np.array(test["writer"]) == w).sum() for w in "abc"])
    np.testing.assert_allclose(data.client(0)[0], np.array(train["pixels"])[writers == "a"], rtol=1e-6)
    assert data.info.input_shape == (3,)


def test_plain_dataset_repartitioned_and_image_column(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    pixels = (rng.random((12, 5, 4)) * 255).astype(np.uint8)
    ds = datasets.Dataset.from_dict({"img": [Image.fromarray(p) for p in pixels], "label": list(range(4)) * 3})
    ds.cast_column("img", datasets.Image()).save_to_disk(str(tmp_path / "imgs"))
    cfg = config(tmp_path / "imgs", num_clients=3, partition="iid")
    data = load_data(cfg.data, SeedTree(0))
    assert data.info.input_shape == (1, 5, 4)  # channels first, as the cnn model takes
    pool = np.sort(pixels.reshape(12, -1).astype(np.float32) / 255, axis=0)
    got = np.sort(np.concatenate([data.x, data.x_test]).reshape(12, -1), axis=0)
    np.testing.assert_allclose(got, pool, rtol=1e-6)


def test_local_parquet_file(tmp_path):
    rng = np.random.default_rng(2)
    pd.DataFrame(table(rng, 20)).to_parquet(tmp_path / "train.parquet")
    pd.DataFrame(table(rng, 5)).to_parquet(tmp_path / "test.parquet")
    cfg = config(tmp_path, num_clients=None, client_column="writer", features="pixels")
    data = load_data(cfg.data, SeedTree(0))
    assert data.client_sizes.sum() == 20 and len(data.x_test) == 5 and data.test_by_client


def test_malformed(tmp_path):
    rng = np.random.default_rng(3)
    datasets.Dataset.from_dict(table(rng, 6)).save_to_disk(str(tmp_path / "d"))
    with pytest.raises(DataError, match=r"no column 'who' \(data.client_column\); columns: pixels, label, writer"):
        config(tmp_path / "d", num_clients=None, client_column="who")
    with pytest.raises(DataError, match=r"set data.features: the columns besides the label are pixels, writer"):
        load_data(config(tmp_path / "d", num_clients=2, partition="iid").data, SeedTree(0))
    (tmp_path / "e").mkdir()
    with pytest.raises(DataError, match=r"neither a save_to_disk folder"):
        config(tmp_path / "e", num_clients=None)
    datasets.Dataset.from_dict({"x": [[0.1, 0.2], [0.3]], "label": [0, 1]}).save_to_disk(str(tmp_path / "r"))
    with pytest.raises(DataError, match=r"column x is ragged"):
        load_data(config(tmp_path / "r", num_clients=2, partition="iid").data, SeedTree(0))
