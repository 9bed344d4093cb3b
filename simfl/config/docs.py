"""Generate ``docs/config.md`` from the schema: every key, its default and its description.

    python -m simfl.config.docs > docs/config.md
    python -m simfl.config.docs algorithm my_rules:MyMethod   # one component's keys (a plugin too)

``simfl docs [KIND [NAME]]`` prints the same texts on the command line (:func:`docs_text`).

The named components (methods, selection policies, staleness functions, server optimizers)
are listed from :mod:`simfl.registry`, each with its own keys; a plugin's keys render the same
way. A test checks that the committed file is up to date.
"""

from __future__ import annotations

import inspect
import sys

from pydantic import BaseModel

import simfl.registry as registry
from simfl.config.messages import model_classes
from simfl.config.params import ALGORITHM_DOC, AlgorithmParams, choices, component_ref
from simfl.config.executors import EXECUTORS
from simfl.config.schema import MODELS, Config
from simfl.data.kinds import NATURAL_ID_HINTS, PATH_HELP
from simfl.scenario.availability import AVAILABILITY_MODELS
from simfl.scenario.distributions import DISTRIBUTIONS
from simfl.scenario.spread import TRUNCATED_NORMAL_MAX_CV, WEIBULL_MAX_CV

__all__ = ["render", "component_doc", "kind_of", "kind_listing", "docs_text"]

_REGISTRIES = {
    "dist": DISTRIBUTIONS,
    "availability": AVAILABILITY_MODELS,
    "model": MODELS,
}
_REGISTERED = {cls for registry_ in _REGISTRIES.values() for cls in registry_.values()}
_TITLES = {
    "algorithm": "Methods (`algorithm.type`)",
    "selection": "Client selection (`algorithm.selection`)",
    "staleness": "Staleness functions (`algorithm.staleness`)",
    "server_optimizer": "Server optimizers (`algorithm.server_optimizer`)",
}

_HEADER = """# Configuration reference

Generated from the schema by `python -m simfl.config.docs`; do not edit by hand.

A config is a YAML mapping; every key is optional and defaults as listed. Unknown keys are
errors (with a did-you-mean). Override any key on the command line with
`--set dotted.key=VALUE` (VALUE is read as YAML, e.g. `--set algorithm.type=fedavg`,
`--set 'heterogeneity.compute.seconds_per_sample={dist: lognormal, mean: 0.01, sigma: 1}'`).
Booleans and numbers are not interchanged: `true`/`false` is an error for a number and anything
but `true`/`false` is an error for a switch (an integer is a valid float, and `1e-3` or `1e6` a
valid number). The file must be UTF-8 text with at least one key.

"""


def _description(cls: type[BaseModel], name: str) -> str:
    """A field's description; for one of simfl's own fields naming a component, followed by the
    choices the registry lists (a plugin's own field keeps its author's text)."""
    field = cls.model_fields[name]
    ref = component_ref(field)
    owner = next((c for c in cls.__mro__ if name in inspect.get_annotations(c)), cls)  # the class declaring it
    text = field.description or ""
    return f"{text}; type: {choices(ref.kind)}" if ref is not None and owner.__module__.startswith("simfl.") else text


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
    return f"`{_cell(_yaml(_default_value(field)))}`"


def _default_value(field):
    """A field's default as plain data: a ``default_factory`` is called (``list`` gives ``[]``)."""
    return _dump(field.get_default(call_default_factory=True))


def _section(cls: type[BaseModel], prefix: str, out: list[str], seen: set) -> None:
    rows = []
    nested = []
    for name, field in cls.model_fields.items():
        key = f"{prefix}{name}"
        if component_ref(field) is not None:  # a named component: its keys are listed below
            rows.append(f"| `{key}` | `{_cell(_yaml(_component_default(field)))}` | {_cell(_description(cls, name))} |")
            continue
        classes = model_classes(field.annotation)
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
        forms = getattr(cls, "FORMS", ())
        params = " or ".join(f"`{form.text}`" for form in forms) or ", ".join(
            f"`{n}`" + ("" if f.is_required() else f" (default `{_cell(_yaml(_default_value(f)))}`)")
            for n, f in cls.model_fields.items()
            if n != key
        )
        doc = " ".join((cls.__doc__ or "").split("\n\n")[0].split())
        out.append(f"| `{tag}` | {params or '—'} | {_cell(doc)} |")
    out.append("")


def _dump(value):
    return value.model_dump() if isinstance(value, BaseModel) else value


