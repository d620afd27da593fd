"""The ``remote`` environment against real servers: identical to local, balancing, failures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import Server, wait_healthy
from tests.serve.rollout import rollout
from vlmforge.errors import ConfigError, VlmforgeError
from vlmforge.plugins import get_registry
from vlmforge_serve.client import RemoteEnvError

STEPS = 12
SEEDS = [0, 1, 2, 3]


@pytest.fixture(scope="module")
def two_servers(module_serve) -> list[Server]:  # type: ignore[no-untyped-def]
    return [module_serve("--env", "crafter"), module_serve("--env", "crafter")]


def remote(urls: list[str], **settings: object):  # type: ignore[no-untyped-def]
    return get_registry().create("environment", "remote", {"env_urls": urls, **settings})


def worker_pids(parent: int) -> list[int]:
    """The worker processes of a `vlmforge serve --workers N` parent (Linux /proc)."""
    pids = []
    for task in Path(f"/proc/{parent}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"resource_tracker" not in cmdline:
                pids.append(int(child))
    return sorted(pids)


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
        episodes = [env.start(seed) for seed in range(2)]
        for episode in episodes:
            episode.reset()  # both stay open at once
        assert sorted(e.server.url for e in episodes) == sorted(urls), balancing
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
    assert env.servers[0].is_down  # avoided for down_cooldown_s after failing
    no_cooldown = remote([dead_url(), live], retries=0, down_cooldown_s=0)
    no_cooldown.spec()
    assert not no_cooldown.servers[0].is_down


def test_timeout_is_bounded_and_retried() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = remote([url], timeout_s=0.3, retries=1, backoff_s=0.01)
        started = time.monotonic()
        with pytest.raises(VlmforgeError) as err:
            env.spec()
        elapsed = time.monotonic() - started
    assert "ReadTimeout" in str(err.value) and "2 times" in str(err.value)
    assert 0.55 < elapsed < 5


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
        ({"env_urls": ["http://u:secret@a:1"]}, "credentials in a URL are not accepted"),
        ({"env_urls": ["http://a:1"], "balancing": "random"}, "balancing"),
        ({"env_urls": ["http://a:1"], "retries": -1}, "retries"),
        ({"env_urls": ["http://a:1"], "urls": []}, "unknown key 'urls'"),
    ]:
        with pytest.raises(ConfigError, match=needle) as err:
            get_registry().create("environment", "remote", settings)
        assert "secret" not in str(err.value)


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


@pytest.mark.slow
def test_workers_each_own_a_port_and_die_with_the_parent(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve("--env", "crafter", "--workers", "2")
    assert len(server.urls) == 2 and server.urls[0] != server.urls[1]
    env = remote(server.urls, balancing="round-robin")
    episodes = [env.start(seed) for seed in (4, 5)]
    for episode in episodes:
        episode.reset()
    assert {e.server.url for e in episodes} == set(server.urls)  # one episode per worker
    for episode in episodes:
        episode.close()

    workers = worker_pids(server.proc.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)  # a worker dies: the parent starts a new one on its port
    deadline = time.monotonic() + 30
    while True:
        restarted = [p for p in worker_pids(server.proc.pid) if p not in workers]
        if restarted:
            break
        assert time.monotonic() < deadline, "the dead worker was not restarted"
        time.sleep(0.2)
    for url in server.urls:  # both ports answer again
        wait_healthy(url, time.monotonic() + 30)

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


# -- vlmforge eval --env remote (real subprocesses, real sqlite stores) --------------------
def stored(path: Path) -> dict[int, tuple]:
    """Per seed: the episode's outcome and every step as recorded (ids and timings left out)."""
    store = get_registry().create("store", "sqlite", {"path": str(path)})
    try:
        out = {}
        for ep in store.episodes():
            steps = [
                s.model_dump(
                    exclude={"episode_id", "started_at", "policy_latency_s", "env_latency_s"}
                )
                for s in store.steps(ep.id)
            ]
            out[ep.seed] = (ep.status, ep.termination, ep.total_reward, ep.achievements, steps)
        return out
    finally:
        store.close()


