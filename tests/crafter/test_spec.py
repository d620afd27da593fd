"""The registered environment and what it tells policies (tools, prompt, names)."""

from __future__ import annotations

import crafter

from tests.crafter.helpers import make_env
from vlmforge import plugins


def test_registered_from_the_bundled_plugin():
    spec = plugins.get_registry().get("environment", "crafter")
    assert spec.plugin == "crafter"
    assert spec.available


def test_spec_lists_tools_actions_and_achievements():
    spec = make_env(max_actions_per_call=5, max_steps=300, fallback_action="sleep").spec()
    assert spec.name == "crafter"
    assert spec.action_names == list(crafter.constants.actions)
    assert len(spec.action_names) == 17
    assert spec.achievements == list(crafter.constants.achievements)
    assert len(spec.achievements) == 22
    assert (spec.max_actions_per_call, spec.max_steps, spec.fallback_action) == (5, 300, "sleep")
    tools = {t["function"]["name"]: t["function"]["parameters"] for t in spec.tools}
    assert set(tools) == {"interact_many", "interact"}
    actions = tools["interact_many"]["properties"]["actions"]
    assert actions["items"]["enum"] == spec.action_names
    assert (actions["minItems"], actions["maxItems"]) == (1, 5)
    assert tools["interact"]["properties"]["action"]["enum"] == spec.action_names
    assert all(t["type"] == "function" for t in spec.tools)


def test_system_prompt_explains_game_tools_and_tech_tree():
    prompt = make_env(max_actions_per_call=3, fallback_action="noop").spec().system_prompt
    for needle in (
        "interact_many",
        "interact(action)",
        "1 to 3 action names",
        "place_table: uses 2 wood",  # generated from crafter's own data.yaml
        "make_iron_pickaxe: uses 1 wood + 1 coal + 1 iron",
        "collect_diamond",
        '"noop"',
    ):
        assert needle in prompt, needle
    for name in crafter.constants.actions:
        assert name in prompt


def test_prompt_follows_observation_mode():
    image_only = make_env(observation="image_only").spec().system_prompt
    assert "text description" not in image_only and "The frame shows the 9x7 tiles" in image_only
    text_only = make_env(observation="text_only").spec().system_prompt
    assert "frame" not in text_only and "9x7 map of tile names" in text_only
    history = make_env(frame_history=2).spec().system_prompt
    assert "Up to 2 earlier frames come first (oldest first)" in history


def test_config_dict_records_every_setting():
    env = make_env(image_size=128, area=[32, 48])
    data = env.config_dict()
    assert data["image_size"] == 128
    assert data["area"] == [32, 48]
    assert set(data) == set(type(env.config).model_fields)
