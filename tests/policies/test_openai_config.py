"""Every openai policy config key is honoured (observable in the request or the record)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.policies.conftest import KEY_ENV, SECRET, make_spec, observation
from tests.policies.test_openai_policy import ACTIONS, failure, make_policy, one, run_episode
from vlmforge.components import FatalPolicyError
from vlmforge.errors import ConfigError
from vlmforge.testing.openai_server import Reply
from vlmforge_openai.config import OpenAIPolicyConfig, QuirksOverride

# key -> the test(s) below that prove it is honoured; a new key without a test fails the suite.
COVERED = {
    "model": "test_sampling_and_budget_fields_are_sent_and_recorded",
    "base_url": "test_base_url_must_be_http",
    "api_key_env": "test_missing_key_variable_is_a_clear_error",
    "provider": "test_provider_label",
    "temperature": "test_sampling_and_budget_fields_are_sent_and_recorded",
    "top_p": "test_sampling_and_budget_fields_are_sent_and_recorded",
    "max_tokens": "test_sampling_and_budget_fields_are_sent_and_recorded",
    "seed": "test_sampling_and_budget_fields_are_sent_and_recorded",
    "tool_choice": "test_tool_choice_by_name",
    "parallel_tool_calls": "test_parallel_tool_calls",
    "reasoning_effort": "test_reasoning_model_fields",
    "timeout": "tests/policies/test_openai_policy.py::test_timeout_is_retried",
    "http_client": "test_http_client_selects_the_stack (+ every policy test runs on both)",
    "max_retries": "test_max_retries_zero",
    "retry_backoff_s": "tests/policies/test_openai_policy.py::test_5xx_backs_off_exponentially",
    "retry_backoff_max_s": "test_backoff_cap",
    "retry_after_max_s": "tests/policies/test_openai_policy.py::test_retry_after_beyond_the_limit",
    "extra_body": "test_extra_body",
    "use_vision": "test_use_vision",
    "image_detail": "test_image_detail",
    "system_prompt": "test_system_prompt_override",
    "system_prompt_file": "test_system_prompt_file",
    "history": "test_history_modes_reach_the_request",
    "history_k": "test_history_modes_reach_the_request",
    "parse_text_tool_calls": "test_text_parsing_can_be_switched_off",
    "quirks": "test_quirks_override",
}


def test_every_key_has_a_test() -> None:
    assert set(OpenAIPolicyConfig.model_fields) == set(COVERED)
    assert set(QuirksOverride.model_fields) == {
        "max_tokens_param",
        "sampling",
        "reasoning",
        "default_max_tokens",
        "parallel_tool_calls",
    }


def request_of(srv: Any) -> dict[str, Any]:
    (request,) = srv.chat_requests
    return request.json


def test_sampling_and_budget_fields_are_sent_and_recorded(openai_server, policy_config) -> None:
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})])
    config = policy_config(
        srv, model="my-model", temperature=0.3, top_p=0.9, max_tokens=77, seed=1234
    )
    decision = one(make_policy(config))
    sent = request_of(srv)
    expected = {
        "model": "my-model",
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 77,
        "seed": 1234,
    }
    assert {k: sent[k] for k in expected} == expected
    assert {k: decision.lm_call.params[k] for k in expected} == expected


def test_unset_sampling_fields_are_not_sent(openai_server, policy_config) -> None:
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})])
    one(make_policy(policy_config(srv, parallel_tool_calls=None)))
    sent = request_of(srv)
    for key in ("temperature", "top_p", "seed", "reasoning_effort", "parallel_tool_calls"):
        assert key not in sent


def test_reasoning_model_fields(openai_server, policy_config) -> None:
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})])
    one(make_policy(policy_config(srv, model="o4-mini", reasoning_effort="low", max_tokens=500)))
    sent = request_of(srv)
    assert sent["reasoning_effort"] == "low"
    assert sent["max_completion_tokens"] == 500 and "max_tokens" not in sent


@pytest.mark.parametrize("key,value", [("temperature", 0.2), ("top_p", 0.5)])
def test_non_default_sampling_on_gpt5_is_a_config_error(api_key, key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"does not accept a non-default {key}"):
        make_policy({"model": "gpt-5", "api_key_env": KEY_ENV, key: value})
    make_policy({"model": "gpt-5", "api_key_env": KEY_ENV, key: 1.0})  # the default is fine


def test_tool_choice_by_name(openai_server, policy_config) -> None:
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})])
    one(make_policy(policy_config(srv, tool_choice="interact")))
    assert request_of(srv)["tool_choice"] == {"type": "function", "function": {"name": "interact"}}
    srv2 = openai_server([Reply.tool_call("interact", {"action": "do"})])
    one(make_policy(policy_config(srv2, tool_choice="required")))
    assert request_of(srv2)["tool_choice"] == "required"
    policy = make_policy(policy_config(srv2, tool_choice="teleport"))
    with pytest.raises(FatalPolicyError, match="'teleport' is not a tool"):
        asyncio.run(policy.start_episode(make_spec(), 0))


def test_no_tools_means_no_tool_fields(openai_server, policy_config) -> None:
    srv = openai_server([Reply.text("ok")])
    policy = make_policy(policy_config(srv))
    run_episode(policy, 1, spec=make_spec(tools=[]))
    sent = request_of(srv)
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & sent.keys()


def test_parallel_tool_calls(openai_server, policy_config) -> None:
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})] * 3)
    one(make_policy(policy_config(srv, parallel_tool_calls=True)))
    one(make_policy(policy_config(srv, parallel_tool_calls=False)))
    one(make_policy(policy_config(srv, model="o3-mini")))  # the model does not take the field
    sent = [r.json for r in srv.chat_requests]
    assert sent[0]["parallel_tool_calls"] is True
    assert sent[1]["parallel_tool_calls"] is False
    assert "parallel_tool_calls" not in sent[2]


def test_max_retries_zero(openai_server, policy_config) -> None:
    srv = openai_server([Reply.server_error(500), Reply.text("never")])
    err = failure(make_policy(policy_config(srv, max_retries=0)))
    assert len(srv.chat_requests) == 1 and "gave up after 1 attempt)" in str(err)


def test_backoff_cap() -> None:
    import random

    from vlmforge_openai.retry import RetrySettings, backoff_delay

    settings = RetrySettings(backoff_s=1.0, backoff_max_s=3.0)
    rng = random.Random(0)
    delays = [backoff_delay(n, settings, rng) for n in range(8)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0
    assert all(1.5 <= d <= 3.0 for d in delays[2:])  # capped at 3 s, jittered down to 50%


def test_extra_body(openai_server, policy_config) -> None:
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})])
    extra = {"top_k": 20, "chat_template_kwargs": {"enable_thinking": False}}
    decision = one(make_policy(policy_config(srv, extra_body=extra)))
    sent = request_of(srv)
    assert sent["top_k"] == 20 and sent["chat_template_kwargs"] == {"enable_thinking": False}
    assert decision.lm_call.params["extra_body"] == extra
    with pytest.raises(ConfigError, match="extra_body may not set messages, model"):
        make_policy(policy_config(srv, extra_body={"model": "x", "messages": []}))


def test_use_vision(openai_server, policy_config) -> None:
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})] * 3)

    def parts(**keys: Any) -> list[str]:
        decision = one(make_policy(policy_config(srv, **keys)))
        sent = srv.chat_requests[-1].json["messages"][-1]["content"]
        assert len(decision.prompt[-1].image_hashes()) == sum(
            p["type"] == "image_url" for p in sent
        )
        return [p["type"] for p in sent]

    assert parts(model="gpt-4o") == ["text", "image_url"]  # from the name table
    assert parts(model="gpt-4o", use_vision=False) == ["text"]  # config wins
    assert parts(model="my-finetune", use_vision=True) == ["text", "image_url"]


def test_text_only_model_gets_text_only(openai_server, policy_config) -> None:
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})])
    policy = make_policy(policy_config(srv, model="Qwen/Qwen2.5-7B-Instruct"))
    decision = one(policy, images=2)
    assert decision.prompt[-1].image_hashes() == []
    assert "image_url" not in srv.chat_requests[0].body.decode()
    assert policy.describe()["resolved"]["use_vision"] is False


def test_image_detail(openai_server, policy_config) -> None:
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})])
    decision = one(make_policy(policy_config(srv, image_detail="low")))
    image = request_of(srv)["messages"][-1]["content"][-1]
    assert image["image_url"]["detail"] == "low"
    assert decision.prompt[-1].content[-1].detail == "low"


def test_system_prompt_override(openai_server, policy_config) -> None:
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})])
    one(make_policy(policy_config(srv, system_prompt="Be brief.")))
    assert request_of(srv)["messages"][0] == {"role": "system", "content": "Be brief."}


def test_system_prompt_file(openai_server, policy_config, tmp_path: Path) -> None:
    path = tmp_path / "prompt.txt"
    path.write_text("From a file.\n", encoding="utf-8")
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})])
    policy = make_policy(policy_config(srv, system_prompt_file=str(path)))
    one(policy)
    assert request_of(srv)["messages"][0]["content"] == "From a file.\n"
    assert policy.describe()["resolved"]["system_prompt"] == "From a file.\n"
    with pytest.raises(ConfigError, match="not both"):
        make_policy(policy_config(srv, system_prompt="x", system_prompt_file=str(path)))
    with pytest.raises(ConfigError, match=r"cannot read '.*missing\.txt'"):
        make_policy(policy_config(srv, system_prompt_file=str(tmp_path / "missing.txt")))
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(ConfigError, match="is empty"):
        make_policy(policy_config(srv, system_prompt_file=str(tmp_path / "empty.txt")))


def test_history_modes_reach_the_request(openai_server, policy_config) -> None:
    def roles_and_preface(**keys: Any) -> tuple[list[str], str]:
        srv = openai_server([Reply.tool_call("interact_many", ACTIONS)] * 3)
        run_episode(make_policy(policy_config(srv, **keys)), 3)
        last = srv.chat_requests[-1].json["messages"]
        return [m["role"] for m in last], last[-1]["content"][0]["text"]

    roles, preface = roles_and_preface()  # default: last 3 tool calls as text
    assert roles == ["system", "user"] and preface.count("- step") == 2
    assert 'interact_many({"actions": ["move_left", "do"]})' in preface
    roles, preface = roles_and_preface(history_k=1)
    assert preface.count("- step") == 1
    roles, preface = roles_and_preface(history="turns", history_k=1)
    assert roles == ["system", "user", "assistant", "tool", "user"]
    roles, preface = roles_and_preface(history="none")
    assert roles == ["system", "user"] and preface.startswith("step 2")


def test_text_parsing_can_be_switched_off(openai_server, policy_config) -> None:
    srv = openai_server([Reply.qwen_tool_call("interact", {"action": "do"})])
    decision = one(make_policy(policy_config(srv, parse_text_tool_calls=False)))
    assert decision.tool_calls == [] and not decision.parsed_from_text
    assert "parse_text_tool_calls is off" in decision.error


def test_quirks_override(openai_server, policy_config) -> None:
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})] * 2)
    policy = make_policy(
        policy_config(
            srv,
            model="my-reasoner",
            quirks={"max_tokens_param": "max_completion_tokens", "default_max_tokens": 333},
        )
    )
    one(policy)
    assert srv.chat_requests[0].json["max_completion_tokens"] == 333
    assert policy.describe()["resolved"]["quirks"]["max_tokens_param"] == "max_completion_tokens"
    # sampling=true lets a non-default temperature through for a model the table restricts
    one(make_policy(policy_config(srv, model="gpt-5", temperature=0.5, quirks={"sampling": True})))
    assert srv.chat_requests[1].json["temperature"] == 0.5
    with pytest.raises(ConfigError, match=r"unknown key 'quirks\.samplng'"):
        make_policy(policy_config(srv, quirks={"samplng": True}))


def test_provider_label(openai_server, policy_config) -> None:
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})])
    decision = one(make_policy(policy_config(srv, provider="vllm-box")))
    assert decision.lm_call.provider == "vllm-box"


def test_default_provider_for_openai(api_key) -> None:
    policy = make_policy({"api_key_env": KEY_ENV})
    assert policy.base_url == "https://api.openai.com/v1" and policy.provider == "openai"


def test_base_url_must_be_http(api_key) -> None:
    with pytest.raises(ConfigError, match="base_url must start with http"):
        make_policy({"api_key_env": KEY_ENV, "base_url": "localhost:8000/v1"})


def test_missing_key_variable_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.delenv("MY_MISSING_KEY", raising=False)
    with pytest.raises(ConfigError) as info:
        make_policy({"api_key_env": "MY_MISSING_KEY"})
    assert "MY_MISSING_KEY is not set" in str(info.value) and "--env-file" in str(info.value)
    monkeypatch.setenv("MY_MISSING_KEY", "   ")
    with pytest.raises(ConfigError, match="MY_MISSING_KEY is empty"):
        make_policy({"api_key_env": "MY_MISSING_KEY"})


def test_empty_api_key_env_sends_no_real_key(openai_server, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)  # must not be picked up behind our back
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})])
    one(make_policy({"base_url": srv.base_url, "api_key_env": ""}))
    assert srv.chat_requests[0].bearer == "EMPTY"


def test_unknown_key_is_an_error_with_a_suggestion(api_key) -> None:
    with pytest.raises(ConfigError) as info:
        make_policy({"api_key_env": KEY_ENV, "temprature": 0.1})
    assert "unknown key 'temprature'" in str(info.value)
    assert "Did you mean 'temperature'?" in str(info.value)


def test_bad_values_name_the_key(api_key) -> None:
    with pytest.raises(ConfigError, match="history"):
        make_policy({"api_key_env": KEY_ENV, "history": "everything"})
    with pytest.raises(ConfigError, match="temperature"):
        make_policy({"api_key_env": KEY_ENV, "temperature": 5})


def test_describe_has_settings_and_resolution_but_no_secret(api_key) -> None:
    policy = make_policy({"api_key_env": KEY_ENV, "model": "gpt-5-mini"})
    described = policy.describe()
    assert described["model"] == "gpt-5-mini" and described["api_key_env"] == KEY_ENV
    resolved = described["resolved"]
    assert resolved["max_tokens"] == 8192 and resolved["use_vision"] is True
    assert SECRET not in json.dumps(described)
    assert policy.model_name() == "gpt-5-mini"


def test_frames_of_earlier_turns_are_sent_in_turns_mode(openai_server, policy_config) -> None:
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})] * 2)
    decisions = run_episode(make_policy(policy_config(srv, history="turns")), 2)
    sent = srv.chat_requests[1].json["messages"]
    urls = [
        p["image_url"]["url"]
        for m in sent
        if isinstance(m["content"], list)
        for p in m["content"]
        if p["type"] == "image_url"
    ]
    assert urls == [observation(0).images[0].data_url(), observation(1).images[0].data_url()]
    assert len([h for m in decisions[1].prompt for h in m.image_hashes()]) == 2


def test_http_client_selects_the_stack(openai_server, api_key) -> None:
    """direct (default): aiohttp without the official client; aiohttp / httpx: the official
    client over openai's aiohttp transport or its default httpx one. Every test using
    ``policy_config`` runs on all three and checks what each records."""
    import openai

    from vlmforge_openai.transport import DirectTransport, OfficialTransport

    srv = openai_server([])

    def transport(**keys: str) -> object:
        policy = make_policy({"base_url": srv.base_url, "api_key_env": KEY_ENV, **keys})

        async def build() -> object:
            made = policy.transport()
            assert policy.transport() is made  # one per event loop
            await policy.aclose()
            return made

        return asyncio.run(build())

    assert isinstance(transport(), DirectTransport)
    official = transport(http_client="aiohttp")
    assert isinstance(official, OfficialTransport)
    assert isinstance(official.client._client, openai.DefaultAioHttpClient)
    plain = transport(http_client="httpx")
    assert isinstance(plain, OfficialTransport)
    assert not isinstance(plain.client._client, openai.DefaultAioHttpClient)
    with pytest.raises(ConfigError, match="http_client"):
        make_policy({"base_url": srv.base_url, "api_key_env": KEY_ENV, "http_client": "curl"})