@pytest.mark.slow
def test_eval_over_two_servers_records_the_same_traces_as_local(
    two_servers: list[Server], cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    common = ["--policy", "random", "--seeds", "0-3", "--max-steps", "20"]
    local = cli("eval", "--env", "crafter", *common, "--trace-db", str(tmp_path / "local.db"))
    assert local.returncode == 0, local.stderr
    urls = [arg for s in two_servers for arg in ("--env-url", s.url)]
    remote_run = cli(
        "eval", *urls, *common, "--concurrency", "4", "--trace-db", str(tmp_path / "remote.db")
    )
    assert remote_run.returncode == 0, remote_run.stderr
    want, got = stored(tmp_path / "local.db"), stored(tmp_path / "remote.db")
    assert sorted(got) == [0, 1, 2, 3]
    assert all(len(record[4]) == 20 for record in got.values())
    assert got == want  # text, frame hashes, ground truth, prompts, actions, rewards, ...
    store = get_registry().create("store", "sqlite", {"path": str(tmp_path / "remote.db")})
    run = next(store.runs())
    some_frame = got[0][4][0]["observation"]["images"][0]
    assert store.image(some_frame)[:8] == b"\x89PNG\r\n\x1a\n"
    store.close()
    assert run.env_name == "remote"
    assert run.env_config["served_env"] == "crafter"
    assert run.env_config["env_config"]["max_steps"] == 20  # --max-steps reached the servers
    assert sorted(run.env_config["env_urls"]) == sorted(s.url for s in two_servers)


def test_env_url_needs_env_remote(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "eval", "--env", "crafter", "--env-url", "http://127.0.0.1:9", "--policy", "random"
    )
    assert result.returncode == 2
    assert "--env-url is for --env remote" in " ".join(result.stderr.split())


@pytest.mark.slow
def test_eval_survives_a_killed_server(two_servers: list[Server], serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doomed = serve("--env", "crafter", "--log-level", "info")  # info: an access-log line per step
    survivor = two_servers[0]
    config = tmp_path / "eval.toml"
    config.write_text(
        "seeds = '0-3'\nconcurrency = 2\nmax_steps = 60\n"
        f"[env]\nname = 'remote'\nenv_urls = ['{survivor.url}', '{doomed.url}']\n"
        "retries = 1\nbackoff_s = 0.05\nbalancing = 'round-robin'\n"
        "[policy]\nname = 'random'\n"
        f"[store]\nname = 'sqlite'\npath = '{tmp_path / 'traces.db'}'\n"
    )
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vlmforge", "eval", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    )
    try:
        # Freeze the doomed server as soon as it has served a step, so the episode it holds
        # cannot finish (60 steps take ~0.4 s) before the kill: killing at a fixed delay raced
        # with the episode's end. A start that fails still moves to the survivor; a step cannot.
        deadline = time.monotonic() + 30
        while not any("/step HTTP" in line for line in list(doomed.stdout_lines)):
            assert time.monotonic() < deadline and proc.poll() is None, "no step on it"
            time.sleep(0.005)
        os.killpg(doomed.proc.pid, signal.SIGSTOP)
        time.sleep(0.3)  # the eval is now waiting on the frozen server
        doomed.kill()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    episodes = stored(tmp_path / "traces.db")
    assert sorted(episodes) == [0, 1, 2, 3]  # every seed recorded, none lost
    failed = {seed: rec for seed, rec in episodes.items() if rec[0] == "failed"}
    assert failed, f"no episode failed:\n{out}\n{err}"
    assert all(rec[1] == "env_error" for rec in failed.values())
    store = get_registry().create("store", "sqlite", {"path": str(tmp_path / "traces.db")})
    errors = [ep.error for ep in store.episodes() if ep.status == "failed"]
    store.close()
    assert all(doomed.url in e and "lost" in e for e in errors), errors
    done = [seed for seed, rec in episodes.items() if rec[0] == "done"]
    assert len(done) + len(failed) == 4 and len(done) >= 2  # later episodes moved to the survivor
