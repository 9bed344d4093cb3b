"""`simfl partition` writes per-client label counts; `simfl plot` draws them as a heatmap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simfl.cli import main
from simfl.config.load import load_config
from simfl.data import label_counts, load_data
from simfl.rng import SeedTree
from tests.plots.helpers import PNG_SIGNATURE

CONFIG = """
seed: 7
data: {dataset: digits, partition: dirichlet, dirichlet_alpha: 0.5, num_clients: 20}
model: {type: logreg}
heterogeneity: {compute: {seconds_per_sample: 0.001}}
algorithm: {type: fedasync, concurrency: 4}
stop: {sim_time_s: 1}
eval: {every_s: 0.5}
"""


@pytest.fixture
def cfg(tmp_path):
    p = tmp_path / "part.yaml"
    p.write_text(CONFIG)
    return p


def error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_partition_writes_the_counts_of_load_data_and_prints_their_summary(cfg, tmp_path, capsys):
    out = tmp_path / "sub" / "counts.parquet"
    assert main(["partition", str(cfg), "--set", "data.num_clients=15", "--out", str(out)]) == 0
    config = load_config(cfg, ["data.num_clients=15"])
    data = load_data(config.data, SeedTree(7))
    table = pd.read_parquet(out)
    assert list(table.columns) == ["client_id", "client_name", "label", "count"]
    assert all(table[c].dtype == np.int64 for c in ("client_id", "label", "count"))
    assert table["client_name"].tolist() == [str(c) for c in table["client_id"]]  # digits: no names of its own
    # A direct recount of each client's training labels.
    for c in range(15):
        y = data.client(c)[1]
        rows = table[table.client_id == c]
        np.testing.assert_array_equal(rows.label, np.unique(y))
        np.testing.assert_array_equal(rows["count"], np.unique(y, return_counts=True)[1])
    # The summary line: clients, sizes min / median / max, mean labels per client.
    sizes = data.client_sizes
    mean_labels = np.mean([len(np.unique(data.client(c)[1])) for c in range(15)])
    text = capsys.readouterr().out
    assert (
        f"15 clients, {sizes.sum()} training samples, 10 labels; client size min {sizes.min()} / "
        f"median {np.median(sizes):g} / max {sizes.max()}; {mean_labels:.2f} labels per client on average"
    ) in text
    assert str(out) in text


def test_partition_without_out_only_prints(cfg, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["partition", str(cfg)]) == 0
    assert "20 clients" in capsys.readouterr().out
    assert not list(tmp_path.glob("*.parquet"))


def assert_sizes_match(counts_file, run_dir) -> None:
    """clients.parquet's num_samples is each client's sum of label counts."""
    sums = pd.read_parquet(counts_file).groupby("client_id")["count"].sum()
    clients = pd.read_parquet(run_dir / "clients.parquet")
    np.testing.assert_array_equal(sums.index, clients.client_id)
    np.testing.assert_array_equal(sums.to_numpy(), clients.num_samples.to_numpy())


def test_clients_num_samples_is_the_sum_of_the_label_counts(cfg, tmp_path):
    # A dry run sizes its clients without building the data (simfl.data.client_sizes).
    assert main(["run", str(cfg), "--out", str(tmp_path / "run"), "--dry-run"]) == 0
    assert main(["partition", str(cfg), "--out", str(tmp_path / "c.parquet")]) == 0
    assert_sizes_match(tmp_path / "c.parquet", tmp_path / "run")


def test_plot_of_a_count_table_writes_its_heatmap(cfg, tmp_path, capsys):
    table = tmp_path / "counts.parquet"
    assert main(["partition", str(cfg), "--out", str(table)]) == 0
    assert main(["plot", str(table)]) == 0
    assert (tmp_path / "counts.png").read_bytes()[:8] == PNG_SIGNATURE
    assert main(["plot", str(table), "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "counts.png").read_bytes()[:8] == PNG_SIGNATURE
    assert str(tmp_path / "figs" / "counts.png") in capsys.readouterr().out


def test_plot_of_a_run_that_trained_adds_the_heatmap(cfg, tmp_path, capsys):
    trained, dry = tmp_path / "trained", tmp_path / "dry"
    assert main(["run", str(cfg), "--out", str(trained)]) == 0
    assert main(["run", str(cfg), "--out", str(dry), "--dry-run"]) == 0
    assert main(["partition", str(cfg), "--out", str(tmp_path / "c.parquet")]) == 0
    assert_sizes_match(tmp_path / "c.parquet", trained)  # a training run sizes clients by load_data
    assert main(["plot", str(trained)]) == 0
    assert (trained / "plots" / "partition.png").read_bytes()[:8] == PNG_SIGNATURE
    assert main(["plot", str(dry)]) == 0
    assert not (dry / "plots" / "partition.png").exists()  # timing only: no data were built


def test_the_partition_heatmap_of_a_run_is_recomputed_from_its_config(cfg, tmp_path):
    # What `simfl plot RUN` draws: label_counts of the run's resolved config, same as the CLI's table.
    assert main(["run", str(cfg), "--out", str(tmp_path / "run"), "--dry-run"]) == 0
    assert main(["partition", str(cfg), "--out", str(tmp_path / "c.parquet")]) == 0
    from simfl.running import load_run

    pd.testing.assert_frame_equal(label_counts(load_run(tmp_path / "run").config), pd.read_parquet(tmp_path / "c.parquet"))


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--out", "counts.csv"], "--out"),
        (["--set", "data.partition=dirichlets"], "data.partition"),
        (["--set", "data.num_clients=5000"], "data.num_clients"),
        (["--set", "data.dataset=idx"], "data.path"),
    ],
)
def test_partition_bad_input_is_one_line_and_exit_2(cfg, tmp_path, capsys, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    assert main(["partition", str(cfg), *args]) == 2
    line = error_line(capsys.readouterr().err)
    assert line.startswith("simfl partition: error:") and expected in line
    assert not list(tmp_path.glob("counts.*"))


def test_plot_bad_file_is_one_line_and_exit_2(tmp_path, capsys):
    other = tmp_path / "other.parquet"
    pd.DataFrame({"client_id": [0], "samples": [3]}).to_parquet(other)
    assert main(["plot", str(other)]) == 2
    assert "not a label-count table" in error_line(capsys.readouterr().err)
    (tmp_path / "notes.txt").write_text("x")
    assert main(["plot", str(tmp_path / "notes.txt")]) == 2
    assert "label-count table (.parquet)" in error_line(capsys.readouterr().err)
