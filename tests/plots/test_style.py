"""One look: stable method styles (plugins too), readable labels, styles and formats."""

import itertools
import zlib

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgb

from simfl.plots import labels, style
from simfl.plots.labels import axis_label, method_label, set_label, value_label, wrap
from simfl.plots.style import (METHOD_MARKERS, OTHER_COLORS, PHASE_COLORS, method_order, method_style, register_methods,
                               set_method_style)


def test_builtin_methods_have_distinct_fixed_styles():
    builtins = ["fedavg", "fedasync", "fedbuff", "fedat", "semisync"]
    styles = [method_style(m) for m in builtins]
    assert len({s.color for s in styles}) == 5 and len({s.marker for s in styles}) == 5
    assert method_style("fedavg") == ("#0072B2", "o")


def test_any_other_name_alone_gets_the_palette_slot_of_its_crc32(monkeypatch):
    markers = METHOD_MARKERS[5:]
    for name in ("mypkg.mod:MyAlgo", "variant-a", "0.5"):
        monkeypatch.setattr(style, "_ASSIGNED", {})  # as in a fresh process
        h = zlib.crc32(name.encode())
        assert method_style(name) == (OTHER_COLORS[h % 8], markers[h % 5])
        assert method_style(name) == method_style(name)  # kept


def _lab(color: str) -> np.ndarray:
    """CIELAB (D65) of an sRGB colour (the CIE formulas)."""
    rgb = np.array(to_rgb(color))
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("names", [
    [f"variant-{i}" for i in range(6)],
    [f"mypkg.algos:Algo{c}" for c in "ABCDEF"],
    ["lr=0.01", "lr=0.03", "lr=0.1", "lr=0.3", "lr=1", "lr=3"],
])
def test_six_plugin_variants_and_three_builtins_get_clearly_different_colours(monkeypatch, names):
    monkeypatch.setattr(style, "_ASSIGNED", {})
    register_methods(["fedavg", "fedasync", "fedbuff", *names])
    colors = [method_style(m).color for m in ["fedavg", "fedasync", "fedbuff", *names]]
    distances = [np.linalg.norm(_lab(a) - _lab(b)) for a, b in itertools.combinations(colors, 2)]
    assert min(distances) > 25  # ΔE*ab: two light blues (#56B4E9, #0072B2-ish tints) were < 25 apart
    assert not set(colors) & set(PHASE_COLORS.values())


def test_registered_styles_depend_on_the_set_not_the_drawing_order(monkeypatch):
    names = [f"variant-{i}" for i in range(6)]
    monkeypatch.setattr(style, "_ASSIGNED", {})
    register_methods(names)
    first = {m: method_style(m) for m in names}
    monkeypatch.setattr(style, "_ASSIGNED", {})
    register_methods(names[::-1])
    assert {m: method_style(m) for m in names} == first


def test_set_method_style_overrides_everywhere(monkeypatch):
    monkeypatch.setattr(style, "_OVERRIDES", {})
    marker = method_style("mypkg.mod:MyAlgo").marker
    set_method_style("mypkg.mod:MyAlgo", color="#000000")
    assert method_style("mypkg.mod:MyAlgo") == ("#000000", marker)


def test_method_order_puts_builtins_first():
    assert method_order(["zeta", "fedbuff", "alpha", "fedavg", "fedbuff"]) == ["fedavg", "fedbuff", "alpha", "zeta"]


def test_labels_for_known_and_unknown_keys(monkeypatch):
    monkeypatch.setattr(labels, "_CUSTOM", {})
    assert axis_label("heterogeneity.compute.seconds_per_sample.sigma") == "spread σ of client speed (lognormal)"
    assert axis_label("algorithm.fedat_weighting") == "fedat weighting (algorithm)"
    assert axis_label("heterogeneity.network.latency_s.high") == "high (latency s)"
    assert axis_label("run.checkpoint_every_s") == "checkpoint every (s) (run)"
    assert value_label("heterogeneity.compute.seconds_per_sample.sigma", 1.5) == "σ = 1.5"
    assert value_label("algorithm.type", "fedbuff") == "FedBuff"
    assert method_label("mypkg.algos:MyAlgo") == "MyAlgo" and method_label("fedat") == "FedAT"
    set_label("heterogeneity.compute.seconds_per_sample.sigma", "speed spread")
    set_label("mypkg.algos:MyAlgo", "Mine (ours)")
    assert axis_label("heterogeneity.compute.seconds_per_sample.sigma") == "speed spread"
    assert value_label("heterogeneity.compute.seconds_per_sample.sigma", 2) == "speed spread = 2"
    assert method_label("mypkg.algos:MyAlgo") == "Mine (ours)"


def test_long_titles_are_wrapped_to_the_width():
    text = "word " * 60
    lines = wrap(text, 4.0, 10.0).splitlines()
    assert len(lines) > 1 and max(map(len, lines)) <= int(4.0 * 72 / 5.5)


def test_styles():
    with style.style_context("paper"):
        assert plt.rcParams["pdf.fonttype"] == 42 and plt.rcParams["axes.spines.top"] is False
    assert plt.rcParams["axes.spines.top"] is True
    with pytest.raises(ValueError, match="unknown style 'nope'"):
        style.resolve_style("nope")
    assert style.resolve_style("default") == "default"


def test_round_measured_rounds_times_and_leaves_swept_values_exact():
    import pandas as pd

    from simfl.plots.labels import round_measured

    table = pd.DataFrame({"heterogeneity.compute.seconds_per_sample.sigma": [0.25, 0.35, 1.0],
                          "n_reached": [3, 2, 1], "rmst_s": [12.345, 7.25, 100.0]})
    shown = round_measured(table)
    assert shown["heterogeneity.compute.seconds_per_sample.sigma"].tolist() == [0.25, 0.35, 1.0]
    assert shown["rmst_s"].tolist() == [12.3, 7.2, 100.0]  # half to even, as pandas rounds
    assert "0.25" in shown.to_string() and "0.2 " not in shown.to_string()
