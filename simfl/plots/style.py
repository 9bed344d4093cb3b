"""One look across every figure: a fixed colour and marker per method, the paper style, output formats.

Built-in algorithms have fixed Okabe–Ito colours (distinguishable under the common
colour-vision deficiencies) and markers, given by their entries in :data:`simfl.registry.BUILTINS`. Any other name (a plugin ``package.module:Name``, a
variant label) takes a colour of :data:`OTHER_COLORS`, a qualitative palette chosen far (in
CIELAB) from the built-ins' colours, the phase colours and each other: the slot its name hashes
to, or the next one no other such name of this process holds, so up to eight variants drawn
together get eight different colours. Figures register their methods in
:func:`method_order` first (:func:`register_methods`), so a sweep's variants look the same in
every figure, every process and every notebook. Override with :func:`set_method_style`.
Timeline phases use colours no method can get (:data:`PHASE_COLORS`).
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import matplotlib.pyplot as plt

import simfl.registry as registry

__all__ = [
    "MethodStyle",
    "method_style",
    "method_order",
    "set_method_style",
    "METHOD_COLORS",
    "METHOD_MARKERS",
    "OTHER_COLORS",
    "register_methods",
    "PHASE_COLORS",
    "NEUTRAL",
    "PAPER_RC",
    "STYLES",
    "FORMATS",
    "style_context",
    "resolve_style",
    "SIZES",
    "size_context",
    "current_size",
]

#: Okabe–Ito colours a method can get (black and yellow left out: black is for annotations,
#: yellow is unreadable on white).
METHOD_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
#: Colours of methods that are not built in, in the order they are handed out (greedy farthest
#: point in CIELAB from the built-ins', the phases' and the annotation grey: every pair of the
#: 5 + 3 + 8 colours is at least ΔE*ab 29 apart; none is pale on white).
OTHER_COLORS = ("#66A61E", "#66CCEE", "#8B0000", "#E7298A", "#8C564B", "#9467BD", "#EE6677", "#BCBD22")
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


def _builtin() -> dict[str, MethodStyle]:
    """The fixed styles of the built-in methods, read from :data:`simfl.registry.BUILTINS`
    (a built-in without its own colour or marker is styled like any other name)."""
    return {name: MethodStyle(entry.color, entry.marker) for name, entry in registry.builtins("algorithm").items()
            if entry.color and entry.marker}


_OVERRIDES: dict[str, MethodStyle] = {}
_ASSIGNED: dict[str, MethodStyle] = {}  # other names, in the order this process first drew them


def _assign(key: str) -> MethodStyle:
    """The style of a name that is not built in: the first free colour slot from its hash on.

    ``h`` is the CRC-32 of the name (stable across processes, unlike ``hash``); the slot
    ``h % 8`` of :data:`OTHER_COLORS` if no other assigned name holds it, else the next free one
    (wrapping); once all are taken, ``h % 8`` again with the next marker. Markers of other names
    are the ones the built-ins do not use.
    """
    h = zlib.crc32(key.encode("utf-8"))
    taken = {s.color for s in _ASSIGNED.values()}
    n = len(OTHER_COLORS)
    free = [OTHER_COLORS[(h + i) % n] for i in range(n) if OTHER_COLORS[(h + i) % n] not in taken]
    used = {s.marker for s in _builtin().values()}
    markers = [m for m in METHOD_MARKERS if m not in used]
    color = free[0] if free else OTHER_COLORS[h % n]
    marker = markers[(h + (0 if free else len(_ASSIGNED) // n)) % len(markers)]
    _ASSIGNED[key] = MethodStyle(color, marker)
    return _ASSIGNED[key]


def method_style(name: Any) -> MethodStyle:
    """The colour and marker of a method (any value of the compared column; numbers as text).

    Built-ins are fixed; other names get a colour of :data:`OTHER_COLORS` (see :func:`_assign`),
    kept for the rest of the process.
    """
    key = str(name)
    if key in _OVERRIDES:
        return _OVERRIDES[key]
    builtin = _builtin()
    if key in builtin:
        return builtin[key]
    return _ASSIGNED.get(key) or _assign(key)


def register_methods(values) -> None:
    """Give every method of ``values`` its style, in :func:`method_order` (call before drawing a set
    of methods: the styles then depend on the set only, not on which figure came first)."""
    for value in method_order(str(v) for v in values):
        method_style(value)


def method_order(values) -> list:
    """``values`` without repeats, built-in methods first (FedAvg, FedAsync, FedBuff, FedAT, semi-sync),
    then the others by name: the order of groups, legends and side-by-side slots in every figure."""
    builtin = list(registry.builtins("algorithm"))
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
    if Path(style).is_file():
        _check_style_file(style)
        return style
    if style == "default" or style in plt.style.available:
        return style
    raise ValueError(f"unknown style {style!r}: use paper, default, a .mplstyle file or one of "
                     f"{', '.join(sorted(plt.style.available))}")


def _check_style_file(path: str) -> None:
    """Raise ValueError naming the first line matplotlib would skip in a style file (it only logs them)."""
    import logging

    import matplotlib

    class _Keep(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.WARNING)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    keep, logger = _Keep(), logging.getLogger("matplotlib")
    logger.addHandler(keep)
    propagate, logger.propagate = logger.propagate, False  # the user sees the one-line error, not the log
    try:
        matplotlib.rc_params_from_file(path, use_default_template=False)
    except (UnicodeDecodeError, OSError) as exc:
        raise ValueError(f"{path}: not a readable matplotlib style file ({exc})") from None
    finally:
        logger.removeHandler(keep)
        logger.propagate = propagate
    if keep.messages:
        raise ValueError(f"{path}: not a matplotlib style file: {keep.messages[0].splitlines()[0]}")


@contextmanager
def style_context(style: str = "paper") -> Iterator[None]:
    """Draw (and save) inside ``with style_context(style):`` (see :func:`resolve_style`)."""
    with plt.style.context(resolve_style(style)):
        yield


#: ``--size`` presets: the figure width in inches (a journal column, a full text width).
SIZES: dict[str, float] = {"column": 3.3, "text": 6.75}
#: rc settings of each preset: text that stays readable at that width (ticks at 7 pt or more), and
#: files exactly as wide as the preset (nothing drawn outside the figure, see the tests).
SIZE_RC: dict[str, dict[str, Any]] = {
    "column": {"font.size": 7.5, "axes.titlesize": 8.0, "axes.labelsize": 7.5, "legend.fontsize": 7.0,
               "xtick.labelsize": 7.0, "ytick.labelsize": 7.0, "figure.titlesize": 8.5, "legend.title_fontsize": 7.0,
               "lines.markersize": 4.0, "savefig.bbox": "standard"},
    "text": {"font.size": 8.5, "axes.titlesize": 9.0, "axes.labelsize": 8.5, "legend.fontsize": 7.5,
             "xtick.labelsize": 7.5, "ytick.labelsize": 7.5, "figure.titlesize": 9.5, "legend.title_fontsize": 7.5,
             "savefig.bbox": "standard"},
}
_SIZE: list[str] = []  # the preset in force (innermost last)


def current_size() -> float | None:
    """The figure width (inches) of the :func:`size_context` in force, else None."""
    return SIZES[_SIZE[-1]] if _SIZE else None


@contextmanager
def size_context(size: str | None) -> Iterator[None]:
    """Draw inside ``with size_context("column"):`` to get figures of that width (:data:`SIZES`).

    Figures drawn inside are exactly that wide, lay their panels out for it, and keep tick labels
    at 7 pt or more. ``None``: no preset (each figure's own size).

    Raises:
        ValueError: an unknown preset.
    """
    if size is None:
        yield
        return
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}: use one of {', '.join(SIZES)}")
    _SIZE.append(size)
    try:
        with plt.rc_context(SIZE_RC[size]):
            yield
    finally:
        _SIZE.pop()
