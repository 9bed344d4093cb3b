"""One look across every figure: a fixed colour and marker per method, the paper style, output formats.

Colours come from the Okabe–Ito palette (distinguishable under the common colour-vision
deficiencies). Built-in algorithms have fixed colours and markers; any other name (a plugin
``package.module:Name``, a variant label) gets a stable pair derived from a hash of the name,
so it looks the same in every figure, every process and every notebook. Override with
:func:`set_method_style`. Timeline phases use colours no method can get (:data:`PHASE_COLORS`).
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import matplotlib.pyplot as plt

__all__ = [
    "MethodStyle",
    "method_style",
    "method_order",
    "set_method_style",
    "METHOD_COLORS",
    "METHOD_MARKERS",
    "PHASE_COLORS",
    "NEUTRAL",
    "PAPER_RC",
    "STYLES",
    "FORMATS",
    "style_context",
    "resolve_style",
]

#: Okabe–Ito colours a method can get (black and yellow left out: black is for annotations,
#: yellow is unreadable on white).
METHOD_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
#: Markers a method can get (filled shapes: tellable in grey print).
METHOD_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")

#: Timeline phases and the colours derived from them; none is a method colour.
PHASE_COLORS = {"download": "#DDCC77", "compute": "#332288", "upload": "#882255"}
#: Annotations, reference lines, "no information" markers.
NEUTRAL = "0.25"


class MethodStyle(NamedTuple):
    """How one method is drawn everywhere."""

    color: str
    marker: str


_BUILTIN = {
    "fedavg": MethodStyle(METHOD_COLORS[0], "o"),
    "fedasync": MethodStyle(METHOD_COLORS[1], "s"),
    "fedbuff": MethodStyle(METHOD_COLORS[2], "^"),
    "fedat": MethodStyle(METHOD_COLORS[3], "D"),
    "semisync": MethodStyle(METHOD_COLORS[4], "v"),
}
_OVERRIDES: dict[str, MethodStyle] = {}


def method_style(name: Any) -> MethodStyle:
    """The colour and marker of a method (any value of the compared column; numbers as text).

    Built-ins are fixed; other names get ``METHOD_COLORS[h % 6]`` and ``METHOD_MARKERS[(h // 6) % 10]``
    with ``h`` the CRC-32 of the name (stable across processes, unlike ``hash``).
    """
    key = str(name)
    if key in _OVERRIDES:
        return _OVERRIDES[key]
    if key in _BUILTIN:
        return _BUILTIN[key]
    h = zlib.crc32(key.encode("utf-8"))
    return MethodStyle(METHOD_COLORS[h % len(METHOD_COLORS)],
                       METHOD_MARKERS[(h // len(METHOD_COLORS)) % len(METHOD_MARKERS)])


def method_order(values) -> list:
    """``values`` without repeats, built-in methods first (FedAvg, FedAsync, FedBuff, FedAT, semi-sync),
    then the others by name: the order of groups, legends and side-by-side slots in every figure."""
    builtin = list(_BUILTIN)
    unique = list(dict.fromkeys(values))
    return sorted(unique, key=lambda v: (builtin.index(str(v)) if str(v) in builtin else len(builtin), str(v)))


def set_method_style(name: str, color: str | None = None, marker: str | None = None) -> None:
    """Fix the colour and/or marker of ``name`` in every later figure of this process."""
    current = method_style(name)
    _OVERRIDES[str(name)] = MethodStyle(color or current.color, marker or current.marker)


#: rc settings of the ``paper`` style: readable at a column's width, light grids, no top/right spines.
PAPER_RC: dict[str, Any] = {
    "font.size": 9.0,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9.0,
    "legend.fontsize": 8.0,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "figure.titlesize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.6,
    "lines.markersize": 5.0,
    "legend.frameon": False,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "pdf.fonttype": 42,  # TrueType in PDFs: editable text, accepted by publishers
    "svg.fonttype": "none",
}

#: ``simfl plot --style`` values besides a matplotlib style name or a ``.mplstyle`` file.
STYLES = ("paper", "default")
#: ``simfl plot --format`` values.
FORMATS = ("png", "pdf", "svg")


def resolve_style(style: str) -> Any:
    """What ``matplotlib.pyplot.style.context`` takes for a ``--style`` value.

    Args:
        style: ``paper`` (:data:`PAPER_RC`), ``default`` (matplotlib's defaults), a matplotlib
            style name (``seaborn-v0_8-whitegrid``...) or the path of a ``.mplstyle`` file.

    Raises:
        ValueError: an unknown style (the message lists the available ones).
    """
    if style == "paper":
        return PAPER_RC
    if style == "default" or style in plt.style.available or Path(style).is_file():
        return style
    raise ValueError(f"unknown style {style!r}: use paper, default, a .mplstyle file or one of "
                     f"{', '.join(sorted(plt.style.available))}")


@contextmanager
def style_context(style: str = "paper") -> Iterator[None]:
    """Draw (and save) inside ``with style_context(style):`` (see :func:`resolve_style`)."""
    with plt.style.context(resolve_style(style)):
        yield
