"""The loopback OpenAI-protocol test server itself (used by policy tests and benchmarks)."""

from __future__ import annotations

import json
import socket

import httpx

from vlmforge.testing.openai_server import OpenAIServer, Reply


def post(srv: OpenAIServer, body: dict, **headers: str) -> httpx.Response:
    return httpx.post(f"{srv.base_url}/chat/completions", json=body, headers=headers, timeout=5)


def test_script_in_order_then_exhausted(openai_server) -> None:
    srv = openai_server([Reply.text("one"), Reply.tool_call("interact", {"action": "do"})])
    first = post(srv, {"model": "m1", "messages": []}).json()
    assert first["choices"][0]["message"]["content"] == "one"
    assert first["model"] == "m1" and first["usage"]["total_tokens"] > 0
    second = post(srv, {"model": "m1", "messages": []}).json()
    call = second["choices"][0]["message"]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"action": "do"}
    assert second["choices"][0]["finish_reason"] == "tool_calls"
    third = post(srv, {"model": "m1", "messages": []})
    assert third.status_code == 400 and "exhausted" in third.json()["error"]["message"]
    assert srv.remaining == 0


def test_records_requests_with_headers(openai_server) -> None:
    srv = openai_server([Reply.text("x")])
    post(
        srv,
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        Authorization="Bearer k1",
    )
    (req,) = srv.chat_requests
    assert req.method == "POST" and req.path == "/v1/chat/completions"
    assert req.bearer == "k1" and req.json["messages"][0]["content"] == "hi"


def test_callable_script_and_default(openai_server) -> None:
    srv = openai_server(lambda req: Reply.text(f"echo {req.json['model']}"))
    assert post(srv, {"model": "abc"}).json()["choices"][0]["message"]["content"] == "echo abc"
    srv2 = openai_server([], default=Reply.text("always"))
    for _ in range(2):
        assert post(srv2, {"model": "m"}).json()["choices"][0]["message"]["content"] == "always"


def test_errors_headers_and_malformed_body(openai_server) -> None:
    srv = openai_server(
        [
            Reply.rate_limited(retry_after=2, retry_after_ms=1500),
            Reply.server_error(503),
            Reply.malformed(),
            Reply.auth_error(echo_key_chars=4),
        ]
    )
    limited = post(srv, {"model": "m"})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2" and limited.headers["retry-after-ms"] == "1500"
    assert post(srv, {"model": "m"}).status_code == 503
    bad = post(srv, {"model": "m"})
    assert bad.status_code == 200 and bad.headers["content-type"] == "application/json"
    try:
        bad.json()
        raise AssertionError("malformed body parsed")
    except ValueError:
        pass
    auth = post(srv, {"model": "m"}, Authorization="Bearer abcdefgh")
    assert auth.status_code == 401 and auth.json()["error"]["message"].endswith("abcd")


def test_api_key_check_and_models_route(openai_server) -> None:
    srv = openai_server([Reply.text("ok")], api_key="right", models=["a", "b"])
    assert post(srv, {"model": "m"}, Authorization="Bearer wrong").status_code == 401
    assert post(srv, {"model": "m"}, Authorization="Bearer right").status_code == 200
    listing = httpx.get(f"{srv.base_url}/models", headers={"Authorization": "Bearer right"})
    assert [m["id"] for m in listing.json()["data"]] == ["a", "b"]
    assert (
        httpx.get(f"{srv.base_url}/nope", headers={"Authorization": "Bearer right"}).status_code
        == 404
    )


def test_latency_and_drop(openai_server) -> None:
    srv = openai_server([Reply.slow(0.2), Reply.drop()], latency_s=0.05)
    response = post(srv, {"model": "m"})
    assert response.elapsed.total_seconds() >= 0.25
    try:
        post(srv, {"model": "m"})
        raise AssertionError("dropped connection answered")
    except httpx.HTTPError:
        pass


def test_binds_loopback_only_and_stops() -> None:
    with OpenAIServer([Reply.text("x")]) as srv:
        port = srv.port
        assert srv.base_url == f"http://127.0.0.1:{port}/v1"
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_subprocess_server_for_benchmarks() -> None:
    from vlmforge.testing.openai_server import serve_in_subprocess

    with serve_in_subprocess(latency_s=0.05, tool="interact", arguments={"action": "do"}) as url:
        response = httpx.post(f"{url}/chat/completions", json={"model": "m"}, timeout=10)
        call = response.json()["choices"][0]["message"]["tool_calls"][0]["function"]
        assert call == {"name": "interact", "arguments": '{"action": "do"}'}
        assert response.elapsed.total_seconds() >= 0.05
    try:
        httpx.post(f"{url}/chat/completions", json={"model": "m"}, timeout=2)
        raise AssertionError("the server process is still answering")
    except httpx.ConnectError:
        pass
