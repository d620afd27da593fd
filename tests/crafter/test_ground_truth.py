"""The typed ground-truth contract (vlmforge_crafter.ground_truth) against the real environment."""

from __future__ import annotations

from typing import Any

import pytest

from vlmforge_crafter.ground_truth import (
    VISIBLE_FIELDS,
    Creature,
    GroundTruth,
    MissingFieldsError,
    Nearest,
    PlayerView,
    player_view,
)

from .helpers import make_env, many

_SCALARS: dict[str, type] = {
    "step": int,
    "max_steps": int,
    "facing_tile": str,
    "sleeping": bool,
    "daylight": float,
}


def _observations(steps: int) -> list[dict[str, Any]]:
    episode = make_env(observation="text_only").start(3)
    seen = [episode.reset().ground_truth]
    directions = ("move_left", "move_up", "move_right", "move_down")
    for i in range(steps):
        outcome = episode.step(many(*[directions[i // 3 % 4]] * 3, "do"))
        seen.append(outcome.observation.ground_truth)
        if outcome.done:
            break
    return seen


def test_every_observation_has_exactly_the_declared_keys_and_types() -> None:
    got_creature = False
    for gt in _observations(25):
        assert set(gt) == set(GroundTruth.__annotations__)
        for key, kind in _SCALARS.items():
            assert type(gt[key]) is kind, (key, gt[key])
        assert [type(v) for v in gt["position"] + gt["facing"]] == [int] * 4
        assert all(type(v) is int for v in gt["inventory"].values())
        assert {"health", "food", "drink", "energy"} <= set(gt["inventory"])
        assert all(isinstance(a, str) for a in gt["achievements"])
        rows, cols = len(gt["view"]), len(gt["view"][0])
        assert gt["view"][rows // 2][cols // 2] == "player"
        assert len(gt["semantic_view"]) == rows and len(gt["semantic_view"][0]) == cols
        for c in gt["creatures"]:
            assert set(c) == set(Creature.__annotations__)
            got_creature = True
        for n in gt["nearest"].values():
            assert set(n) == set(Nearest.__annotations__)
    assert got_creature  # the contract's creature entries were exercised


def test_player_view_parses_the_visible_fields_only() -> None:
    gt = _observations(3)[-1]
    view = player_view(gt)
    assert isinstance(view, PlayerView)
    assert view.step == gt["step"] and view.position == tuple(gt["position"])
    assert view.facing == tuple(gt["facing"]) and view.inventory == gt["inventory"]
    assert view.achievements == tuple(gt["achievements"])
    assert view.view == tuple(tuple(r) for r in gt["view"])
    assert (view.rows, view.cols) == (len(gt["view"]), len(gt["view"][0]))
    hidden = {k: v for k, v in gt.items() if k in VISIBLE_FIELDS}
    assert player_view(hidden) == view  # nothing outside VISIBLE_FIELDS is read
    assert player_view({k: v for k, v in hidden.items() if k != "step"}).step is None


def test_missing_visible_fields_are_named() -> None:
    with pytest.raises(MissingFieldsError) as err:
        player_view({"position": [1, 1], "facing": [0, 1], "inventory": {}})
    assert err.value.fields == ["achievements", "sleeping", "daylight", "view"]
