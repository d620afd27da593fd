"""The scripted Crafter policy on the real crafter environment plugin."""

from __future__ import annotations

import json

import pytest

from vlmforge.components import Observation, PolicyError
from vlmforge.errors import ConfigError
from vlmforge.plugins import get_registry
from vlmforge_crafter.actions import parse_tool_calls
from vlmforge_crafter.teacher.policy import VISIBLE_FIELDS

from .helpers import play

BASICS = ("collect_wood", "place_table", "make_wood_pickaxe")


def only_visible(obs: Observation) -> Observation:
    """A plain Observation with nothing but what a player sees: no env object, no hidden map."""
    gt = {k: obs.ground_truth[k] for k in VISIBLE_FIELDS}
    return Observation(text=None, images=[], ground_truth=gt)


def test_unlocks_the_basics_quickly_from_visible_fields_only() -> None:
    result = play(0, 400, strip=only_visible, until=lambda got: all(a in got for a in BASICS))
    assert all(a in result["unlocked"] for a in BASICS), result["unlocked"]
    assert result["env_steps"] <= 150


def test_survives_and_climbs_the_tech_tree_on_a_fixed_seed() -> None:
    result = play(2, 600)
    got = set(result["unlocked"])
    assert {"collect_stone", "make_stone_pickaxe", "collect_drink", "eat_cow"} <= got, got
    assert len(got) >= 12


def test_deterministic_for_a_seed() -> None:
    first = play(3, 500)
    second = play(3, 500)
    actions = [o.actions for o in first["outcomes"]]
    assert actions == [o.actions for o in second["outcomes"]]
    assert [d.reply.content for d in first["decisions"]] == [
        d.reply.content for d in second["decisions"]
    ]


def test_tool_calls_are_valid_and_carry_a_rationale() -> None:
    result = play(1, 300, env_config={"max_actions_per_call": 3})
    spec = result["spec"]
    assert spec.max_actions_per_call == 3
    for decision, outcome in zip(result["decisions"], result["outcomes"], strict=True):
        assert len(decision.tool_calls) == 1
        call = decision.tool_calls[0]
        assert call.function.name == "interact_many"
        actions = json.loads(call.function.arguments)["actions"]
        assert 1 <= len(actions) <= 3
        assert all(a in spec.action_names for a in actions)
        parsed = parse_tool_calls(decision.tool_calls, spec.max_actions_per_call)
        assert not parsed.invalid
        assert not outcome.invalid
        assert decision.reply is not None and decision.reply.tool_calls == decision.tool_calls
        assert isinstance(decision.reply.content, str) and decision.reply.content.strip()
        roles = [m.role for m in decision.prompt]
        assert roles == ["system", "user"]


def test_refuses_observations_without_the_player_view() -> None:
    from vlmforge_crafter.teacher.policy import visible

    with pytest.raises(PolicyError, match="view"):
        visible({"position": [1, 1], "facing": [0, 1], "inventory": {}})


def test_registered_with_validated_settings() -> None:
    registry = get_registry()
    spec = registry.get("policy", "scripted")
    policy = spec.create({"actions_per_call": 4, "seed_offset": 7})
    assert policy.describe()["actions_per_call"] == 4
    with pytest.raises(ConfigError, match="bogus"):
        spec.create({"bogus": 1})
