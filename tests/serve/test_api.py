"""The HTTP contract of ``vlmforge serve``, against a real server process with an API key."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.serve.conftest import KEY_VAR, TEST_KEY, Server

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
MOVE = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "interact_many", "arguments": json.dumps({"actions": ["move_left"]})},
}


@pytest.fixture(scope="module")
def server(module_serve) -> Server:  # type: ignore[no-untyped-def]
    return module_serve(
        "--env",
        "crafter",
        "--api-key-env",
        KEY_VAR,
        "--max-episodes",
        "2",
        "--idle-timeout",
        "1",
        "--max-body-bytes",
        "4096",
        "--log-level",
        "info",  # access logs on: the key must not show up in them either
        env={KEY_VAR: TEST_KEY},
    )


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as http:
        yield http
        # leave no episode behind for the next test (the limit is 2)
        deadline = time.monotonic() + 5
        while http.get("/health").json()["active_episodes"] and time.monotonic() < deadline:
            time.sleep(0.1)


def start(http: httpx.Client, seed: int = 0, **extra: object) -> dict:
    response = http.post("/episodes", json={"seed": seed, **extra})
    assert response.status_code == 201, response.text
    return response.json()


# -- auth ----------------------------------------------------------------------------------
def test_health_needs_no_key_everything_else_does(server: Server) -> None:
    assert httpx.get(f"{server.url}/health").status_code == 200
    for method, path, body in [
        ("GET", "/info", None),
        ("GET", "/openapi.json", None),
        ("GET", "/docs", None),
        ("POST", "/spec", {}),
        ("POST", "/episodes", {"seed": 0}),
        ("POST", "/episodes/ep_x/step", {"tool_calls": []}),
        ("DELETE", "/episodes/ep_x", None),
    ]:
        response = httpx.request(method, f"{server.url}{path}", json=body)
        assert response.status_code == 401, (method, path)
        assert response.json() == {
            "detail": "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        }
        assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_key_is_refused_without_echoing_any_key(server: Server) -> None:
    wrong = TEST_KEY[:-4] + "zzzz"  # shares a long prefix with the real key
    for headers in (
        {"Authorization": f"Bearer {wrong}"},
        {"X-API-Key": wrong},
        {"Authorization": f"Basic {TEST_KEY}"},  # right key, wrong scheme: treated as missing
    ):
        response = httpx.get(f"{server.url}/info", headers=headers)
        assert response.status_code == 401
        body = response.text + json.dumps(dict(response.headers))
        for i in range(len(TEST_KEY) - 3):  # no 4-character piece of either key
            assert TEST_KEY[i : i + 4] not in body
            assert wrong[i : i + 4] not in body
    assert "wrong API key" in httpx.get(f"{server.url}/info", headers={"X-API-Key": wrong}).text


def test_right_key_by_bearer_or_x_api_key(server: Server) -> None:
    for headers in (AUTH, {"X-API-Key": TEST_KEY}, {"authorization": f"bearer {TEST_KEY}"}):
        assert httpx.get(f"{server.url}/info", headers=headers).status_code == 200


def test_key_never_in_server_logs(server: Server) -> None:
    httpx.get(f"{server.url}/info", headers={"X-API-Key": "nope"})
    httpx.get(f"{server.url}/info", headers=AUTH)
    deadline = time.monotonic() + 10
    while '"GET /info HTTP/1.1" 200' not in (log := server.logs()):  # the drain thread lags
        assert time.monotonic() < deadline, log
        time.sleep(0.05)
    assert '"GET /info HTTP/1.1" 401' in log and '"GET /info HTTP/1.1" 200' in log  # log_level
    assert TEST_KEY not in log and "nope" not in log


# -- info and openapi ----------------------------------------------------------------------
def test_info_describes_the_environment(client: httpx.Client) -> None:
    info = client.get("/info").json()
    assert info["env"] == "crafter"
    assert info["auth"] is True
    assert info["max_episodes"] == 2 and info["max_body_bytes"] == 4096
    assert info["observation_modes"] == ["text+image", "image_only", "text_only"]
    assert {t["function"]["name"] for t in info["tools"]} == {"interact", "interact_many"}
    assert "image_size" in info["config_schema"]["properties"]
    assert info["spec"]["name"] == "crafter" and len(info["spec"]["achievements"]) == 22
    assert info["default_config"]["image_size"] == 64
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/info", "/spec", "/episodes", "/episodes/{episode_id}/step"} <= set(paths)
    assert "delete" in paths["/episodes/{episode_id}"]


def test_spec_for_other_settings(client: httpx.Client) -> None:
    answer = client.post("/spec", json={"config": {"max_actions_per_call": 3}}).json()
    assert answer["spec"]["max_actions_per_call"] == 3
    assert answer["config"]["max_actions_per_call"] == 3


# -- episodes ------------------------------------------------------------------------------
def test_episode_round_trip(client: httpx.Client) -> None:
    first = start(client, seed=5)
    assert first["seed"] == 5 and first["episode_id"].startswith("ep_")
    image = first["observation"]["images"][0]
    assert image["width"] == 64 and len(image["sha256"]) == 64
    assert "Step 0" in first["observation"]["text"] or first["observation"]["text"]
    step = client.post(
        f"/episodes/{first['episode_id']}/step", json={"tool_calls": [MOVE], "index": 0}
    )
    assert step.status_code == 200, step.text
    body = step.json()
    assert body["actions"] == ["move_left"] and body["index"] == 0
    assert body["done"] is False and isinstance(body["reward"], float)
    deleted = client.delete(f"/episodes/{first['episode_id']}")
    assert deleted.json() == {"episode_id": first["episode_id"], "deleted": True, "steps": 1}
    assert client.delete(f"/episodes/{first['episode_id']}").status_code == 404


def test_invalid_tool_call_is_recorded_not_rejected(client: httpx.Client) -> None:
    ep = start(client)["episode_id"]
    bad = {"id": "c", "type": "function", "function": {"name": "fly", "arguments": "{}"}}
    body = client.post(f"/episodes/{ep}/step", json={"tool_calls": [bad]}).json()
    assert body["invalid"][0]["kind"] == "unknown_tool"
    assert body["actions"] == ["noop"]  # the fallback
    client.delete(f"/episodes/{ep}")


def test_retried_step_is_answered_not_applied_twice(client: httpx.Client) -> None:
    ep = start(client)["episode_id"]
    url = f"/episodes/{ep}/step"
    once = client.post(url, json={"tool_calls": [MOVE], "index": 0}).json()
    again = client.post(url, json={"tool_calls": [MOVE], "index": 0}).json()
    assert again == once
    conflict = client.post(url, json={"tool_calls": [MOVE], "index": 5})
    assert conflict.status_code == 409 and "expected 1" in conflict.json()["detail"]
    assert client.post(url, json={"tool_calls": [MOVE], "index": 1}).json()["index"] == 1
    assert client.delete(f"/episodes/{ep}").json()["steps"] == 2


def test_retried_start_returns_the_same_episode(client: httpx.Client) -> None:
    a = start(client, seed=1, request_id="req-123")
    b = start(client, seed=1, request_id="req-123")
    assert a == b
    assert client.get("/health").json()["active_episodes"] == 1
    client.delete(f"/episodes/{a['episode_id']}")


def test_unknown_episode_is_404(client: httpx.Client) -> None:
    for response in (
        client.post("/episodes/ep_nope/step", json={"tool_calls": [MOVE]}),
        client.delete("/episodes/ep_nope"),
    ):
        assert response.status_code == 404
        assert "unknown episode id" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},  # no seed
        {"seed": -1},
        {"seed": "zero"},
        {"seed": 0, "colour": "blue"},  # unknown field
        {"seed": 0, "request_id": "x" * 200},
    ],
)
def test_bad_start_bodies_are_422(client: httpx.Client, body: dict) -> None:
    response = client.post("/episodes", json=body)
    assert response.status_code == 422, response.text
    assert client.get("/health").json()["active_episodes"] == 0


def test_bad_environment_settings_are_422_naming_the_key(client: httpx.Client) -> None:
    response = client.post("/episodes", json={"seed": 0, "config": {"image_sizee": 64}})
    assert response.status_code == 422
    assert "image_sizee" in response.json()["detail"]
    assert "image_size" in response.json()["detail"]  # did-you-mean


def test_bad_step_bodies_are_422(client: httpx.Client) -> None:
    ep = start(client)["episode_id"]
    for body in (
        {},
        {"tool_calls": "move_left"},
        {"tool_calls": [{"id": "c", "function": {"name": "interact"}}]},  # no arguments
        {"tool_calls": [MOVE], "index": -1},
    ):
        assert client.post(f"/episodes/{ep}/step", json=body).status_code == 422, body
    not_json = client.post(
        f"/episodes/{ep}/step", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    client.delete(f"/episodes/{ep}")


def test_oversize_body_is_413(client: httpx.Client) -> None:
    huge = {"seed": 0, "config": {"pad": "x" * 5000}}
    response = client.post("/episodes", json=huge)
    assert response.status_code == 413
    assert "4096 bytes" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield b'{"seed": 0, "config": {"pad": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}}'

    streamed = client.post(
        "/episodes", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert client.get("/health").json()["active_episodes"] == 0


def test_episode_limit_is_429_then_frees_up(client: httpx.Client) -> None:
    a, b = start(client, 1)["episode_id"], start(client, 2)["episode_id"]
    full = client.post("/episodes", json={"seed": 3})
    assert full.status_code == 429
    assert "maximum of 2 episodes" in full.json()["detail"]
    assert full.headers["retry-after"] == "1"
    assert client.get("/health").json()["status"] == "ok"  # still alive
    client.delete(f"/episodes/{a}")
    c = start(client, 3)["episode_id"]
    client.delete(f"/episodes/{b}")
    client.delete(f"/episodes/{c}")


def test_idle_episodes_expire(client: httpx.Client) -> None:
    ep = start(client)["episode_id"]
    started = time.monotonic()
    assert client.get("/health").json()["active_episodes"] == 1
    # idle timeout 1 s, swept every 0.25 s: gone after ~1-1.25 s (polled, for a loaded machine)
    while client.get("/health").json()["active_episodes"] != 0:
        assert time.monotonic() - started < 10, "the idle episode never expired"
        time.sleep(0.05)
    assert time.monotonic() - started >= 1.0  # not before its idle timeout
    gone = client.post(f"/episodes/{ep}/step", json={"tool_calls": [MOVE]})
    assert gone.status_code == 404


# -- the remote environment against a keyed server -----------------------------------------
def test_remote_environment_sends_the_key(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from vlmforge.plugins import get_registry
    from vlmforge_serve.client import RemoteAuthError

    registry = get_registry()
    monkeypatch.setenv("VF_REMOTE_KEY", TEST_KEY)
    env = registry.create(
        "environment", "remote", {"env_urls": [server.url], "api_key_env": "VF_REMOTE_KEY"}
    )
    assert env.spec().name == "crafter"
    assert env.config_dict()["api_key_env"] == "VF_REMOTE_KEY"
    assert TEST_KEY not in json.dumps(env.config_dict())
    episode = env.start(0)
    assert episode.reset().text
    episode.close()

    monkeypatch.setenv("VF_REMOTE_KEY", "not-the-key-0123456789")
    wrong = registry.create(
        "environment", "remote", {"env_urls": [server.url], "api_key_env": "VF_REMOTE_KEY"}
    )
    with pytest.raises(RemoteAuthError) as err:
        wrong.spec()
    message = str(err.value)
    assert "wrong API key" in message and "$VF_REMOTE_KEY" in message
    assert "not-the-key" not in message and TEST_KEY[:6] not in message

    nokey = registry.create("environment", "remote", {"env_urls": [server.url]})
    with pytest.raises(RemoteAuthError, match="missing API key"):
        nokey.spec()
    monkeypatch.delenv("VF_REMOTE_KEY")
    from vlmforge.errors import ConfigError

    with pytest.raises(ConfigError, match=r"VF_REMOTE_KEY.*not set"):
        registry.create(
            "environment", "remote", {"env_urls": [server.url], "api_key_env": "VF_REMOTE_KEY"}
        )