def _component_default(field):
    value = field.get_default(call_default_factory=True)
    if isinstance(value, AlgorithmParams):
        return value.type
    return _dump(value)


def _rows(params: type[BaseModel], skip: set[str], prefix: str = "") -> list[str]:
    rows = []
    for name, field in params.model_fields.items():
        if name in skip:
            continue
        default = "required" if field.is_required() else f"`{_cell(_yaml(_component_default(field)))}`"
        rows.append(f"| `{prefix}{name}` | {default} | {_cell(_description(params, name))} |")
    return rows


def component_doc(kind: str, name: str, search_path=(), level: int = 3) -> str:
    """Markdown of one component's keys (built-in or plugin): its docstring and a key table."""
    component = registry.resolve(kind, name, search_path)
    params = component.params
    skip = {"type"} | (set(AlgorithmParams.model_fields) if kind == "algorithm" else set())
    shared = params is not component.target and params.__module__ != component.target.__module__
    doc = "" if shared else _own_doc(params)
    doc = " ".join((doc or component.describe()).strip().split("\n\n")[0].split())
    rows = _rows(params, skip)
    head = f"{'#' * level} `{name}`\n\n{_cell(doc)}\n" + _dataset_notes(kind, name)
    if not rows:
        return head + "\nNo keys of its own.\n"
    return head + "\n| key | default | meaning |\n|---|---|---|\n" + "\n".join(rows) + "\n"


def _dataset_notes(kind: str, name: str) -> str:
    """What a built-in dataset kind reads (``data.path``) and where its own clients come from."""
    if kind != "dataset":
        return ""
    notes = []
    if name in PATH_HELP:
        notes.append(f"* `data.path`: {PATH_HELP[name]}")
    if name in NATURAL_ID_HINTS:
        notes.append(f"* its own clients: {NATURAL_ID_HINTS[name]}")
    return "\n" + "\n".join(notes) + "\n" if notes else ""


def _own_doc(cls: type) -> str:
    """``cls``'s own docstring, not one it inherits (a dataset kind's ``Params`` has none: its
    kind's docstring says what it is)."""
    return cls.__dict__.get("__doc__") or ""


def kind_of(text: str) -> str:
    """The component kind a user names: a kind (``staleness``) or the config key that names one
    (``algorithm.staleness``, ``algorithm.staleness.type``, ``data.dataset``).

    Raises:
        ConfigError: no such kind (one line listing the kinds).
    """
    from simfl.errors import ConfigError

    for kind, key in registry.KINDS.items():
        if text in (kind, key, key.removesuffix(".type")):
            return kind
    kinds = ", ".join(registry.KINDS)
    raise ConfigError(f"KIND: unknown kind {text!r}{registry._hint(text, list(registry.KINDS))}; kinds: {kinds}")


def kind_listing(kind: str) -> str:
    """The names of a kind, one line each with what it is, and how to see one's keys."""
    key = registry.KINDS[kind]
    lines = [f"{kind} (config key {key}):", ""]
    for name in registry.names(kind):
        entry = registry.BUILTINS[kind].get(name)
        about = getattr(entry, "about", "") or _describe(kind, name)
        lines.append(f"  {name:<18} {about}")
    plugin = ("your own data: data.dataset: python with data.source: package.module:function"
              if kind == "dataset" else "or a plugin named by its import path package.module:Name (docs/plugins.md)")
    lines += ["", f"{plugin}; `simfl docs {kind} NAME` prints a component's keys."]
    return "\n".join(lines) + "\n"


def _describe(kind: str, name: str) -> str:
    """One line about a named component (an entry point that cannot be imported says so)."""
    from simfl.errors import SimflError

    try:
        return registry.resolve(kind, name).describe()
    except SimflError as exc:
        return f"(cannot be loaded: {exc})"


def docs_text(kind: str | None = None, name: str | None = None, search_path=(".",)) -> str:
    """What ``simfl docs`` prints: every key (no kind), a kind's names, or one component's keys.

    Args:
        kind: a kind or the config key naming one (see :func:`kind_of`); None for the whole reference.
        name: a built-in name or an import path ``package.module:Name``; None to list the kind.
        search_path: folders searched first for a plugin's module (then the Python path).

    Raises:
        ConfigError: an unknown kind, or a name that is not a component of it (one line).
    """
    if kind is None:
        return render()
    kind = kind_of(kind)
    if name is None:
        return kind_listing(kind)
    return component_doc(kind, name, search_path=search_path, level=2)


