"""Student-t intervals on a scale (identity, logit, log): the formulas, and that they stay in range."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from simfl.results.intervals import LOGIT_EPS, interval_name, scale_for, t_interval, t_intervals


def _hand_t(v, level):
    half = stats.t.ppf((1 + level) / 2, len(v) - 1) * np.std(v, ddof=1) / math.sqrt(len(v))
    return v.mean(), v.mean() - half, v.mean() + half


def test_identity_is_the_textbook_t_interval():
    v = np.array([0.2, 0.5, 0.4, 0.9])
    assert t_interval(v, 0.9) == pytest.approx((*_hand_t(v, 0.9), 4))


def test_logit_is_the_t_interval_of_the_logits_mapped_back():
    v = np.array([0.91, 0.97, 0.99, 1.0])  # 1.0 is clipped to 1 - eps before the logit
    z = np.log(np.clip(v, LOGIT_EPS, 1 - LOGIT_EPS) / (1 - np.clip(v, LOGIT_EPS, 1 - LOGIT_EPS)))
    expected = [1 / (1 + math.exp(-u)) for u in _hand_t(z, 0.95)]
    est, lo, hi, n = t_interval(v, 0.95, "logit")
    assert (est, lo, hi) == pytest.approx(expected) and n == 4
    assert 0 < lo < est < hi < 1
    assert t_interval(v, 0.95, "identity")[2] > 1  # what the logit avoids: a symmetric interval past 1


def test_log_is_the_geometric_mean():
    v = np.array([0.5, 2.0, 4.0])
    est, lo, hi, _ = t_interval(v, 0.95, "log")
    m, a, b = _hand_t(np.log(v), 0.95)
    assert (est, lo, hi) == pytest.approx((math.exp(m), math.exp(a), math.exp(b)))
    assert est == pytest.approx(4 ** (1 / 3) * 1.0)


def test_missing_values_and_too_few_units():
    est, lo, hi, n = t_interval([0.3, np.nan], 0.95)
    assert est == 0.3 and math.isnan(lo) and math.isnan(hi) and n == 1
    est, lo, hi, n = t_intervals(np.array([[0.1, np.nan], [0.3, np.nan], [0.2, 0.4]]), 0.95)
    assert n.tolist() == [3, 1] and math.isnan(lo[1]) and est[1] == 0.4


def test_names_say_the_method_and_the_scale_follows_the_column():
    assert interval_name("logit", 0.95) == "mean on the logit scale, Student-t interval (95%, over seeds)"
    assert scale_for("test_accuracy") == "logit" and scale_for("validation_accuracy") == "logit"
    assert scale_for("test_loss") == "identity"
    with pytest.raises(ValueError, match="scale must be one of identity, logit, log"):
        t_interval([1, 2], 0.95, "probit")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=20), st.sampled_from(["identity", "logit"]),
       st.floats(0.5, 0.99))
def test_the_estimate_lies_inside_and_a_higher_level_is_wider(values, scale, level):
    est, lo, hi, _ = t_interval(values, level, scale)
    _, lo2, hi2, _ = t_interval(values, min(level + 0.009, 0.999), scale)
    assert lo - 1e-12 <= est <= hi + 1e-12
    assert lo2 <= lo + 1e-12 and hi2 >= hi - 1e-12
    if scale == "logit":
        assert 0 < lo and hi < 1
