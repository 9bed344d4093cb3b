"""`simfl plot` and `simfl report` on run and sweep directories."""

import pytest

from simfl.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    p = tmp / "s.yaml"
    p.write_text(
        "base:\n  data: {num_clients: 10}\n  train: {local_steps: 5}\n"
        "  heterogeneity: {compute: {seconds_per_sample: {dist: lognormal, median: 0.01, sigma: 1}},\n"
        "                  availability: {type: onoff, on_s: {dist: exponential, mean: 10}, off_s: 3}}\n"
        "  algorithm: {fedavg: {clients_per_round: 4}, fedasync: {concurrency: 4}}\n  stop: {sim_time_s: 10}\n"
        "grid:\n  algorithm.type: [fedavg, fedasync]\n  heterogeneity.compute.seconds_per_sample.sigma: [0.3, 1.5]\n"
        "seeds: 2\ntargets: [0.3]\n"
    )
    assert main(["sweep", str(p), "--out", str(tmp / "out"), "--workers", "1"]) == 0
    return tmp / "out"


def test_plot_sweep(sweep_dir, capsys):
    assert main(["plot", str(sweep_dir)]) == 0
    names = {p.name for p in (sweep_dir / "plots").glob("*.png")}
    assert {"convergence.png", "time_to_0.3.png", "staleness.png", "participation.png"} <= names
    assert all((sweep_dir / "plots" / n).read_bytes()[:8] == PNG for n in names)


def test_plot_run_with_offline_shading(sweep_dir, tmp_path):
    run = next((sweep_dir / "runs").iterdir())
    assert main(["plot", str(run), "--out", str(tmp_path)]) == 0
    # The run trained, so its partition heatmap is drawn too.
    assert {p.name for p in tmp_path.glob("*.png")} == {
        "convergence.png", "staleness.png", "participation.png", "timeline.png", "partition.png",
    }


def test_report_prints_paired_ratios(sweep_dir, capsys):
    assert main(["report", str(sweep_dir)]) == 0
    out = capsys.readouterr().out
    assert "time_to_0.3_s" in out and "fedavg/fedasync" in out and "final_accuracy" in out
    assert "8 runs (8 complete)" in out


def test_report_run_directory(sweep_dir, capsys):
    run = next((sweep_dir / "runs").iterdir())
    assert main(["report", str(run)]) == 0
    assert "final_accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["plot", "report"])
def test_not_a_results_directory(tmp_path, capsys, command):
    assert main([command, str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "neither a sweep directory" in err


def test_unknown_by_key(sweep_dir, capsys):
    assert main(["report", str(sweep_dir), "--by", "algorithm.typ"]) == 2
    assert "not a swept key" in capsys.readouterr().err
