"""`vlmforge serve` under misuse (issue 17): keys in URLs (item 5), a bad --log-level (item 4),
Ctrl-C (item 8). Real `vlmforge serve` processes on 127.0.0.1, real HTTP."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_cli
from tests.serve.conftest import KEY_VAR, TEST_KEY, Server, _servers
from vlmforge_serve.scrub import scrub


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """tests/serve's server factory (its conftest is not visible from tests/faults)."""
    yield from _servers(tmp_path)


def _wait_for_log_lines(
    server: Server, count: int, needle: str, deadline_s: float = 10.0
) -> str:
    """The server's logs once ``count`` access lines holding ``needle`` are in (uvicorn logs a
    request after answering it, and the fixture's own /health check is logged too)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if sum(needle in line for line in server.stdout_lines) >= count:
            break
        time.sleep(0.05)
    return server.logs()


def test_a_key_in_the_url_is_refused_and_never_logged(serve: Callable[..., Server]) -> None:
    server = serve(
        "--env", "crafter", "--log-level", "info", "--api-key-env", KEY_VAR,
        env={KEY_VAR: TEST_KEY},
    )  # fmt: skip
    refused = httpx.get(f"{server.url}/info?api_key={TEST_KEY}&x=1", timeout=10)
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert "'api_key'" in detail and "Authorization: Bearer" in detail and TEST_KEY not in detail
    # refused even with the right header: the key in the URL has leaked already
    both = httpx.get(
        f"{server.url}/info?access_token={TEST_KEY}",
        headers={"Authorization": f"Bearer {TEST_KEY}"},
        timeout=10,
    )
    assert both.status_code == 400
    # a parameter with an ordinary name holding the key: served (the header is right), logged
    # without it
    odd = httpx.get(f"{server.url}/info?k={TEST_KEY}", headers={"X-API-Key": TEST_KEY}, timeout=10)
    assert odd.status_code == 200
    ordinary = httpx.get(f"{server.url}/info?page=2", headers={"X-API-Key": TEST_KEY}, timeout=10)
    assert ordinary.status_code == 200
    logs = _wait_for_log_lines(server, 4, '"GET /info?')
    assert '"GET /info?api_key=[redacted]&x=1 HTTP/1.1" 400' in logs
    assert '"GET /info?access_token=[redacted] HTTP/1.1" 400' in logs
    assert '"GET /info?k=[redacted] HTTP/1.1" 200' in logs
    assert '"GET /info?page=2 HTTP/1.1" 200' in logs  # ordinary queries are logged as sent
    assert TEST_KEY not in logs and TEST_KEY[:10] not in logs


def test_a_key_in_the_url_is_refused_without_auth_too(serve: Callable[..., Server]) -> None:
    server = serve("--env", "crafter", "--log-level", "info")
    key = "sk-client-side-key-0123456789abcdef"
    response = httpx.get(f"{server.url}/health?token={key}", timeout=10)
    assert response.status_code == 400 and "'token'" in response.json()["detail"]
    logs = _wait_for_log_lines(server, 1, '"GET /health?')
    assert "token=[redacted]" in logs and key not in logs


def test_scrub_keeps_ordinary_parameters() -> None:
    line = "GET /x?access_token=abc&X-API-Key=def&monkey=1&key=k&page=2&client_secret=s"
    assert scrub(line) == (
        "GET /x?access_token=[redacted]&X-API-Key=[redacted]&monkey=1&key=[redacted]&page=2"
        "&client_secret=[redacted]"
    )


def test_an_unknown_log_level_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("serve", "--env", "crafter", "--log-level", "verbose")
    assert result.returncode == 2
    assert "'verbose' is not one of" in result.stderr and "'trace'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    config = tmp_path / "serve.toml"
    config.write_text('[serve]\nport = 0\nlog_level = "verbose"\n[env]\nname = "crafter"\n')
    result = run_cli("serve", "--config", str(config))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    err = " ".join(result.stderr.split())
    assert "serve.toml, line 3: serve.log_level" in err and "(got 'verbose')" in err


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_exits_130_quietly(serve: Callable[..., Server], workers: str) -> None:
    server = serve("--env", "crafter", "--workers", workers)
    os.killpg(server.proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole group
    assert server.proc.wait(timeout=30) == 130
    err = server.stderr_path.read_text()
    assert "Aborted" not in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 1, err
