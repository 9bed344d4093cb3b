"""Reading back what a figure drew: legend texts, bar segments, PNG checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def legend_texts(fig: Figure) -> list[str]:
    """Every legend entry of the figure (axes legends and figure legends)."""
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
    return [t.get_text() for leg in legends for t in leg.get_texts()]


def bar_segments(collection) -> list[tuple[float, float]]:
    """``(start, width)`` of each rectangle of a ``broken_barh`` collection, sorted."""
    out = []
    for path in collection.get_paths():
        xs = path.vertices[:, 0]
        out.append((float(xs.min()), float(xs.max() - xs.min())))
    return sorted(out)


def bar_rows(collection) -> set[float]:
    """Vertical centres of a ``broken_barh`` collection's rectangles."""
    return {round(float((p.vertices[:, 1].min() + p.vertices[:, 1].max()) / 2), 9) for p in collection.get_paths()}


def by_gid(ax) -> dict[str, object]:
    """Artists of ``ax`` (collections and lines) that carry a gid, keyed by it."""
    return {a.get_gid(): a for a in [*ax.collections, *ax.lines] if a.get_gid() is not None}


def assert_png(fig: Figure, path: Path, min_bytes: int = 5_000) -> None:
    """Save ``fig`` to ``path`` and check it is a real, non-trivial PNG."""
    fig.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > min_bytes, f"{path.name}: only {len(data)} bytes"


def has_point(vertices: np.ndarray, x: float, y: float) -> bool:
    """Whether ``(x, y)`` is (to rounding) one of the polygon ``vertices``."""
    return bool(np.any(np.isclose(vertices[:, 0], x) & np.isclose(vertices[:, 1], y)))


#: A small world with spread-out speeds and on/off clients, for the run-level figures.
RUN_WORLD = {
    "heterogeneity": {
        "compute": {"seconds_per_sample": {"dist": "lognormal", "median": 0.005, "sigma": 1.0}},
        "availability": {"type": "onoff", "on_s": {"dist": "exponential", "mean": 8},
                         "off_s": {"dist": "exponential", "mean": 2}},
    },
    "stop": {"sim_time_s": 12},
    "eval": {"every_s": 1.0},
}


def close_all(figs: dict) -> None:
    """Close every figure of a ``{name: Figure}`` dict."""
    import matplotlib.pyplot as plt

    for fig in figs.values():
        plt.close(fig)


def headline_inputs(times: dict, sigma: str, end_s: float = 100.0):
    """A summary and evals for the headline: ``times[(algorithm, sigma)]`` = time to 0.7 per seed."""
    import pandas as pd

    summary, evals = [], []
    for (alg, value), per_seed in times.items():
        for seed, t in enumerate(per_seed):
            run_id = f"{alg}-{value}-{seed}"
            summary.append({"run_id": run_id, "algorithm.type": alg, sigma: value, "seed": seed,
                            "status": "complete", "time_to_0.7_s": t, "sim_end_s": end_s})
            evals.append(pd.DataFrame({"run_id": run_id, "sim_time_s": np.arange(0, end_s + 1, 10.0),
                                       "test_accuracy": np.linspace(0.1, 0.9, 11)}))
    return pd.DataFrame(summary), pd.concat(evals, ignore_index=True)
