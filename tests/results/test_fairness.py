"""Normalised Jain index: about 1 under uniform random participation, whatever the number of updates."""

import math

import numpy as np
import pytest

from simfl.results.fairness import jain_index, normalised_jain, uniform_jain_mean


@pytest.mark.parametrize("updates", [10, 50, 90, 500])
def test_uniform_participation_scores_one_at_any_number_of_updates(updates):
    clients, runs = 50, 2000
    rng = np.random.default_rng(updates + 1)  # another generator than the reference's
    counts = rng.multinomial(updates, np.full(clients, 1 / clients), size=runs)
    raw = np.array([jain_index(c) for c in counts])
    norm = np.array([normalised_jain(c) for c in counts])
    tolerance = 4 * norm.std(ddof=1) / math.sqrt(runs)
    assert abs(norm.mean() - 1) < tolerance
    # the raw index measures the sample size: about U / (n + U - 1), the ratio of expectations
    assert raw.mean() == pytest.approx(updates / (clients + updates - 1), rel=0.05)


def test_the_reference_mean_is_deterministic_and_exact_at_the_edges():
    assert uniform_jain_mean(70, 50) == uniform_jain_mean(70, 50)
    assert uniform_jain_mean(5, 1) == 1.0 and math.isnan(uniform_jain_mean(0, 50))
    # two clients, one update: one client gets it, J = 1/2 always
    assert uniform_jain_mean(1, 2) == pytest.approx(0.5)


def test_skewed_participation_scores_below_one():
    slow_never = np.r_[np.full(25, 4), np.zeros(25)]  # 100 updates, half the clients never heard
    assert normalised_jain(slow_never) < 0.75
    assert math.isnan(normalised_jain(np.zeros(5)))
    with pytest.raises(ValueError, match="counts"):
        normalised_jain([0.5, 1.0])