def _components(kind: str, out: list[str]) -> None:
    out.append(f"## {_TITLES[kind]}\n")
    if kind == "algorithm":
        out.append(ALGORITHM_DOC + "\n")
        out.append("Keys every method has:\n\n| key | default | meaning |\n|---|---|---|")
        out.extend(_rows(AlgorithmParams, {"type"}, "algorithm."))
        out.append("")
    out.append(f"A plugin is named by its import path `package.module:Name` (see docs/plugins.md); "
               f"`python -m simfl.config.docs {kind} package.module:Name` prints its keys.\n")
    for name in registry.builtins(kind):
        out.append(component_doc(kind, name))


_SPREAD = """### Mean and coefficient of variation; what a sweep of the spread holds fixed

Every law with a free spread can be written `{{dist: NAME, mean: M, cv: C}}`: the mean of the
draws is M and their standard deviation C·M (cv = std / mean), beside the law's own parameters.
A mapping gives exactly one of its forms (mixing, e.g. `shape` with `cv`, is an error), and the
run's `config.yaml` keeps the form written. `cv: 0` is a point mass: every draw is M exactly (a
constant is still written as a bare number). Reach: uniform cv ≤ 1/√3 (draws stay ≥ 0), normal
cv < 1 (numerically {normal_max:.4f}), Weibull cv ≤ {weibull_max:.3g}; lognormal, gamma and
Pareto take any cv ≥ 0 (the Pareto's tail index a = 1 + √(1 + 1/cv²) stays above 2).
The half-normal and the exponential have a fixed cv (√(π/2 − 1) ≈ 0.756 and 1): give them by
`mean` (or `std`). For the normal, `{{mean, cv}}` is the mean and cv of the truncated law, while
`{{mean, std}}` keeps its meaning: `mean` is the location of the normal before truncation at 0.

A sweep over one key of a distribution (e.g. `heterogeneity.compute.seconds_per_sample.cv`)
holds the other keys of its form fixed, so the form chosen decides what else moves: `{{mean, cv}}`
and a lognormal's `{{mean, sigma}}` hold the mean, a gamma's or Weibull's `{{mean, shape}}` too,
while a lognormal's `{{median, sigma}}` holds the median, so its mean, median × e^{{σ²/2}}, grows
with σ (7.4 times at σ = 2). `simfl plot` says on a swept parameter's axis what its sweep held
fixed, and `simfl report` shows each cell's realised mean, median and CV.

| `dist` | form | sweeping | holds fixed | note |
|---|---|---|---|---|
{rows}

A fixed mean bandwidth does not fix the mean transfer time: a transfer of b bytes at B Mbit/s
takes 8b/(10^6 B) s, and E[1/B] ≥ 1/E[B] grows with the spread. For a lognormal bandwidth with
mean M, E[1/B] = (1 + cv²)/M; to hold the mean transfer time fixed, scale the mean as M(1 + cv²).
"""


def _spread_rows() -> str:
    rows = []
    for tag, cls in DISTRIBUTIONS.items():
        for form in getattr(cls, "FORMS", ()):
            if form.spread is not None:
                held = ", ".join(f"`{k}`" for k in form.held_fixed(form.spread))
                rows.append(f"| `{tag}` | `{form.text}` | `{form.spread}` | {held} | {_cell(form.note)} |")
    return "\n".join(rows)


_FLOWER = """## Server optimizers and Flower's strategies

Every parameter of `algorithm.server_optimizer` and its default is in the tables above
(OPTIMIZERS). The adaptive ones follow Reddi et al. 2021,
Algorithm 2, as printed: no bias correction, `v` starts at `initial_accumulator` (null = tau²).
Flower's strategies (checked against the flwr 1.42.0 wheel, `flwr.server.strategy` and
`flwr.serverapp.strategy`, whose update rules are the same: FedAvg, FedAvgM, FedAdagrad and FedYogi
agree to rounding; FedAdam agrees with the keys below) map to simfl keys as follows. Flower starts
`v` at 0, so set `initial_accumulator: 0`. Flower's FedAdam bias-corrects its rate with
`t = server_round + 1`, one step ahead of Kingma & Ba's `t = 1` at the first step:
`bias_correction_offset: 1` reproduces it. The defaults below are `flwr.server.strategy`'s; in
`flwr.serverapp.strategy` FedAdagrad's and FedAdam's `tau` default to 1e-3 instead of 1e-9.

| Flower strategy | Flower argument (default) | simfl key |
|---|---|---|
| all | `eta_l` (client learning rate) | `train.lr` |
| all | `min_fit_clients`, `fraction_fit` (`min_train_nodes`, `fraction_train` in `flwr.serverapp`) | `algorithm.clients_per_round` (FedAvg rounds) |
| `FedAvg` | — | `algorithm.server_optimizer: null` (or `{type: sgd, lr: 1}`) |
| `FedAvgM` | `server_learning_rate` (1.0) | `server_optimizer: {type: avgm, lr: ...}` |
| `FedAvgM` | `server_momentum` (0.0) | `server_optimizer.momentum` (simfl's default is 0.9) |
| `FedAdagrad` | `eta` (0.1), `tau` (1e-9) | `{type: adagrad, lr: ..., tau: ...}` |
| `FedAdagrad` | (no first moment: `beta_1 = 0`) | `beta1: 0`, `initial_accumulator: 0` |
| `FedAdam` | `eta` (0.1), `beta_1` (0.9), `beta_2` (0.99), `tau` (1e-9) | `{type: adam, lr, beta1, beta2, tau}` |
| `FedAdam` | bias-corrected `eta_norm` | `bias_correction: true`, `bias_correction_offset: 1`, `initial_accumulator: 0` |
| `FedYogi` | `eta` (0.01), `beta_1` (0.9), `beta_2` (0.99), `tau` (1e-3) | `{type: yogi, lr, beta1, beta2, tau}`, `initial_accumulator: 0` |

With a server optimizer, FedAvg's pseudo-gradient is `x − Σ n_k x_k / Σ n_k` (Flower's
`current_weights − aggregate`), FedBuff's is its normalised buffer (see `algorithm.buffer_normalization`),
FedAsync's is `α s(τ)·(x − x_client)`.
"""


def render() -> str:
    """The markdown reference."""
    out = [_HEADER]
    _section(Config, "", out, {Config})
    _registry("Distributions (`{dist: NAME, ...}` or a bare number)", "dist", DISTRIBUTIONS, out)
    out.append(_SPREAD.format(rows=_spread_rows(), normal_max=TRUNCATED_NORMAL_MAX_CV, weibull_max=WEIBULL_MAX_CV))
    _registry("Availability (`heterogeneity.availability`)", "type", AVAILABILITY_MODELS, out)
    _registry("Models (`model`)", "type", MODELS, out)
    _registry("Executors (`train.executor`: sequential, batched, or one of these)", "type", EXECUTORS, out)
    for spec in EXECUTORS.values():  # their keys, described
        _section(spec, "train.executor.", out, {spec})
    for kind in registry.ENTRY_POINT_GROUPS:  # the algorithm's components (models: the section above)
        _components(kind, out)
    out.append(_FLOWER.replace("OPTIMIZERS", ", ".join(f"`{n}`" for n in registry.builtins("server_optimizer"))))
    _sweep_file(out)
    return "\n".join(out).rstrip() + "\n"


_SWEEP_HEADER = """# Sweep files

`simfl sweep FILE` reads a sweep file: a `base` config, keys `set` for every run, the swept
`grid` / `zip` / `variants`, `seeds` and accuracy `targets` (see `simfl.sweep.spec`), and
optionally a `tune` section that tunes every contestant in every cell on tuning seeds before the
evaluation runs (the protocol: docs/fair_comparisons.md).
"""


def _sweep_file(out: list[str]) -> None:
    """The sweep file's keys, its ``tune`` section's, and the tuning criteria."""
    from simfl.sweep.spec import SweepSpec
    from simfl.sweep.tunespec import CRITERIA, Range

    out.append(_SWEEP_HEADER)
    start = len(out)
    _section(SweepSpec, "", out, {SweepSpec})
    out[start] = out[start].replace("## `top level`", "## sweep file: top level", 1)
    _registry("Tuning criteria (`tune.criterion`)", "type", CRITERIA, out)
    rows = _rows(Range, set())
    out.append("## Ranges (`tune.space` values for `search: random`)\n\n" + (Range.__doc__ or "").strip()
               + "\n\n| key | default | meaning |\n|---|---|---|")
    out.extend(rows)
    out.append("")


def main(argv: list[str]) -> int:
    """``python -m simfl.config.docs [KIND NAME]``: every key, or one component's parameters; a bad
    kind or name is one line on stderr (exit 2), never a traceback."""
    from simfl.errors import SimflError

    if len(argv) not in (0, 2):
        print("usage: python -m simfl.config.docs [KIND NAME]", file=sys.stderr)
        return 2
    try:
        text = docs_text(*argv)
    except (SimflError, KeyError, ValueError) as exc:
        print(f"simfl.config.docs: error: {exc}", file=sys.stderr)
        return 2
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

