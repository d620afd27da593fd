"""The agent's rule tables match the installed Crafter's data.yaml (the game is the authority)."""

from __future__ import annotations

import crafter

from vlmforge_crafter.teacher import rules


def test_place_recipes_match_crafter() -> None:
    for name, (uses, where) in rules.PLACE.items():
        info = crafter.constants.place[name]
        assert info["uses"] == uses, name
        assert set(info["where"]) == set(where), name


def test_make_recipes_match_crafter() -> None:
    for name, (uses, nearby) in rules.MAKE.items():
        info = crafter.constants.make[name]
        assert info["uses"] == uses, name
        assert tuple(info["nearby"]) == nearby, name


def test_mining_rules_match_crafter() -> None:
    for material, tool in rules.MINE_REQUIRES.items():
        info = crafter.constants.collect[material]
        assert list(info["require"]) == ([tool] if tool else []), material
        assert info["leaves"] == rules.MINE_LEAVES[material], material
        assert list(info["receive"]) == [rules.MINE_GIVES[material]], material


def test_walkable_and_moves() -> None:
    assert set(crafter.constants.walkable) == set(rules.WALKABLE)
    assert set(rules.DIRECTIONS) <= set(crafter.constants.actions)
