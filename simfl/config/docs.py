"""Generate ``docs/config.md`` from the schema: every key, its default and its description.

    python -m simfl.config.docs > docs/config.md

A test checks that the committed file is up to date.
"""

from __future__ import annotations


from pydantic import BaseModel

from simfl.algorithms.selection import SELECTION_POLICIES
from simfl.algorithms.staleness import STALENESS_FUNCTIONS
from simfl.config.errors import _model_classes
from simfl.config.schema import MODELS, Config
from simfl.scenario.availability import AVAILABILITY_MODELS
from simfl.scenario.distributions import DISTRIBUTIONS

__all__ = ["render"]

_REGISTRIES = {
    "dist": DISTRIBUTIONS,
    "staleness": STALENESS_FUNCTIONS,
    "availability": AVAILABILITY_MODELS,
    "model": MODELS,
}
_REGISTERED = {cls for registry in _REGISTRIES.values() for cls in registry.values()}

_HEADER = """# Configuration reference

Generated from the schema by `python -m simfl.config.docs`; do not edit by hand.

A config is a YAML mapping; every key is optional and defaults as listed. Unknown keys are
errors (with a did-you-mean). Override any key on the command line with
`--set dotted.key=VALUE` (VALUE is read as YAML, e.g. `--set algorithm.type=fedavg`,
`--set 'heterogeneity.compute.seconds_per_sample={dist: lognormal, mean: 0.01, sigma: 1}'`).

"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _yaml(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value == float("inf"):
        return ".inf"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items() if v is not None) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return str(value)


def _default(field, is_section: bool) -> str:
    if field.is_required():
        return "required"
    if is_section:
        return "(section)"
    value = field.default
    if isinstance(value, BaseModel):
        value = value.model_dump()
    return f"`{_cell(_yaml(value))}`"


def _section(cls: type[BaseModel], prefix: str, out: list[str], seen: set) -> None:
    rows = []
    nested = []
    for name, field in cls.model_fields.items():
        key = f"{prefix}{name}"
        classes = _model_classes(field.annotation)
        is_section = len(classes) == 1 and classes[0] not in _REGISTERED
        if is_section and classes[0] not in seen:
            nested.append((classes[0], key))
        rows.append(f"| `{key}` | {_default(field, is_section)} | {_cell(field.description or '')} |")
    doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
    out.append(f"## `{prefix.rstrip('.') or 'top level'}`\n\n{doc}\n\n| key | default | meaning |\n|---|---|---|")
    out.extend(rows)
    out.append("")
    for sub, key in nested:
        seen.add(sub)
        _section(sub, key + ".", out, seen)


def _registry(title: str, key: str, registry: dict[str, type[BaseModel]], out: list[str]) -> None:
    out.append(f"## {title}\n\n| `{key}` | parameters | meaning |\n|---|---|---|")
    for tag, cls in registry.items():
        params = ", ".join(
            f"`{n}`" + ("" if f.is_required() else f" (default `{_cell(_yaml(_dump(f.default)))}`)")
            for n, f in cls.model_fields.items()
            if n != key
        )
        doc = " ".join((cls.__doc__ or "").split("\n\n")[0].split())
        out.append(f"| `{tag}` | {params or '—'} | {_cell(doc)} |")
    out.append("")


def _dump(value):
    return value.model_dump() if isinstance(value, BaseModel) else value


def render() -> str:
    """The markdown reference."""
    out = [_HEADER]
    _section(Config, "", out, {Config})
    _registry("Distributions (`{dist: NAME, ...}` or a bare number)", "dist", DISTRIBUTIONS, out)
    _registry("Staleness functions (`algorithm.staleness`)", "type", STALENESS_FUNCTIONS, out)
    _registry("Selection policies (`algorithm.selection`)", "type", SELECTION_POLICIES, out)
    _registry("Availability (`heterogeneity.availability`)", "type", AVAILABILITY_MODELS, out)
    _registry("Models (`model`)", "type", MODELS, out)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")

