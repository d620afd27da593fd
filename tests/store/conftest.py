"""The trace-store contract runs on every SQL backend: ``backend`` is parametrised over sqlite
(a file in the test's folder) and postgres (a fresh database on one real server per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.store.backends import Backend, PostgresBackend, SqliteBackend
from tests.store.pg_server import PgServer, binaries_missing, shared_server


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    """A real PostgreSQL server (one per test process; skipped without Debian's binaries)."""
    reason = binaries_missing()
    if reason is not None:
        pytest.skip(reason)
    return shared_server()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return SqliteBackend(tmp_path / "t.db")
    server: PgServer = request.getfixturevalue("pg_server")
    return PostgresBackend(server.new_database())
