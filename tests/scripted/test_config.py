"""The scripted policy's settings: every key honoured, unknown keys rejected, example loads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from vlmforge.config import load_toml, validate
from vlmforge.errors import ConfigError
from vlmforge_crafter.teacher.policy import ScriptedPolicyConfig

from .helpers import play

EXAMPLE = Path(__file__).parents[2] / "configs" / "policy_scripted.toml"


def test_example_config_loads() -> None:
    source = load_toml(EXAMPLE)
    table = dict(source.data["policy"])
    assert table.pop("name") == "scripted"
    config = validate(ScriptedPolicyConfig, table, str(EXAMPLE), toml=source, prefix=("policy",))
    assert config == ScriptedPolicyConfig()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"actions_per_cal": 2}, "unknown key 'actions_per_cal'"),
        ({"actions_per_call": 0}, "greater than or equal to 1"),
        ({"rationale": "maybe"}, "rationale"),
    ],
)
def test_bad_settings_are_errors(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate(ScriptedPolicyConfig, settings, "policy")


def test_settings_are_honoured() -> None:
    result = play(
        0, 40, policy_config={"actions_per_call": 2, "rationale": False, "use_vision": False}
    )
    for decision in result["decisions"]:
        assert len(decision.tool_calls) == 1
        assert decision.reply.content is None
        assert not any(m.image_hashes() for m in decision.prompt)
    assert max(len(o.actions) for o in result["outcomes"]) == 2
    with_vision = play(0, 16, env_config={"observation": "text+image"})
    assert any(m.image_hashes() for m in with_vision["decisions"][0].prompt)


def test_seed_offset_shifts_the_agents_rng() -> None:
    from vlmforge_crafter.env import CrafterEnvironment
    from vlmforge_crafter.teacher.policy import ScriptedPolicy

    spec = CrafterEnvironment().spec()

    def draws(seed: int, offset: int) -> list[float]:
        policy = ScriptedPolicy(ScriptedPolicyConfig(seed_offset=offset))
        episode = asyncio.run(policy.start_episode(spec, seed))
        return [episode.planner.agent.rng.random() for _ in range(3)]

    assert draws(0, 5) == draws(5, 0)
    assert draws(0, 5) != draws(0, 0)
