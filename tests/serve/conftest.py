"""Real ``vlmforge serve`` processes on loopback ports, always killed at the end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

URL_LINE = re.compile(r"on (http://127\.0\.0\.1:\d+) \(worker (\d+)/(\d+)")
TEST_KEY = "vf-test-key-9f2c61d0e4b84a7c"  # a made-up key for the auth tests
KEY_VAR = "VLMFORGE_SERVE_TEST_KEY"


@dataclass
class Server:
    """A running ``vlmforge serve`` subprocess (its own process group)."""

    proc: subprocess.Popen[str]
    urls: list[str]
    stderr_path: Path
    stdout_lines: list[str] = field(default_factory=list)  # uvicorn's access log goes here

    def logs(self) -> str:
        """Everything the server wrote so far (stdout and stderr)."""
        return "".join(self.stdout_lines) + self.stderr_path.read_text()

    @property
    def url(self) -> str:
        return self.urls[0]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL the whole process group: the server vanishes without a goodbye."""
        self.stop(signal.SIGKILL)


def start_server(*args: str, tmp: Path, env: dict[str, str] | None = None) -> Server:
    """Start ``vlmforge serve --port 0 ARGS`` and wait until every worker answers /health."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    full_env.update(env or {})
    stderr_path = tmp / f"serve-{time.monotonic_ns()}.err"
    with stderr_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vlmforge", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=full_env,
            start_new_session=True,
        )
    server = Server(proc=proc, urls=[], stderr_path=stderr_path)
    try:
        assert proc.stdout is not None
        total = None
        deadline = time.monotonic() + 60
        while total is None or len(server.urls) < total:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"serve exited early:\n{stderr_path.read_text()}")
            match = URL_LINE.search(line)
            if match:
                server.urls.append(match.group(1))
                total = int(match.group(3))
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not print its URLs within 60 s")
        # keep draining stdout so a chatty server never blocks on a full pipe
        threading.Thread(
            target=lambda: server.stdout_lines.extend(iter(proc.stdout.readline, "")),
            daemon=True,
        ).start()
        for url in server.urls:
            wait_healthy(url, deadline)
    except BaseException:
        server.kill()
        raise
    return server


def wait_healthy(url: str, deadline: float) -> None:
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} never became healthy")
        time.sleep(0.05)


def _servers(tmp: Path) -> Iterator[Callable[..., Server]]:
    """A server factory whose servers are all killed when the generator finishes."""
    started: list[Server] = []

    def factory(*args: str, env: dict[str, str] | None = None) -> Server:
        server = start_server(*args, tmp=tmp, env=env)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.kill()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory: ``serve("--env", "crafter", ...)``; every server is killed at teardown."""
    yield from _servers(tmp_path)


@pytest.fixture(scope="module")
def module_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """Like ``serve`` but the servers live for the whole test module."""
    yield from _servers(tmp_path_factory.mktemp("serve"))
