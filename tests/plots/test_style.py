"""One look: stable method styles (plugins too), readable labels, styles and formats."""

import zlib

import matplotlib.pyplot as plt
import pytest

from simfl.plots import labels, style
from simfl.plots.labels import axis_label, method_label, set_label, value_label, wrap
from simfl.plots.style import METHOD_COLORS, METHOD_MARKERS, method_order, method_style, set_method_style


def test_builtin_methods_have_distinct_fixed_styles():
    builtins = ["fedavg", "fedasync", "fedbuff", "fedat", "semisync"]
    styles = [method_style(m) for m in builtins]
    assert len({s.color for s in styles}) == 5 and len({s.marker for s in styles}) == 5
    assert method_style("fedavg") == ("#0072B2", "o")


def test_any_other_name_gets_a_stable_style_from_its_crc32():
    for name in ("mypkg.mod:MyAlgo", "variant-a", "0.5"):
        h = zlib.crc32(name.encode())
        assert method_style(name) == (METHOD_COLORS[h % 6], METHOD_MARKERS[(h // 6) % 10])
        assert method_style(name).color in METHOD_COLORS


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
