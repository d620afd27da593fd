"""The crafter-probes environment: what it asks and how it scores an answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmforge.errors import VlmforgeError
from vlmforge.trace import FunctionCall, ToolCall
from vlmforge_crafter.probes.catalog import ALL_ANSWERS
from vlmforge_crafter.probes.config import ProbesConfig
from vlmforge_crafter.probes.env import ProbeEnvironment, parse_answer


def _call(name: str, arguments: str, i: int = 0) -> ToolCall:
    return ToolCall(id=f"c{i}", function=FunctionCall(name=name, arguments=arguments))


def _answer(value: str) -> list[ToolCall]:
    return [_call("answer", json.dumps({"answer": value}))]


@pytest.fixture(scope="module")
def env(source_db: Path) -> ProbeEnvironment:
    cfg = {"trace_db": str(source_db), "frames": 3, "types": ["daylight", "cow_count"]}
    return ProbeEnvironment(ProbesConfig.model_validate(cfg))


def test_spec_offers_one_enum_tool(env: ProbeEnvironment) -> None:
    from vlmforge.decisions import action_tools

    spec = env.spec()
    (tool,) = action_tools(spec.tools)
    assert tool.name == "answer" and tool.actions == ALL_ANSWERS and not tool.many
    assert spec.name == "crafter-probes"


def test_observation_is_the_frame_and_the_question_only(env: ProbeEnvironment) -> None:
    probe = env.probes[0]
    obs = env.start(0).reset()
    assert obs.text == probe.type.prompt()
    assert [i.sha256 for i in obs.images] == [probe.frame.image_sha256]
    assert obs.images[0].width == obs.images[0].height == 64
    assert "answer" not in obs.ground_truth["probe"]  # the expected answer is not shown


def test_image_and_text_prefixes_the_text_observation(source_db: Path) -> None:
    cfg = {"trace_db": str(source_db), "frames": 2, "types": ["food"],
           "observation": "image+text"}  # fmt: skip
    env = ProbeEnvironment(ProbesConfig.model_validate(cfg))
    obs = env.start(1).reset()
    assert obs.text is not None and obs.text.startswith(env.probes[1].frame.text or "?")
    assert obs.text.endswith(env.probes[1].type.prompt())


def test_scoring(env: ProbeEnvironment) -> None:
    probe = env.probes[0]
    right = env.start(0)
    right.reset()
    out = right.step(_answer(probe.answer))
    assert (out.reward, out.done, out.invalid) == (1.0, True, [])
    assert out.info["correct"] is True and out.info["answer"] == probe.answer
    with pytest.raises(VlmforgeError, match="answered already"):
        right.step(_answer(probe.answer))
    wrong_answer = next(a for a in probe.type.answers if a != probe.answer)
    wrong = env.start(0)
    wrong.reset()
    out = wrong.step(_answer(wrong_answer))
    assert out.reward == 0.0 and out.info["given"] == wrong_answer and not out.info["correct"]
    with pytest.raises(VlmforgeError, match="has 6 probes"):
        env.start(6)


@pytest.mark.parametrize(
    ("calls", "kind"),
    [
        ([], "no_tool_call"),
        ([_call("interact", '{"action": "noop"}')], "unknown_tool"),
        ([_call("answer", "{not json")], "malformed_arguments"),
        ([_call("answer", '{"answer": 3}')], "malformed_arguments"),
        ([_call("answer", '{"answer": "purple"}')], "unknown_action"),
    ],
)
def test_invalid_answers_are_recorded_not_guessed(calls: list[ToolCall], kind: str) -> None:
    given, invalid = parse_answer(calls)
    assert invalid[0].kind == kind
    assert given in (None, "purple")


def test_extra_calls_are_flagged() -> None:
    given, invalid = parse_answer([*_answer("day"), _call("answer", '{"answer": "night"}', 1)])
    assert given == "day" and [i.kind for i in invalid] == ["extra_tool_calls"]
