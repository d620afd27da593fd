"""The probe catalog: answer rules, answer spaces, and agreement with an independent oracle on
every recorded frame of real Crafter episodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.probes.conftest import open_store
from vlmforge_crafter.ground_truth import player_view
from vlmforge_crafter.probes.answerers import oracle_answer
from vlmforge_crafter.probes.catalog import (
    ALL_ANSWERS,
    BY_ID,
    DISTANCES,
    PROBE_TYPES,
    TILE_NAMES,
    capped,
    direction,
    nearest,
    probe_type,
)


def test_direction_words() -> None:
    assert direction(0, -2) == "up"
    assert direction(0, 1) == "down"
    assert direction(-3, 0) == "left"
    assert direction(3, 1) == "down-right"
    assert direction(-1, -4) == "up-left"
    assert direction(0, 0) == "none"


def test_capped_numbers() -> None:
    assert capped(3, DISTANCES) == "3"
    assert capped(8, DISTANCES) == "8+"
    assert capped(12, DISTANCES) == "8+"


def test_types_cover_the_issue_and_have_fixed_spaces() -> None:
    ids = set(BY_ID)
    for kind in ("tree", "water", "stone", "cow", "zombie", "skeleton"):
        assert {f"nearest_direction/{kind}", f"nearest_distance/{kind}"} <= ids
    assert {"front", "zombie_within_3", "cow_count", "health", "food", "drink", "daylight"} <= ids
    assert {"inventory/wood", "inventory/sapling", "inventory/stone"} <= ids
    for t in PROBE_TYPES:
        assert len(set(t.answers)) == len(t.answers) >= 2
        assert t.chance == pytest.approx(1 / len(t.answers))
        assert set(t.answers) <= set(ALL_ANSWERS)
        assert all(a in t.prompt() for a in t.answers)
    with pytest.raises(KeyError, match="unknown probe type 'nope'"):
        probe_type("nope")


def test_tile_names_are_crafters_semantic_names() -> None:
    from vlmforge_crafter.observe import SEMANTIC_NAMES

    assert set(TILE_NAMES) == set(SEMANTIC_NAMES) - {"player"}


def test_nearest_takes_the_observers_order() -> None:
    rows = [["grass"] * 9 for _ in range(7)]
    rows[3][4] = "player"
    rows[3][6] = "tree"  # distance 2, right
    rows[2][5] = "tree"  # distance 2, up-right, earlier row: first in (distance, row, col)
    rows[0][4] = "water"
    view = player_view(
        {"position": [30, 30], "facing": [0, 1], "inventory": {}, "achievements": [],
         "sleeping": False, "daylight": 1.0, "view": rows}
    )  # fmt: skip
    assert nearest(view, "tree") == (2, 1, -1)
    assert BY_ID["nearest_direction/tree"].answer(view) == "up-right"
    assert BY_ID["nearest_distance/water"].answer(view) == "3"
    assert BY_ID["nearest_direction/cow"].answer(view) == "none"
    assert BY_ID["front"].answer(view) == "grass"


def test_every_recorded_frame_answers_in_space_and_agrees_with_the_oracle(
    source_db: Path,
) -> None:
    """The generator (from the view grid) and the oracle (from the observer's facing_tile,
    nearest and creatures) agree on every type for every recorded frame."""
    store = open_store(source_db)
    seen: dict[str, set[str]] = {t.id: set() for t in PROBE_TYPES}
    frames = 0
    try:
        for trace in store.traces():
            for step in trace.steps:
                gt = step.observation.ground_truth
                view = player_view(gt)
                frames += 1
                for t in PROBE_TYPES:
                    answer = t.answer(view)
                    assert answer in t.answers, (t.id, answer)
                    assert oracle_answer(t.id, gt) == answer, (t.id, trace.episode.seed, step.index)
                    seen[t.id].add(answer)
    finally:
        store.close()
    assert frames > 100
    # the frames are varied enough that these probes are not constant
    for type_id in ("front", "nearest_direction/tree", "inventory/wood", "daylight", "food"):
        assert len(seen[type_id]) >= 2, (type_id, seen[type_id])
