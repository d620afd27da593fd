"""Shared test fixtures: a fresh plugin host per test and the CLI runners.

``cli`` (and ``run_cli``) run ``vlmforge ARGS`` in-process, isolated like a fresh process;
``cli_subprocess`` (and ``run_cli_subprocess``) run it in a real subprocess, for what only a
real process shows (signals, entry points of installed packages, start-up, ``python -m``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli_runner import VLMFORGE, run_cli, run_cli_subprocess
from vlmforge import plugins

# The loopback OpenAI-protocol server fixture (`openai_server`), as plugin authors enable it.
pytest_plugins = ["vlmforge.testing.pytest_plugin"]

FIXTURES = Path(__file__).parent / "fixtures"
__all__ = ["FIXTURES", "VLMFORGE", "run_cli", "run_cli_subprocess"]


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees plugins loaded from scratch, with no plugin-related env leaking in."""
    monkeypatch.delenv(plugins.PLUGINS_ENV, raising=False)
    monkeypatch.delenv(plugins.PLUGINS_DIR_ENV, raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)  # the openai policy honours it
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli(*args, env=, cwd=, input=)``: ``vlmforge ARGS`` in-process; a CompletedProcess."""
    return run_cli


@pytest.fixture
def cli_subprocess() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli_subprocess(*args, env=, cwd=, timeout=, input=)``: in a real subprocess."""
    return run_cli_subprocess
