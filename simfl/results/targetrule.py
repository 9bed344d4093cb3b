"""When a run has reached an accuracy target: at its first crossing, or once it stays there.

A noisy accuracy curve can cross a target once and fall back (a run crossed 0.6 at 48 s and
ended at 0.51). The *target rule* says which evaluation counts as reaching target ``t``:

* ``sustained`` (the default), ``window: null``: the first evaluation after which accuracy stays
  ``>= t`` at every later evaluation of the run; the run never reached ``t`` if its last
  evaluation is below it.
* ``sustained`` with ``window: k``: the first evaluation at which accuracy is ``>= t`` there and at
  the ``k - 1`` evaluations that follow it. A crossing fewer than ``k`` evaluations before the
  run's end does not count there (the run did not show that it stays; an earlier streak of ``k``
  still counts). ``window: 1`` is the first crossing.
* ``first``: the first evaluation at which accuracy is ``>= t`` (the rule of simfl before this one).

An evaluation with no accuracy (NaN: the model diverged) is below every target, so it breaks a
streak. Evaluations are read in their order (the order a run records them: by simulated time).

Properties the tests check: ``window: 1`` equals ``first``; the time grows with the window (a
streak of ``k + 1`` holds one of ``k``), so ``first`` comes no later than any sustained time;
``window: null`` is the start of the last streak, which ends at the run's end.

A sweep records its rule in its manifest (``target_rule``); a sweep directory written before the
rule existed has none and its summary used ``first`` (:func:`recorded_target_rule`).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from simfl.errors import SimflError
from simfl.strict import StrictModel

__all__ = ["TargetRule", "SUSTAINED", "FIRST", "RULE_TYPES", "reached_index", "target_rule_sentence",
           "recorded_target_rule", "parse_target_rule"]

#: The rule types, default first.
RULE_TYPES = ("sustained", "first")


class TargetRule(StrictModel):
    """When a run counts as having reached an accuracy target; `sustained` / `first` stand for {type: ...}.

    See the module docstring for the rules and their properties."""

    type: Literal["sustained", "first"] = Field(
        "sustained", description="sustained: the first evaluation after which accuracy stays >= the target (for "
        "the rest of the run, or for `window` evaluations) | first: the first evaluation >= the target"
    )
    window: int | None = Field(
        None, ge=1, description="sustained: evaluations the accuracy must stay >= the target, that one included "
        "(a crossing fewer than `window` evaluations before the run's end does not count); null = the rest of the run"
    )

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _window_is_for_sustained(self):
        if self.type == "first" and self.window is not None:
            raise ValueError("window is for type sustained (a first crossing is one evaluation)")
        return self

    @property
    def label(self) -> str:
        """``sustained``, ``sustained over 3 evaluations`` or ``first crossing``."""
        if self.type == "first":
            return "first crossing"
        return "sustained" if self.window is None else f"sustained over {self.window} evaluations"


#: The default rule: accuracy stays at or above the target for the rest of the run.
SUSTAINED = TargetRule()
#: Today's first crossing, and the rule of every sweep directory that records none.
FIRST = TargetRule(type="first")


def parse_target_rule(value: Any, name: str = "target_rule") -> TargetRule:
    """A :class:`TargetRule` from ``sustained``, ``first`` or ``{type, window}``.

    Raises:
        SimflError: one line naming ``name`` and what is allowed.
    """
    if isinstance(value, TargetRule):
        return value
    try:
        return TargetRule.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        raise SimflError(f"{name}{'.' + where if where else ''}: {msg} (a target rule is sustained, first, or "
                         "{type: sustained, window: K})") from None


def reached_index(accuracy: Any, target: float, rule: TargetRule = SUSTAINED) -> int | None:
    """Position of the evaluation at which ``target`` counts as reached under ``rule`` (None: never).

    Args:
        accuracy: the accuracies of one run's evaluations, in their order (NaN: no accuracy).
        target: the accuracy target.
        rule: :data:`SUSTAINED` (default), a window, or :data:`FIRST`.
    """
    ok = np.asarray(accuracy, dtype=float) >= target  # NaN compares False: it breaks a streak
    if rule.type == "first" or rule.window == 1:
        hits = np.flatnonzero(ok)
        return int(hits[0]) if hits.size else None
    if rule.window is None:
        if not ok.size or not ok[-1]:
            return None
        below = np.flatnonzero(~ok)
        return int(below[-1]) + 1 if below.size else 0
    if ok.size < rule.window:
        return None
    full = np.lib.stride_tricks.sliding_window_view(ok, rule.window).all(axis=1)
    hits = np.flatnonzero(full)
    return int(hits[0]) if hits.size else None


def target_rule_sentence(rule: TargetRule, what: str = "test accuracy") -> str:
    """One sentence naming the rule, for reports and figure captions, e.g. ``time to target: first
    evaluation after which test accuracy stays ≥ t for the rest of the run (sustained)``."""
    if rule.type == "first":
        return f"time to target: first evaluation at which {what} is ≥ t (first crossing)"
    if rule.window is None:
        return f"time to target: first evaluation after which {what} stays ≥ t for the rest of the run (sustained)"
    return (f"time to target: first evaluation from which {what} stays ≥ t for {rule.window} evaluations "
            f"(sustained over {rule.window}; a crossing fewer than {rule.window} evaluations before the run's end "
            "does not count)")


def recorded_target_rule(sweep_manifest: dict[str, Any] | None) -> TargetRule:
    """The rule a sweep directory's summary was computed with: its manifest's ``sweep.target_rule``;
    :data:`FIRST` when it records none (written before simfl had target rules)."""
    recorded = ((sweep_manifest or {}).get("sweep") or {}).get("target_rule")
    return FIRST if recorded is None else parse_target_rule(recorded, "sweep_manifest.json: sweep.target_rule")
