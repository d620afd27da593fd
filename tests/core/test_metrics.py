import math

import pytest

from vlmforge.metrics import crafter_score, mean_and_sem, progression, success_rates


def test_success_rates_count_episodes_not_unlocks():
    rates = success_rates([["a", "b"], ["a"], [], ["a", "a"]], ["a", "b", "c"])
    assert rates == {"a": 75.0, "b": 25.0, "c": 0.0}


def test_crafter_score_known_values():
    assert crafter_score({"a": 0.0, "b": 0.0}) == 0.0
    assert crafter_score({"a": 100.0, "b": 100.0}) == pytest.approx(100.0)
    # geometric mean with the 1% offset: sqrt(101 * 1) - 1
    assert crafter_score({"a": 100.0, "b": 0.0}) == pytest.approx(math.sqrt(101) - 1)


def test_progression_and_sem():
    mean, sem = progression([11, 0], 22)
    assert mean == pytest.approx(25.0)
    assert sem == pytest.approx(25.0)
    assert mean_and_sem([3.0]) == (3.0, 0.0)
    assert progression([], 22) == (0.0, 0.0)
