"""Shared test fixtures: a fresh plugin host per test and a real-subprocess CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from vlmforge import plugins

# The loopback OpenAI-protocol server fixture (`openai_server`), as plugin authors enable it.
pytest_plugins = ["vlmforge.testing.pytest_plugin"]

FIXTURES = Path(__file__).parent / "fixtures"
VLMFORGE = [sys.executable, "-m", "vlmforge"]


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees plugins loaded from scratch, with no plugin-related env leaking in."""
    monkeypatch.delenv(plugins.PLUGINS_ENV, raising=False)
    monkeypatch.delenv(plugins.PLUGINS_DIR_ENV, raising=False)
    plugins.reset()
    yield
    plugins.reset()


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``vlmforge ARGS`` in a real subprocess (real entry points, real exit code)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    full_env.update(env or {})
    return subprocess.run(
        [*VLMFORGE, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli
