"""The target rule: when a noisy accuracy curve counts as having reached a target (sustained or first)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfl.errors import SimflError
from simfl.results.summary import target_times, time_to_accuracy
from simfl.results.targetrule import (
    FIRST,
    SUSTAINED,
    TargetRule,
    parse_target_rule,
    reached_index,
    recorded_target_rule,
    target_rule_sentence,
)

NAN = math.nan


def _evals(accs, times=None):
    times = [10.0 * (i + 1) for i in range(len(accs))] if times is None else times
    return pd.DataFrame({"sim_time_s": times, "test_accuracy": accs})


def _window(k):
    return TargetRule(type="sustained", window=k)


# ----------------------------------------------------------------------------- hand-made curves
CURVE = [0.4, 0.62, 0.55, 0.61, 0.63]  # times 10 .. 50: crosses 0.6 at 20, falls back, stays from 40


@pytest.mark.parametrize("rule, expected", [
    (FIRST, 20.0),
    (SUSTAINED, 40.0),
    (_window(2), 40.0),
    (_window(1), 20.0),
    (_window(3), NAN),  # 40 and 50 are only two evaluations before the end: not sustained there
])
def test_a_noisy_curve_by_hand(rule, expected):
    got = time_to_accuracy(_evals(CURVE), 0.6, rule)
    assert got == expected or (math.isnan(expected) and math.isnan(got))


def test_a_curve_that_crosses_and_ends_below_never_reached_it_sustained():
    evals = _evals([0.3, 0.61, 0.58, 0.51])  # the FedAvg seed of the issue: crossed 0.6, ended at 0.51
    assert time_to_accuracy(evals, 0.6, FIRST) == 20.0
    assert math.isnan(time_to_accuracy(evals, 0.6, SUSTAINED))
    assert math.isnan(time_to_accuracy(evals, 0.6, _window(2)))


def test_an_earlier_streak_of_the_window_counts_even_if_the_run_ends_below():
    evals = _evals([0.7, 0.7, 0.7, 0.5, 0.7])
    assert time_to_accuracy(evals, 0.6, _window(3)) == 10.0
    assert time_to_accuracy(evals, 0.6, _window(2)) == 10.0
    assert time_to_accuracy(evals, 0.6, SUSTAINED) == 50.0  # the last evaluation alone: it stays to the end


def test_a_nan_evaluation_breaks_a_streak():
    evals = _evals([0.7, NAN, 0.7, 0.7])
    assert time_to_accuracy(evals, 0.6, FIRST) == 10.0
    assert time_to_accuracy(evals, 0.6, SUSTAINED) == 30.0
    assert time_to_accuracy(evals, 0.6, _window(2)) == 30.0
    assert math.isnan(time_to_accuracy(evals, 0.6, _window(4)))
    assert math.isnan(time_to_accuracy(_evals([0.7, 0.7, NAN]), 0.6, SUSTAINED))  # ends without an accuracy


def test_at_the_target_counts_and_empty_runs_reach_nothing():
    assert time_to_accuracy(_evals([0.5, 0.6, 0.6]), 0.6, SUSTAINED) == 20.0  # >=, not >
    for rule in (FIRST, SUSTAINED, _window(2)):
        assert math.isnan(time_to_accuracy(_evals([]), 0.6, rule))


def test_times_are_read_from_the_evaluations_not_their_index():
    evals = _evals([0.2, 0.65, 0.7], times=[0.0, 7.5, 12.0]).set_axis([5, 9, 2])  # any index
    assert time_to_accuracy(evals, 0.6) == 7.5


def test_target_times_default_is_sustained_and_diverged_runs_reach_nothing():
    evals = _evals(CURVE)
    assert target_times(evals, [0.6, 0.5]) == {"time_to_0.6_s": 40.0, "time_to_0.5_s": 20.0}
    assert target_times(evals, [0.6], rule=FIRST) == {"time_to_0.6_s": 20.0}
    assert math.isnan(target_times(evals, [0.6], diverged=True)["time_to_0.6_s"])


def test_validation_accuracy_is_read_for_a_run_evaluated_on_validation_rows():
    evals = pd.DataFrame({"sim_time_s": [10.0, 20.0, 30.0], "validation_accuracy": [0.65, 0.5, 0.7]})
    assert time_to_accuracy(evals, 0.6, FIRST) == 10.0
    assert time_to_accuracy(evals, 0.6) == 30.0


# ----------------------------------------------------------------------------- invariants
_acc = st.one_of(st.floats(0.0, 1.0), st.just(NAN))
_curves = st.lists(_acc, min_size=0, max_size=30)
_targets = st.sampled_from([0.25, 0.5, 0.6, 0.75])


def _at(curve, target, rule):
    i = reached_index(curve, target, rule)
    return math.inf if i is None else i


@settings(max_examples=300, deadline=None)
@given(_curves, _targets, st.integers(1, 8))
def test_sustained_times_grow_with_the_window_and_never_precede_the_first_crossing(curve, target, k):
    first = _at(curve, target, FIRST)
    assert _at(curve, target, _window(1)) == first
    assert first <= _at(curve, target, _window(k)) <= _at(curve, target, _window(k + 1))
    assert first <= _at(curve, target, SUSTAINED)


@settings(max_examples=300, deadline=None)
@given(_curves, _targets, st.integers(1, 8))
def test_what_each_rule_means(curve, target, k):
    ok = [a >= target for a in curve]  # NaN compares False
    i = reached_index(curve, target, SUSTAINED)
    if i is None:  # never: the run ends below the target (or has no evaluation)
        assert not curve or not ok[-1]
    else:  # every evaluation from i on is at or above it, the one before is not
        assert all(ok[i:]) and (i == 0 or not ok[i - 1])
        # the last streak is at least as long as any window it covers: that window is reached by then
        if len(curve) - i >= k:
            assert _at(curve, target, _window(k)) <= i
    j = reached_index(curve, target, _window(k))
    if j is None:
        assert not any(all(ok[s:s + k]) for s in range(len(curve) - k + 1))
    else:
        assert j + k <= len(curve) and all(ok[j:j + k])
        assert not any(all(ok[s:s + k]) for s in range(j))


@settings(max_examples=200, deadline=None)
@given(_curves, _targets)
def test_a_curve_that_never_falls_back_has_one_time_under_every_rule(curve, target):
    # once at or above the target it stays there: first crossing = sustained
    ok = np.asarray(curve, dtype=float) >= target
    monotone = [bool(v) for v in np.maximum.accumulate(ok)] if len(ok) else []
    fixed = [0.9 if m else 0.1 for m in monotone]
    assert _at(fixed, target, FIRST) == _at(fixed, target, SUSTAINED)


# ----------------------------------------------------------------------------- the rule as data
def test_short_forms_and_mappings():
    assert parse_target_rule("sustained") == SUSTAINED == TargetRule()
    assert parse_target_rule("first") == FIRST
    assert parse_target_rule({"type": "sustained", "window": 3}) == _window(3)
    assert parse_target_rule({"type": "sustained", "window": None}) == SUSTAINED


@pytest.mark.parametrize("bad, words", [
    ("last", "target_rule.type"),
    ({"type": "first", "window": 2}, "window is for type sustained"),
    ({"type": "sustained", "window": 0}, "target_rule.window"),
    ({"type": "sustained", "window": True}, "not a boolean"),
    ({"type": "sustained", "windw": 2}, "windw"),
    (3, "target_rule"),
])
def test_bad_rules_are_one_line_errors(bad, words):
    with pytest.raises(SimflError, match=words) as info:
        parse_target_rule(bad)
    assert "\n" not in str(info.value)


def test_sentences_name_the_rule():
    assert target_rule_sentence(SUSTAINED) == ("time to target: first evaluation after which test accuracy stays ≥ t "
                                               "for the rest of the run (sustained)")
    assert "(first crossing)" in target_rule_sentence(FIRST)
    assert "for 3 evaluations" in target_rule_sentence(_window(3))
    assert "validation accuracy" in target_rule_sentence(SUSTAINED, "validation accuracy")


def test_a_sweep_directory_without_a_recorded_rule_used_first_crossings():
    assert recorded_target_rule(None) == FIRST
    assert recorded_target_rule({"sweep": {"targets": [0.6]}}) == FIRST
    assert recorded_target_rule({"sweep": {"target_rule": {"type": "sustained", "window": None}}}) == SUSTAINED
    with pytest.raises(SimflError, match="sweep.target_rule"):
        recorded_target_rule({"sweep": {"target_rule": {"type": "often"}}})
