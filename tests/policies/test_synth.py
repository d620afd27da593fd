"""The synth preset: Synth defaults on top of the openai policy."""

from __future__ import annotations

import json

import pytest

from tests.policies.conftest import SECRET, assert_no_secret
from tests.policies.test_openai_policy import make_policy, one
from vlmforge.errors import ConfigError
from vlmforge.testing.openai_server import Reply
from vlmforge_openai.policy import OpenAIPolicy
from vlmforge_openai.synth import SYNTH_DEFAULT_BASE_URL, SYNTH_MODELS, SynthPolicy


@pytest.fixture
def synth_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SYNTH_API_KEY", SECRET)
    monkeypatch.delenv("SYNTH_BASE_URL", raising=False)
    return SECRET


def test_defaults(synth_key) -> None:
    policy = make_policy({}, "synth")
    assert isinstance(policy, SynthPolicy) and isinstance(policy, OpenAIPolicy)
    assert policy.config.model == "Qwen/Qwen3-VL-8B-Instruct"
    assert policy.base_url == SYNTH_DEFAULT_BASE_URL and policy.provider == "synth"
    assert policy.use_vision is True and policy.config.parse_text_tool_calls is True
    assert policy.describe()["api_key_env"] == "SYNTH_API_KEY"
    assert_no_secret(policy.describe())


def test_base_url_from_environment_then_config(synth_key, monkeypatch) -> None:
    monkeypatch.setenv("SYNTH_BASE_URL", "http://synth.internal:9000/v1/")
    assert make_policy({}, "synth").base_url == "http://synth.internal:9000/v1"
    configured = make_policy({"base_url": "https://other.example/v1"}, "synth")
    assert configured.base_url == "https://other.example/v1" and configured.provider == "synth"


def test_missing_synth_key(monkeypatch) -> None:
    monkeypatch.delenv("SYNTH_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="SYNTH_API_KEY is not set"):
        make_policy({}, "synth")


@pytest.mark.parametrize("model", SYNTH_MODELS)
def test_documented_models_are_vision_models(synth_key, model: str) -> None:
    assert make_policy({"model": model}, "synth").use_vision is True


def test_qwen_text_tool_calls_against_a_synth_like_server(openai_server, synth_key) -> None:
    srv = openai_server(
        [Reply.qwen_tool_call("interact_many", {"actions": ["do"]}, before="Tree.\n")],
        api_key=SECRET,
    )
    policy = make_policy(
        {"base_url": srv.base_url, "model": "Qwen/Qwen2-VL-7B-Instruct", "temperature": 0.2},
        "synth",
    )
    decision = one(policy)
    assert decision.parsed_from_text
    assert json.loads(decision.tool_calls[0].function.arguments) == {"actions": ["do"]}
    assert (
        decision.lm_call.provider == "synth"
        and decision.lm_call.model == "Qwen/Qwen2-VL-7B-Instruct"
    )
    sent = srv.chat_requests[0].json
    assert sent["model"] == "Qwen/Qwen2-VL-7B-Instruct" and sent["temperature"] == 0.2
    assert_no_secret(decision.lm_call, decision.reply, *decision.prompt)


def test_same_keys_as_openai() -> None:
    from vlmforge_openai.config import OpenAIPolicyConfig
    from vlmforge_openai.synth import SynthPolicyConfig

    assert set(SynthPolicyConfig.model_fields) == set(OpenAIPolicyConfig.model_fields)
