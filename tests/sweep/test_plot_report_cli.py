"""`simfl plot` and `simfl report` on run and sweep directories."""

import matplotlib.pyplot as plt
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
    assert {"headline_0.3.png", "convergence.png", "convergence_paired.png", "time_to_0.3.png", "km_0.3.png",
            "staleness.png", "participation.png"} <= names
    assert all((sweep_dir / "plots" / n).read_bytes()[:8] == PNG for n in names)


@pytest.mark.parametrize("fmt,magic", [("pdf", b"%PDF"), ("svg", b"<?xml")])
def test_plot_formats_dpi_style_and_labels(sweep_dir, tmp_path, fmt, magic):
    args = ["plot", str(sweep_dir), "--out", str(tmp_path), "--format", fmt, "--style", "default",
            "--label", "heterogeneity.compute.seconds_per_sample.sigma=speed spread"]
    assert main(args) == 0
    files = sorted(tmp_path.glob(f"*.{fmt}"))
    assert {"headline_0.3", "convergence"} <= {f.stem for f in files}
    assert all(f.read_bytes()[:len(magic)] == magic for f in files)
    if fmt == "svg":  # the label set on the command line is what the axis says
        assert "speed spread" in (tmp_path / "headline_0.3.svg").read_text()


def test_plot_dpi(sweep_dir, tmp_path):
    from PIL import Image

    assert main(["plot", str(sweep_dir), "--out", str(tmp_path), "--dpi", "50"]) == 0
    small = Image.open(tmp_path / "headline_0.3.png").size
    assert main(["plot", str(sweep_dir), "--out", str(tmp_path), "--dpi", "100"]) == 0
    large = Image.open(tmp_path / "headline_0.3.png").size
    assert large[0] == pytest.approx(2 * small[0], rel=0.05)


@pytest.mark.parametrize("args,message", [
    (["--style", "nope"], "--style nope: unknown style"),
    (["--label", "nolabel"], "--label nolabel: expected KEY=TEXT"),
    (["--reference", "fedprox"], "--reference fedprox: not a value of algorithm.type"),
])
def test_plot_bad_options(sweep_dir, tmp_path, capsys, args, message):
    assert main(["plot", str(sweep_dir), "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_headline_numbers_are_the_reports(sweep_dir, capsys):
    from simfl.plots import sweep_figures
    from simfl.results import load_sweep_tables, swept_columns, target_values

    tables = load_sweep_tables(sweep_dir, ["evals", "client_updates", "clients"])
    summary = tables["summary"]
    figs = sweep_figures(summary, tables["evals"], tables["client_updates"], tables["clients"],
                         swept_columns(summary), target_values(summary))
    ratios = figs["headline_0.3"].data["ratio_summary"]
    assert main(["report", str(sweep_dir)]) == 0
    out = capsys.readouterr().out
    block = out[out.index("ratio reference / other"):]
    sigma = "heterogeneity.compute.seconds_per_sample.sigma"
    assert set(ratios[sigma]) == {0.3, 1.5}
    for value, estimate, lo, hi in ratios[[sigma, "estimate", "ci_low", "ci_high"]].itertuples(index=False, name=None):
        line = next(ln for ln in block.splitlines() if ln.split()[:3] == [f"{value:g}", "fedasync", "fedavg/fedasync"])
        if estimate == estimate:
            assert line.split()[3:6] == [f"{estimate:.3g}", f"[{lo:.3g},", f"{hi:.3g}]"], line
        else:  # no estimate: the report says why instead of printing one
            assert line.split()[3:5] == ["no", "estimate"], line
    for fig in figs.values():
        plt.close(fig)


def test_plot_run_with_offline_shading(sweep_dir, tmp_path):
    run = next((sweep_dir / "runs").iterdir())
    assert main(["plot", str(run), "--out", str(tmp_path)]) == 0
    # The run trained, so its partition heatmap is drawn too.
    assert {p.name for p in tmp_path.glob("*.png")} == {
        "convergence.png", "staleness.png", "participation.png", "timeline.png", "partition.png",
    }


def test_run_titles_name_algorithm_swept_values_and_seed(sweep_dir):
    import pandas as pd

    from simfl import load_run
    from simfl.cli import _swept_values
    from simfl.plots.figures import run_title

    summary = pd.read_parquet(sweep_dir / "summary.parquet")
    row = summary.iloc[0]
    values = _swept_values(sweep_dir / "runs" / row.run_id)
    sigma = row["heterogeneity.compute.seconds_per_sample.sigma"]
    assert values == {"algorithm.type": row["algorithm.type"], "heterogeneity.compute.seconds_per_sample.sigma": sigma}
    config = load_run(sweep_dir / "runs" / row.run_id).config
    name = {"fedavg": "FedAvg", "fedasync": "FedAsync"}[row["algorithm.type"]]
    assert run_title(config, values) == f"{name} · σ = {sigma:g} · seed {row.seed}"


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


@pytest.mark.parametrize("command", ["report", "plot"])
@pytest.mark.parametrize("by", ["seed", "run_id", "status", "final_accuracy"])
def test_by_a_column_that_is_not_a_swept_key_is_refused_on_one_line(sweep_dir, tmp_path, capsys, command, by):
    """``seed`` pairs the runs and the others are outcomes: none gives groups to compare (report --by seed
    raised pandas' "Grouper for 'seed' not 1-dimensional"; found by fuzzing report flags)."""
    out = ["--out", str(tmp_path)] if command == "plot" else []
    assert main([command, str(sweep_dir), "--by", by, *out]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"simfl {command}: error: --by {by}: not a swept key of this sweep; swept keys: algorithm.type, "
                   "heterogeneity.compute.seconds_per_sample.sigma")


@pytest.mark.parametrize("size,width_in", [("column", 3.3), ("text", 6.75)])
def test_plot_size_presets_write_files_of_the_papers_widths(sweep_dir, tmp_path, size, width_in):
    from PIL import Image

    run = next((sweep_dir / "runs").iterdir())
    for source, out in ((sweep_dir, tmp_path / "sweep"), (run, tmp_path / "run")):
        assert main(["plot", str(source), "--out", str(out), "--size", size, "--dpi", "100"]) == 0
        files = sorted(out.glob("*.png"))
        assert len(files) >= 4
        for f in files:
            assert Image.open(f).size[0] == pytest.approx(100 * width_in, rel=0.01), f.name
