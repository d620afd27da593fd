"""The trace-store contract runs on every SQL backend: ``backend`` is parametrised over sqlite
(a file in the test's folder) and postgres (a fresh database on one real server per session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.backends import Backend, PostgresBackend, SqliteBackend
from tests.store.pg_server import PgServer, binaries_missing


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    reason = binaries_missing()
    if reason is not None:
        pytest.skip(reason)
    server = PgServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return SqliteBackend(tmp_path / "t.db")
    server: PgServer = request.getfixturevalue("pg_server")
    return PostgresBackend(server.new_database())
