"""Shared fixtures for the probe tests: REAL Crafter frames, recorded once per session.

The scripted teacher plays two seeds through `vlmforge eval` into a real SQLite store (it
gathers wood and saplings, meets cows and water, and sees a night). Probe runs are played from
it by the real eval session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

TEACHER_STEPS = 160  # reaches the first night (daylight < 0.5 from about step 150)


@pytest.fixture(scope="session")
def source_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with run 'teacher': the scripted policy on seeds 0-1, 160 steps each."""
    db = tmp_path_factory.mktemp("probe-source") / "source.db"
    result = run_cli(
        "eval", "--env", "crafter", "--policy", "scripted", "--seeds", "0-1",
        "--max-steps", str(TEACHER_STEPS), "--trace-db", str(db), "--run-name", "teacher",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return db


def open_store(path: Path, *, read_only: bool = True) -> Any:
    """The sqlite store at ``path`` (read-only by default)."""
    from vlmforge_sqlite.store import SqliteStore, SqliteStoreConfig

    return SqliteStore(SqliteStoreConfig(path=str(path), read_only=read_only))
