"""The scripted teacher writes offsets in the words of Crafter's text observation."""

from __future__ import annotations

import itertools

from vlmforge_crafter.teacher.rationale import where
from vlmforge_crafter.wording import describe_offset


def test_offsets_in_the_observation_words() -> None:
    assert describe_offset(2, -1) == "2 right, 1 up" and describe_offset(0, 0) == "here"
    assert describe_offset(-3, 4) == "3 left, 4 down"
    for dx, dy in itertools.product(range(-4, 5), repeat=2):
        assert where((5, 5), (5 + dx, 5 + dy)) == describe_offset(dx, dy)
