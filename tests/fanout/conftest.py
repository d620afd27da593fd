"""The PostgreSQL server of tests/store, for the Ray tests that write a shared database."""

from tests.store.conftest import pg_server

__all__ = ["pg_server"]
