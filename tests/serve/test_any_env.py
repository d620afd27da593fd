"""``vlmforge serve`` serves any registered environment: here an in-house one from --plugins-dir."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import Server
from vlmforge.plugins import get_registry
from vlmforge.trace import FunctionCall, ToolCall
from vlmforge_serve.client import RemoteEnvError

PLUGIN = '''
"""An in-house counting game: say a number; reward 1 when it is the next one."""
import json

from vlmforge.components import EnvSpec, Observation, StepOutcome
from vlmforge.hookspecs import hookimpl
from vlmforge.trace import InvalidAction

TOOL = {"type": "function", "function": {"name": "say", "parameters": {
    "type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}}


class CountingEpisode:
    def __init__(self, seed):
        self.next = seed % 7

    def reset(self):
        return Observation(text=f"start at {self.next}", ground_truth={"next": self.next})

    def step(self, tool_calls):
        try:
            said = json.loads(tool_calls[0].function.arguments)["n"]
        except (IndexError, KeyError, ValueError):
            return StepOutcome(
                observation=Observation(text="say a number"), reward=0.0, actions=["noop"],
                invalid=[InvalidAction(kind="malformed_arguments", detail="need n")])
        if said < 0:
            raise ValueError("negative numbers crash this game")
        reward = 1.0 if said == self.next else 0.0
        self.next += 1
        done = self.next >= 10
        return StepOutcome(
            observation=Observation(text=f"next is {self.next}", ground_truth={"next": self.next}),
            reward=reward, actions=[f"say_{said}"], done=done,
            termination="reached_10" if done else None)

    def close(self):
        pass


class Counting:
    def spec(self):
        return EnvSpec(name="counting", tools=[TOOL], system_prompt="Count.",
                       action_names=[f"say_{i}" for i in range(10)])

    def start(self, seed):
        return CountingEpisode(seed)

    def config_dict(self):
        return {}


@hookimpl
def register_environments(register):
    register("counting", Counting, description="count to ten")
'''


def say(n: int) -> list[ToolCall]:
    return [ToolCall(id="c", function=FunctionCall(name="say", arguments=f'{{"n": {n}}}'))]


def test_serves_an_in_house_environment(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "counting.py").write_text(PLUGIN)
    server: Server = serve("--env", "counting", "--plugins-dir", str(plugins))
    info = httpx.get(f"{server.url}/info").json()
    assert info["env"] == "counting" and info["config_schema"] is None
    assert info["observation_modes"] == [] and info["tools"][0]["function"]["name"] == "say"

    env = get_registry().create("environment", "remote", {"env_urls": [server.url]})
    assert env.spec().action_names[-1] == "say_9"
    episode = env.start(3)
    first = episode.reset()
    assert first.text == "start at 3" and first.images == [] and first.ground_truth == {"next": 3}
    outcomes = [episode.step(say(n)) for n in (3, 4, 9)]
    assert [o.reward for o in outcomes] == [1.0, 1.0, 0.0]
    assert outcomes[-1].observation.text == "next is 6" and outcomes[-1].actions == ["say_9"]
    bad = episode.step([])
    assert bad.invalid[0].kind == "malformed_arguments"
    with pytest.raises(RemoteEnvError) as err:  # the environment itself raised: a 500
        episode.step(say(-1))
    assert "HTTP 500" in str(err.value)
    assert "environment step failed: ValueError: negative numbers crash" in str(err.value)
    episode.close()
    assert httpx.get(f"{server.url}/health").json()["active_episodes"] == 0  # still serving
    refused = httpx.post(f"{server.url}/episodes", json={"seed": 0, "config": {"x": 1}})
    assert refused.status_code == 422 and "takes no settings" in refused.json()["detail"]
