"""The ``remote`` environment against real servers: identical to local, balancing, failures."""

from __future__ import annotations

import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.serve.conftest import Server
from tests.serve.rollout import rollout
from vlmforge.errors import ConfigError, VlmforgeError
from vlmforge.plugins import get_registry
from vlmforge_serve.client import RemoteEnvError

STEPS = 25
SEEDS = [0, 1, 2, 3]


@pytest.fixture(scope="module")
def two_servers(module_serve) -> list[Server]:  # type: ignore[no-untyped-def]
    return [module_serve("--env", "crafter"), module_serve("--env", "crafter")]


def remote(urls: list[str], **settings: object):  # type: ignore[no-untyped-def]
    return get_registry().create("environment", "remote", {"env_urls": urls, **settings})


def dead_url() -> str:
    """A loopback URL nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_remote_over_two_servers_matches_local(two_servers: list[Server]) -> None:
    local = get_registry().create("environment", "crafter", {})
    env = remote([s.url for s in two_servers])
    assert env.spec() == local.spec()
    assert env.config_dict()["served_env"] == "crafter"
    with ThreadPoolExecutor(4) as pool:  # concurrent episodes, as the eval runner has them
        remote_runs = list(pool.map(lambda seed: rollout(env, seed, STEPS), SEEDS))
    placed = set()
    for seed, got in zip(SEEDS, remote_runs, strict=True):
        want = rollout(local, seed, STEPS)
        want.pop("server")
        placed.add(got.pop("server"))
        assert got == want, f"seed {seed} differs between remote and local"
    assert placed == {s.url for s in two_servers}  # concurrent episodes used both servers
    for server in two_servers:  # every episode was deleted on its server
        assert httpx.get(f"{server.url}/health").json()["active_episodes"] == 0


def test_episodes_spread_over_servers(two_servers: list[Server]) -> None:
    urls = [s.url for s in two_servers]
    for balancing in ("least-loaded", "round-robin"):
        env = remote(urls, balancing=balancing)
        episodes = [env.start(seed) for seed in range(4)]
        for episode in episodes:
            episode.reset()  # all four stay open at once
        placed = [episode.server.url for episode in episodes]
        assert sorted(placed) == sorted(urls * 2), (balancing, placed)
        assert placed[0] != placed[1] and placed[2] != placed[3]
        for episode in episodes:
            episode.close()


def test_least_loaded_prefers_the_idle_server(two_servers: list[Server]) -> None:
    env = remote([s.url for s in two_servers], balancing="least-loaded")
    first, second = env.start(0), env.start(1)
    first.reset()
    second.reset()
    assert first.server is not second.server  # one each
    freed = first.server.url
    first.close()
    for seed in (2, 3):  # the server with no episode gets the next one, every time
        third = env.start(seed)
        third.reset()
        assert third.server.url == freed
        third.close()
    second.close()


def test_start_fails_over_past_a_dead_server(two_servers: list[Server]) -> None:
    live = two_servers[0].url
    env = remote([dead_url(), live], retries=0, balancing="round-robin")
    assert env.spec().name == "crafter"  # the live server answered
    for seed in range(3):
        episode = env.start(seed)
        episode.reset()
        assert episode.server.url == live
        episode.close()


def test_no_server_answers(two_servers: list[Server]) -> None:
    env = remote([dead_url(), dead_url()], retries=1, backoff_s=0.01)
    with pytest.raises(VlmforgeError, match="no env server answered") as err:
        env.spec()
    assert "ConnectError" in str(err.value)


def test_env_config_reaches_the_server(two_servers: list[Server]) -> None:
    env = remote([two_servers[0].url], env_config={"max_actions_per_call": 2, "image_size": 32})
    assert env.spec().max_actions_per_call == 2
    assert env.config_dict()["env_config"]["image_size"] == 32
    episode = env.start(0)
    assert episode.reset().images[0].width == 32
    episode.close()
    bad = remote([two_servers[0].url], env_config={"image_sise": 32})
    with pytest.raises(ConfigError, match="image_sise"):
        bad.spec()


def test_bad_remote_settings() -> None:
    for settings, needle in [
        ({"env_urls": []}, "env_urls"),
        ({"env_urls": ["h1:8000"]}, r"not an http\(s\) URL"),
        ({"env_urls": ["http://a:1", "http://a:1/"]}, "listed twice"),
        ({"env_urls": ["http://a:1"], "balancing": "random"}, "balancing"),
        ({"env_urls": ["http://a:1"], "retries": -1}, "retries"),
        ({"env_urls": ["http://a:1"], "urls": []}, "unknown key 'urls'"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            get_registry().create("environment", "remote", settings)


def test_killed_server_fails_the_episode_cleanly(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve("--env", "crafter")
    env = remote([server.url], retries=2, backoff_s=0.05)
    episode = env.start(0)
    obs = episode.reset()
    assert obs.images
    from vlmforge.trace import FunctionCall, ToolCall

    call = ToolCall(id="c1", function=FunctionCall(name="interact", arguments='{"action": "noop"}'))
    assert episode.step([call]).actions == ["noop"]
    server.kill()
    started = time.monotonic()
    with pytest.raises(RemoteEnvError) as err:
        episode.step([call])
    assert time.monotonic() - started < 10  # bounded retries, not a hang
    message = str(err.value)
    assert server.url in message and "lost" in message and "3 times" in message
    episode.close()  # nothing to release: must not raise
    with pytest.raises(RemoteEnvError, match="no env server could start"):
        env.start(1).reset()


def test_workers_each_own_a_port_and_die_with_the_parent(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve("--env", "crafter", "--workers", "2")
    assert len(server.urls) == 2 and server.urls[0] != server.urls[1]
    env = remote(server.urls, balancing="round-robin")
    local = get_registry().create("environment", "crafter", {})
    runs = [rollout(env, seed, 10) for seed in (4, 5)]
    assert {r.pop("server") for r in runs} == set(server.urls)
    for seed, got in zip((4, 5), runs, strict=True):
        want = rollout(local, seed, 10)
        want.pop("server")
        assert got == want
    os.kill(server.proc.pid, signal.SIGKILL)  # only the parent: workers must notice and exit
    deadline = time.monotonic() + 15
    alive = list(server.urls)
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        still = []
        for url in alive:
            try:
                httpx.get(f"{url}/health", timeout=1)
                still.append(url)
            except httpx.TransportError:
                pass
        alive = still
    assert not alive, f"workers outlived their parent: {alive}"
