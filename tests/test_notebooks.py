"""The notebooks execute on a plain python3 kernel (small settings) and are committed without outputs."""

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _execute(path: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def _images(nb) -> list[tuple[str, dict]]:
    """``(cell source, output)`` of every image output, in order."""
    return [(c.source, o) for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if "image/png" in o.get("data", {})]


def _assert_quiet(nb) -> None:
    """No warnings (e.g. tqdm's 'IProgress not found') and no errors in any cell."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("name") != "stderr", f"stderr in cell {cell.source[:60]!r}: {out.get('text', '')[:300]}"
            assert out.get("output_type") != "error"


def test_quickstart_executes():
    nb = _execute(ROOT / "notebooks" / "quickstart.ipynb", {"SIMFL_NOTEBOOK_SMALL": "1"})
    images = _images(nb)
    assert len(images) >= 5
    assert "plot_headline" in images[0][0]  # it leads with the headline figure
    _assert_quiet(nb)


def test_sweep_analysis_executes(tmp_path):
    nb = _execute(
        ROOT / "notebooks" / "sweep_analysis.ipynb",
        {"SIMFL_NOTEBOOK_SMALL": "1", "SIMFL_SWEEP_DIR": str(tmp_path / "sweep")},
    )
    assert (tmp_path / "sweep" / "summary.parquet").is_file()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "18 runs" in text
    images = _images(nb)
    assert len(images) >= 6
    assert "plot_headline" in images[0][0]
    _assert_quiet(nb)
    _assert_each_figure_shown_once(nb)


def _assert_each_figure_shown_once(nb) -> None:
    """Every cell of the sweep notebook draws one figure at most, and shows it once (a Figure left as
    a cell's value would show a second time, beside the inline display)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
            assert len(images) <= 1, (cell.source[:80], len(images))
