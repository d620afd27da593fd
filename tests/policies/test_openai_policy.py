"""The openai policy driven through the real `openai` client against the loopback server.

Each test scripts the server, runs the policy's episode API, and checks what was sent and what
was recorded: the exact prompt, the verbatim reply, every attempt, and never the API key.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from tests.policies.conftest import KEY_ENV, SECRET, TOOLS, assert_no_secret, make_spec, observation
from vlmforge.components import Decision, EnvSpec, FatalPolicyError, PolicyError
from vlmforge.plugins import get_registry
from vlmforge.prompting import to_openai
from vlmforge.testing.openai_server import Reply

ACTIONS = {"actions": ["move_left", "do"]}


def make_policy(config: dict[str, Any], name: str = "openai") -> Any:
    return get_registry().create("policy", name, config)


def run_episode(
    policy: Any, steps: int, spec: EnvSpec | None = None, **obs: Any
) -> list[Decision | PolicyError]:
    """``steps`` decisions of one episode; a PolicyError ends it and is returned last."""

    async def go() -> list[Decision | PolicyError]:
        episode = await policy.start_episode(spec or make_spec(), seed=7)
        out: list[Decision | PolicyError] = []
        try:
            for i in range(steps):
                try:
                    out.append(await episode.act(observation(i, **obs)))
                except PolicyError as err:
                    out.append(err)
                    break
        finally:
            await policy.aclose()
        return out

    return asyncio.run(go())


def one(policy: Any, **obs: Any) -> Decision:
    (decision,) = run_episode(policy, 1, **obs)
    assert isinstance(decision, Decision), decision
    return decision


def failure(policy: Any) -> PolicyError:
    (err,) = run_episode(policy, 1)
    assert isinstance(err, PolicyError), err
    return err


def test_native_tool_call_is_recorded_verbatim(openai_server, policy_config) -> None:
    srv = openai_server([Reply.tool_call("interact_many", ACTIONS, content="Going left.")])
    policy = make_policy(policy_config(srv))
    decision = one(policy)

    (call,) = decision.tool_calls
    assert call.id == "call_0" and call.function.name == "interact_many"
    assert json.loads(call.function.arguments) == ACTIONS
    assert not decision.parsed_from_text and decision.error is None
    assert decision.reply is not None
    assert decision.reply.content == "Going left." and decision.reply.tool_calls == [call]

    lm = decision.lm_call
    assert lm is not None
    assert lm.provider == f"127.0.0.1:{srv.port}" and lm.model == "gpt-4o"
    assert lm.finish_reason == "tool_calls" and lm.retries == 0 and lm.error is None
    assert [(a.attempt, a.status, a.error) for a in lm.attempts] == [(1, 200, None)]
    assert lm.latency_s >= lm.attempts[0].latency_s > 0
    (request,) = srv.chat_requests
    sent = request.json
    assert lm.usage.total_tokens == lm.usage.prompt_tokens + lm.usage.completion_tokens > 0
    assert lm.params == {
        "model": "gpt-4o",
        "max_tokens": 1024,
        "tool_choice": "auto",
        "parallel_tool_calls": False,
    }

    # what was sent: the recorded prompt, resolved, plus the tools and params
    frame = observation(0).images[0]
    assert sent["messages"] == to_openai(decision.prompt, {frame.sha256: frame})
    assert sent["tools"] == TOOLS
    assert {k: v for k, v in sent.items() if k not in ("messages", "tools")} == lm.params
    assert [m.role for m in decision.prompt] == ["system", "user"]
    assert decision.prompt[-1].image_hashes() == [frame.sha256]
    image_part = sent["messages"][1]["content"][-1]
    assert image_part["image_url"]["url"] == frame.data_url()
    # ground truth is never shown to the model
    assert "secret_position" not in request.body.decode()
    # the key went to the server, and nowhere into our records
    assert request.bearer == SECRET
    assert_no_secret(decision.lm_call, decision.reply, *decision.prompt, policy.describe())


def test_every_stack_sends_the_same_request(openai_server, policy_config, monkeypatch) -> None:
    """The body bytes and the headers a server acts on are the same on every ``http_client``
    stack, including the organization and project the official client reads from the env."""
    monkeypatch.setenv("OPENAI_ORG_ID", "org-test")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-test")
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})])
    decision = one(make_policy(policy_config(srv)))
    [request] = srv.chat_requests
    headers = request.headers
    assert request.method == "POST" and request.path == "/v1/chat/completions"
    assert headers["authorization"] == f"Bearer {SECRET}"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert headers["openai-organization"] == "org-test"
    assert headers["openai-project"] == "proj-test"
    # compact JSON, non-ASCII kept as UTF-8: the official client's encoding
    sent = json.loads(request.body)
    assert request.body == json.dumps(sent, ensure_ascii=False, separators=(",", ":")).encode()
    assert {k: v for k, v in sent.items() if k not in ("messages", "tools")} == (
        decision.lm_call.params
    )


@pytest.mark.parametrize("stack", ["direct", "httpx"])
def test_the_proxy_variables_are_honoured(openai_server, api_key, monkeypatch, stack) -> None:
    """``$HTTP_PROXY`` routes the request through the proxy (absolute-form request target),
    ``$NO_PROXY`` exempts a host: the direct stack as the official httpx client does."""
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    target = openai_server([Reply.text("from the server")] * 2)
    proxy = openai_server([Reply.text("through the proxy")])
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    config = {"base_url": target.base_url, "api_key_env": KEY_ENV, "http_client": stack}
    assert one(make_policy(config)).reply.content == "through the proxy"
    [request] = proxy.chat_requests
    assert request.path == f"{target.base_url}/chat/completions" and not target.chat_requests
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert one(make_policy(config)).reply.content == "from the server"
    assert len(proxy.chat_requests) == 1 and len(target.chat_requests) == 1


def test_usage_and_model_come_from_the_reply(openai_server, policy_config) -> None:
    usage = {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333}
    srv = openai_server(
        [Reply.tool_call("interact", {"action": "do"}, usage=usage, model="gpt-4o-2024-08-06")]
    )
    lm = one(make_policy(policy_config(srv))).lm_call
    assert lm.model == "gpt-4o-2024-08-06"
    assert lm.usage.model_dump() == usage


def test_text_reply_without_a_call_is_an_invalid_decision(openai_server, policy_config) -> None:
    text = "I think I should move left to reach the tree."
    srv = openai_server([Reply.text(text)])
    decision = one(make_policy(policy_config(srv)))
    assert decision.tool_calls == [] and not decision.parsed_from_text
    assert decision.reply.content == text and decision.reply.tool_calls is None
    assert "no tool call" in decision.error
    assert decision.lm_call.error == decision.error and decision.lm_call.finish_reason == "stop"


def test_qwen_text_tool_call_is_parsed_and_marked(openai_server, policy_config) -> None:
    srv = openai_server([Reply.qwen_tool_call("interact_many", ACTIONS, before="Tree ahead.\n")])
    decision = one(make_policy(policy_config(srv)))
    assert decision.parsed_from_text and decision.error is None
    (call,) = decision.tool_calls
    assert call.function.name == "interact_many" and json.loads(call.function.arguments) == ACTIONS
    # the reply stays verbatim: text, no tool_calls
    assert decision.reply.content.startswith("Tree ahead.\n<tool_call>")
    assert decision.reply.tool_calls is None


def test_bare_json_text_tool_call_is_parsed(openai_server, policy_config) -> None:
    srv = openai_server([Reply.text('{"name": "interact", "arguments": {"action": "noop"}}')])
    decision = one(make_policy(policy_config(srv)))
    assert decision.parsed_from_text
    assert [c.function.name for c in decision.tool_calls] == ["interact"]


def test_invalid_tool_arguments_pass_through_unchanged(openai_server, policy_config) -> None:
    broken = '{"actions": ["move_left", "do"'
    srv = openai_server([Reply.tool_call("interact_many", broken)])
    decision = one(make_policy(policy_config(srv)))
    (call,) = decision.tool_calls
    assert call.function.arguments == broken  # not repaired, not dropped: the env reports it
    assert decision.error is None


def test_429_honours_retry_after_and_records_each_attempt(openai_server, policy_config) -> None:
    srv = openai_server(
        [Reply.rate_limited(retry_after=0.3), Reply.tool_call("interact", {"action": "do"})]
    )
    lm = one(make_policy(policy_config(srv, retry_backoff_s=0.0))).lm_call
    assert [(a.status, a.retry_after_s) for a in lm.attempts] == [(429, 0.3), (200, None)]
    assert "429" in lm.attempts[0].error and lm.retries == 1 and lm.error is None
    first, second = srv.chat_requests
    assert second.received_at - first.received_at >= 0.3
    assert lm.latency_s >= 0.3


def test_retry_after_ms_is_preferred(openai_server, policy_config) -> None:
    srv = openai_server([Reply.rate_limited(retry_after=30, retry_after_ms=200), Reply.text("ok")])
    lm = one(make_policy(policy_config(srv))).lm_call
    assert lm.attempts[0].retry_after_s == pytest.approx(0.2)


def test_5xx_backs_off_exponentially_then_succeeds(openai_server, policy_config) -> None:
    srv = openai_server(
        [
            Reply.server_error(500),
            Reply.server_error(503),
            Reply.tool_call("interact", {"action": "do"}),
        ]
    )
    config = policy_config(srv, retry_backoff_s=0.1, retry_backoff_max_s=10)
    lm = one(make_policy(config)).lm_call
    assert [a.status for a in lm.attempts] == [500, 503, 200] and lm.retries == 2
    times = [r.received_at for r in srv.chat_requests]
    assert times[1] - times[0] >= 0.05  # 0.1 s * jitter in [0.5, 1]
    assert times[2] - times[1] >= 0.1  # 0.2 s * jitter in [0.5, 1]


def test_retries_exhausted_fail_the_episode_with_every_attempt(
    openai_server, policy_config
) -> None:
    srv = openai_server([Reply.server_error(502)] * 3)
    err = failure(make_policy(policy_config(srv, max_retries=2)))
    assert not isinstance(err, FatalPolicyError)
    assert "HTTP 502" in str(err) and "gave up after 3 attempts" in str(err)
    lm = err.decision.lm_call
    assert [a.status for a in lm.attempts] == [502, 502, 502] and lm.retries == 2
    assert err.decision.reply is None and err.decision.tool_calls == []
    assert err.decision.prompt[0].role == "system"
    assert len(srv.chat_requests) == 3


def test_timeout_is_retried(openai_server, policy_config) -> None:
    srv = openai_server([Reply.slow(2.0), Reply.tool_call("interact", {"action": "do"})])
    lm = one(make_policy(policy_config(srv, timeout=0.3))).lm_call
    first, second = lm.attempts
    assert first.status is None and first.error == "timed out after 0.3s"
    assert 0.25 <= first.latency_s < 1.5
    assert second.status == 200


def test_dropped_connection_is_retried(openai_server, policy_config) -> None:
    srv = openai_server([Reply.drop(), Reply.tool_call("interact", {"action": "do"})])
    lm = one(make_policy(policy_config(srv))).lm_call
    assert lm.attempts[0].status is None and "connection error" in lm.attempts[0].error
    assert lm.attempts[1].status == 200


def test_refused_connection_is_a_connection_error(policy_config) -> None:
    """Nothing listens on the port: recorded as a connection error (openai's aiohttp transport
    raises it as a timeout), retried, and the episode fails once retries run out."""
    import socket

    with socket.socket() as probe:  # a free port, closed again: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    class Nowhere:
        base_url = f"http://127.0.0.1:{port}/v1"

    exc = failure(make_policy(policy_config(Nowhere(), max_retries=1)))
    attempts = exc.decision.lm_call.attempts
    assert len(attempts) == 2
    for attempt in attempts:
        assert attempt.status is None and attempt.error.startswith("connection error (")
        assert "timed out" not in attempt.error and attempt.latency_s < 2


def test_malformed_json_is_retried_and_recorded(openai_server, policy_config) -> None:
    srv = openai_server([Reply.malformed(), Reply.tool_call("interact", {"action": "do"})])
    lm = one(make_policy(policy_config(srv))).lm_call
    assert lm.attempts[0].status == 200 and "malformed JSON" in lm.attempts[0].error
    assert lm.retries == 1 and lm.error is None


def test_bad_request_fails_the_episode_without_retrying(openai_server, policy_config) -> None:
    srv = openai_server([Reply.error(400, "Invalid 'messages[1].content': image too large.")])
    err = failure(make_policy(policy_config(srv)))
    assert not isinstance(err, FatalPolicyError)
    assert "HTTP 400: Invalid 'messages[1].content': image too large." in str(err)
    assert len(srv.chat_requests) == 1 and len(err.decision.lm_call.attempts) == 1


def test_auth_error_stops_the_run_and_never_leaks_the_key(
    openai_server, policy_config, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    srv = openai_server([Reply.auth_error(echo_key_chars=15)])
    policy = make_policy(policy_config(srv))
    err = failure(policy)
    assert isinstance(err, FatalPolicyError)
    assert KEY_ENV in str(err) and "401" in str(err)
    assert len(srv.chat_requests) == 1  # no retries on a bad key
    assert srv.chat_requests[0].bearer == SECRET
    assert_no_secret(str(err), err.decision.lm_call, *err.decision.prompt, caplog.text)


def test_retry_after_beyond_the_limit_fails_at_once(openai_server, policy_config) -> None:
    srv = openai_server([Reply.rate_limited(retry_after=3600)])
    err = failure(make_policy(policy_config(srv, retry_after_max_s=5)))
    assert "3600" in str(err) and "retry_after_max_s" in str(err)
    assert len(srv.chat_requests) == 1


def test_reasoning_budget_exhausted_is_reported_clearly(openai_server, policy_config) -> None:
    srv = openai_server([Reply.length(reasoning_tokens=8192)])
    decision = one(make_policy(policy_config(srv, model="gpt-5-mini")))
    assert decision.tool_calls == []
    assert decision.lm_call.finish_reason == "length"
    error = decision.error
    assert "max_completion_tokens=8192" in error and "8192 of them reasoning" in error
    assert "policy.max_tokens" in error and "reasoning_effort" in error
    assert decision.lm_call.error == error
    assert srv.chat_requests[0].json["max_completion_tokens"] == 8192


def test_refusal_and_empty_reply_are_explained(openai_server, policy_config) -> None:
    refusal = Reply.completion({"role": "assistant", "content": None, "refusal": "I can't."})
    srv = openai_server([refusal, Reply.completion({"role": "assistant", "content": ""})])
    decisions = run_episode(make_policy(policy_config(srv)), 2)
    assert decisions[0].error == "the model refused: I can't."
    assert "neither tool calls nor text" in decisions[1].error


def test_key_never_recorded_over_a_whole_episode(openai_server, policy_config, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    srv = openai_server(
        [
            Reply.rate_limited(retry_after=0.01),
            Reply.tool_call("interact", {"action": "do"}),
            Reply.qwen_tool_call("interact", {"action": "noop"}),
            Reply.text("hmm"),
            Reply.server_error(500),
            Reply.malformed(),
            Reply.tool_call("interact_many", ACTIONS),
        ]
    )
    policy = make_policy(policy_config(srv, history="turns"))
    decisions = run_episode(policy, 4)
    assert all(isinstance(d, Decision) for d in decisions)
    assert all(r.bearer == SECRET for r in srv.chat_requests)
    assert len(srv.chat_requests) == 7
    for d in decisions:
        assert_no_secret(*d.prompt, d.reply, d.lm_call, d.error or "")
    assert_no_secret(policy.describe(), caplog.text)


def test_concurrent_episodes_share_one_client_with_separate_histories(
    openai_server, policy_config
) -> None:
    srv = openai_server(lambda req: Reply.tool_call("interact", {"action": "do"}), latency_s=0.05)
    policy = make_policy(policy_config(srv, history="tool_calls", history_k=5))

    async def episode(seed: int) -> list[Decision]:
        ep = await policy.start_episode(make_spec(), seed)
        return [await ep.act(observation(i)) for i in range(3)]

    async def go() -> list[list[Decision]]:
        try:
            return await asyncio.gather(*(episode(s) for s in range(8)))
        finally:
            await policy.aclose()

    results = asyncio.run(go())
    for decisions in results:
        preface = decisions[2].prompt[-1].content[0].text
        assert preface.count("- step") == 2  # its own two previous steps, not others'
    assert len(srv.chat_requests) == 24
    # the same policy works again in a fresh event loop (client per loop)
    srv.push(Reply.text("again"))
    assert one(policy).reply.content == "again"


def test_html_pages_from_a_proxy_are_retried(openai_server, policy_config) -> None:
    srv = openai_server(
        [
            Reply.html(status=502),
            Reply.html(status=200),
            Reply.tool_call("interact", {"action": "do"}),
        ]
    )
    lm = one(make_policy(policy_config(srv))).lm_call
    assert [a.status for a in lm.attempts] == [502, 200, 200]
    assert "502 Bad Gateway" in lm.attempts[0].error
    assert "not a JSON object" in lm.attempts[1].error


def test_exhausted_quota_stops_the_run_without_retrying(openai_server, policy_config) -> None:
    quota = Reply.error(
        429,
        "You exceeded your current quota.",
        type="insufficient_quota",
        code="insufficient_quota",
    )
    srv = openai_server([quota, Reply.text("never")])
    err = failure(make_policy(policy_config(srv)))
    assert isinstance(err, FatalPolicyError) and "no quota left" in str(err)
    assert len(srv.chat_requests) == 1
