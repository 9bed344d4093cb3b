"""The plots package depends on tables only: it never imports the engine (nor the runner, which does)."""

import ast
from pathlib import Path

import simfl.plots

FORBIDDEN = ("simfl.engine", "simfl.running", "simfl.training")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_module_of_simfl_plots_imports_the_engine():
    modules = sorted(Path(simfl.plots.__file__).parent.glob("*.py"))
    assert len(modules) >= 8
    for path in modules:
        bad = {n for n in _imports(path) for f in FORBIDDEN if n == f or n.startswith(f + ".")}
        bad |= {n for n in _imports(path) if n in ("simfl", "simfl.run", "simfl.RunResult")}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_public_api():
    assert set(simfl.plots.__all__) == {
        "plot_convergence", "LABELS", "plot_convergence_band", "plot_time_to_target",
        "plot_staleness_histogram", "plot_participation", "plot_client_timeline", "run_figures", "sweep_figures",
        "partition_heatmap",
        # added for figures a paper can use (never drop one of the above)
        "plot_paired_difference", "plot_km_curves", "plot_headline", "headline_tables", "plot_staleness_ccdf",
        "plot_participation_panels", "method_style", "set_method_style", "style_context", "axis_label",
        "method_label", "set_label",
    }
    for name in simfl.plots.__all__:
        assert getattr(simfl.plots, name) is not None
