"""partition: flwr — Flower Datasets partitioners, where flwr-datasets is installed."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from simfl.config.load import config_from_dict
from simfl.data import client_sizes, load_data
from simfl.errors import ConfigError, DataError
from simfl.rng import SeedTree


def config(**data):
    return config_from_dict({"data": {"dataset": "digits", "partition": "flwr", "num_clients": 6, **data},
                             "train": {"enabled": False}, "algorithm": {"concurrency": 2}})


@pytest.mark.filterwarnings("ignore:Classes.*will NOT be used:UserWarning")
def test_pathological_partitioner_gives_two_labels_per_client():
    pytest.importorskip("flwr_datasets")
    cfg = config(flwr_partitioner="PathologicalPartitioner", flwr_kwargs={"num_classes_per_partition": 2})
    data = load_data(cfg.data, SeedTree(0))
    for c in range(6):
        labels = np.concatenate([data.client(c)[1], data.client_test(c)[1]])
        assert len(np.unique(labels)) <= 2
    np.testing.assert_array_equal(client_sizes(cfg.data, SeedTree(0)), data.client_sizes)
    np.testing.assert_array_equal(load_data(cfg.data, SeedTree(0)).x, data.x)  # the seed comes from the seed tree
    assert not np.array_equal(load_data(cfg.data, SeedTree(1)).y, data.y)


def test_iid_partitioner_sizes_and_a_disjoint_cover():
    pytest.importorskip("flwr_datasets")
    data = load_data(config(flwr_partitioner="IidPartitioner").data, SeedTree(0))
    total = data.client_sizes + data.test_sizes
    assert total.sum() == 1797 and total.max() - total.min() <= 1
    rows = np.concatenate([data.x.reshape(len(data.x), -1), data.x_test.reshape(len(data.x_test), -1)])
    assert len(rows) == 1797


def test_errors():
    with pytest.raises(ConfigError, match=r"data.flwr_partitioner: set it exactly when data.partition is flwr"):
        config(flwr_partitioner=None)
    pytest.importorskip("flwr_datasets")
    with pytest.raises(ConfigError, match=r"data.flwr_partitioner: no partitioner 'Nope'.*known: .*IidPartitioner"):
        load_data(config(flwr_partitioner="Nope").data, SeedTree(0))
    with pytest.raises(ConfigError, match=r"takes no num_partitions"):
        load_data(config(flwr_partitioner="NaturalIdPartitioner").data, SeedTree(0))
    with pytest.raises(ConfigError, match=r"PathologicalPartitioner\(.*\) failed"):
        load_data(config(flwr_partitioner="PathologicalPartitioner", flwr_kwargs={"bogus": 1}).data, SeedTree(0))


def test_missing_package_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "flwr_datasets", None)
    monkeypatch.setitem(sys.modules, "flwr_datasets.partitioner", None)
    pytest.importorskip("datasets")
    with pytest.raises(DataError, match=r"^data.partition: flwr needs the optional package flwr-datasets"):
        load_data(config(flwr_partitioner="IidPartitioner").data, SeedTree(0))
