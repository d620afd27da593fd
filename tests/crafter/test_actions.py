"""Tool calls: valid ones execute exactly; invalid ones are recorded, never guessed at."""

from __future__ import annotations

import pytest

from tests.crafter.helpers import call, make_env, many, one

INVALID_CASES = [
    ("no_tool_call", [], "no tool call"),
    ("unknown_tool", [call("jump", {"action": "do"})], "unknown tool 'jump'"),
    ("malformed_arguments", [call("interact_many", "{not json")], "not valid JSON"),
    ("malformed_arguments", [call("interact_many", "")], "exactly the key 'actions'"),
    ("malformed_arguments", [call("interact_many", ["do"])], "exactly the key 'actions'"),
    ("malformed_arguments", [call("interact_many", {"actions": "do"})], "list of action-name"),
    ("malformed_arguments", [call("interact_many", {"actions": [1]})], "list of action-name"),
    ("malformed_arguments", [call("interact", {"actions": ["do"]})], "exactly the key 'action'"),
    ("malformed_arguments", [call("interact", {"action": "do", "x": 1})], "exactly the key"),
    ("malformed_arguments", [call("interact", {"action": ["do"]})], "must be a string"),
    ("unknown_action", many("move_left", "jump"), "unknown action 'jump'"),
    ("unknown_action", one("Do"), "unknown action 'Do'"),  # case matters: no guessing
    ("too_many_actions", many(*["noop"] * 9), "9 actions given; at most 8"),
    ("empty_actions", many(), "'actions' is empty"),
]


@pytest.fixture(scope="module")
def env():
    return make_env()


@pytest.mark.parametrize(("kind", "calls", "detail"), INVALID_CASES)
def test_invalid_decision_is_rejected_whole_and_fed_back(env, kind, calls, detail):
    episode = env.start(3)
    first = episode.reset()
    assert first.feedback is None
    out = episode.step(calls)
    assert [i.kind for i in out.invalid] == [kind]
    assert detail in out.invalid[0].detail
    if calls:
        assert out.invalid[0].tool_call_id == "call_1"
    # nothing of the decision ran: the fallback ran once instead
    assert out.actions == ["noop"]
    assert out.info["env_steps"] == 1 and out.info["fallback"] is True
    feedback = out.observation.feedback
    assert feedback is not None
    assert feedback.startswith("Your last tool call was invalid: ")
    assert detail in feedback and f"[{kind}]" in feedback
    assert "fallback action 'noop'" in feedback and "move_left" in feedback
    # the next valid decision clears the feedback
    assert episode.step(one("noop")).observation.feedback is None


def test_partially_valid_list_executes_nothing():
    episode = make_env().start(3)
    start = episode.reset().ground_truth["position"]
    out = episode.step(many("move_left", "move_left", "teleport"))
    assert out.actions == ["noop"]
    assert out.observation.ground_truth["position"] == start


def test_configured_fallback_is_applied():
    episode = make_env(fallback_action="move_left").start(3)
    episode.reset()
    out = episode.step([call("interact", "oops")])
    assert out.actions == ["move_left"]
    assert out.observation.ground_truth["facing"] == [-1, 0]
    assert "fallback action 'move_left'" in (out.observation.feedback or "")


def test_extra_tool_calls_first_executed_others_recorded():
    episode = make_env().start(3)
    episode.reset()
    calls = [
        call("interact", {"action": "move_up"}, "a"),
        call("interact", {"action": "move_down"}, "b"),
        call("nonsense", "{", "c"),
    ]
    out = episode.step(calls)
    assert out.actions == ["move_up"]
    assert [(i.kind, i.tool_call_id) for i in out.invalid] == [
        ("extra_tool_calls", "b"),
        ("extra_tool_calls", "c"),
    ]
    assert out.info["fallback"] is False
    feedback = out.observation.feedback or ""
    assert feedback.startswith("Note about your last reply:")
    assert "one tool call per reply" in feedback


def test_invalid_first_call_with_extras_uses_fallback():
    episode = make_env().start(3)
    episode.reset()
    out = episode.step([call("jump", "{}", "a"), call("interact", {"action": "do"}, "b")])
    assert out.actions == ["noop"]
    assert [i.kind for i in out.invalid] == ["unknown_tool", "extra_tool_calls"]


def test_max_actions_per_call_is_the_limit():
    episode = make_env(max_actions_per_call=3).start(3)
    episode.reset()
    assert episode.step(many("noop", "noop", "noop")).actions == ["noop"] * 3
    out = episode.step(many("noop", "noop", "noop", "noop"))
    assert [i.kind for i in out.invalid] == ["too_many_actions"]
    assert "at most 3" in out.invalid[0].detail


def test_valid_calls_execute_in_order():
    episode = make_env().start(3)
    episode.reset()
    out = episode.step(many("move_left", "move_up", "noop", "move_right"))
    assert out.actions == ["move_left", "move_up", "noop", "move_right"]
    assert out.invalid == [] and out.observation.feedback is None
    assert out.info["env_steps"] == 4
    assert out.observation.ground_truth["facing"] == [1, 0]
    assert episode.step(one("move_down")).observation.ground_truth["facing"] == [0, 1]
