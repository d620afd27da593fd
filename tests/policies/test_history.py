"""PromptHistory (core prompting): last K tool calls as text, or last K full turns."""

from __future__ import annotations

import pytest

from tests.policies.conftest import make_spec, observation
from vlmforge.prompting import PromptHistory, to_openai
from vlmforge.trace import FunctionCall, ImagePart, Message, ToolCall


def call(i: int, action: str = "noop") -> ToolCall:
    return ToolCall(
        id=f"call_{i}",
        function=FunctionCall(name="interact", arguments=f'{{"action": "{action}"}}'),
    )


def play(history: PromptHistory, steps: int, *, feedback: dict[int, str] | None = None):
    """Build/record ``steps`` decisions; returns the prompts built."""
    spec = make_spec()
    prompts = []
    for i in range(steps):
        obs = observation(i, feedback=(feedback or {}).get(i))
        prompt = history.build(spec, obs)
        # every image the prompt references resolves for the wire format (before recording)
        wire = to_openai(prompt, history.images(obs))
        prompts.append((prompt, wire))
        if i % 3 == 2:  # every third reply is text without a call
            reply = Message(role="assistant", content="I am thinking")
            calls: list[ToolCall] = []
        else:
            calls = [call(i, f"a{i}")]
            reply = Message(role="assistant", content=None, tool_calls=calls)
        history.record(prompt[-1], reply, calls, obs.images)
    return prompts


def test_tool_calls_mode_puts_the_last_k_calls_first_in_the_user_turn() -> None:
    history = PromptHistory("tool_calls", k=2)
    prompts = play(history, 5)
    first, _ = prompts[0]
    assert [m.role for m in first] == ["system", "user"]
    assert "Recent actions" not in first[-1].text()
    last, _ = prompts[4]
    assert [m.role for m in last] == ["system", "user"]
    preface = last[-1].content[0].text
    assert preface.splitlines() == [
        "Recent actions (oldest first):",
        "- step 3: (no valid tool call)",
        '- step 4: interact({"action": "a3"})',
    ]
    # no old frames: only the current observation's image
    assert last[-1].image_hashes() == [img.sha256 for img in observation(4).images]


def test_turns_mode_replays_full_turns_with_frames_and_tool_results() -> None:
    history = PromptHistory("turns", k=2)
    prompts = play(history, 4, feedback={3: "unknown action 'a1'"})
    prompt, wire = prompts[3]
    roles = [m.role for m in prompt]
    # turn 2 (tool call) + tool result, turn 3 (text reply), then the current user turn
    assert roles == ["system", "user", "assistant", "tool", "user", "assistant", "user"]
    assert prompt[1].image_hashes() == [img.sha256 for img in observation(1).images]
    assert prompt[3].tool_call_id == "call_1"
    assert prompt[5].content == "I am thinking"
    urls = [p for m in wire if isinstance(m["content"], list) for p in m["content"]]
    assert sum(p["type"] == "image_url" for p in urls) == 3


def test_turns_mode_tool_result_is_the_next_observations_feedback() -> None:
    history = PromptHistory("turns", k=3)
    prompts = play(history, 3, feedback={1: "unknown action 'a0'"})
    prompt, _ = prompts[2]
    tools = [m for m in prompt if m.role == "tool"]
    assert [t.content for t in tools] == ["unknown action 'a0'", "ok"]


def test_turns_mode_skips_empty_replies_and_keeps_only_k() -> None:
    history = PromptHistory("turns", k=1)
    spec = make_spec()
    obs0, obs1 = observation(0), observation(1)
    p0 = history.build(spec, obs0)
    history.record(p0[-1], Message(role="assistant", content=None), [], obs0.images)
    p1 = history.build(spec, obs1)
    assert [m.role for m in p1] == ["system", "user", "user"]
    history.record(p1[-1], None, [], obs1.images)
    assert [t.number for t in history.turns] == [2]
    assert set(history.images()) == {img.sha256 for img in obs1.images}


def test_frames_of_a_text_only_prompt_are_not_kept() -> None:
    history = PromptHistory("turns", k=3)
    spec = make_spec()
    obs = observation(0)
    prompt = history.build(spec, obs, use_vision=False)
    assert not any(isinstance(p, ImagePart) for p in prompt[-1].content)
    history.record(prompt[-1], None, [], obs.images)
    assert history.images() == {}


@pytest.mark.parametrize("mode,k", [("none", 3), ("tool_calls", 0), ("turns", 0)])
def test_no_history(mode: str, k: int) -> None:
    history = PromptHistory(mode, k=k)  # type: ignore[arg-type]
    prompts = play(history, 3)
    prompt, _ = prompts[2]
    assert [m.role for m in prompt] == ["system", "user"]
    assert "Recent actions" not in prompt[-1].text()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="history mode"):
        PromptHistory("all")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must be"):
        PromptHistory("turns", k=-1)
