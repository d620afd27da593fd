"""The ``postgres`` trace store: one PostgreSQL database written by many processes and hosts.

The tables, codec, queries, cleanup and migrations are the SQLite store's
(:mod:`vlmforge.tracedb`); this module connects, checks a database before writing it, and gives
the transaction hooks their PostgreSQL meaning:

- seed claims lock the run's row (``SELECT ... FOR UPDATE``), so the claims of one run are
  serialised across processes and hosts while steps of other episodes go on;
- migrations hold a transaction-level advisory lock, so two processes opening a fresh database
  at once create the tables once;
- garbage collection scans in a ``REPEATABLE READ`` snapshot and deletes holding an
  ``EXCLUSIVE`` lock on ``step``, ``image`` and ``blob`` (readers go on, writers wait).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import peewee as pw
import psycopg2
import psycopg2.errors

from vlmforge.errors import ConfigError, VlmforgeError
from vlmforge.redaction import redact_text
from vlmforge.tracedb.migrations import LATEST_VERSION
from vlmforge.tracedb.models import make_models
from vlmforge.tracedb.schema_check import check_schema, expected_tables
from vlmforge.tracedb.store import PeeweeTraceStore
from vlmforge_postgres.catalog import POSTGRES, read_schema
from vlmforge_postgres.config import PostgresStoreConfig
from vlmforge_postgres.dsn import Dsn, resolve

_EXPECTED = expected_tables(make_models(pw.PostgresqlDatabase(None)))
_MIGRATION_LOCK = 0x766C6D66  # "vlmf": pg_advisory_xact_lock key of schema migrations


class PostgresStore(PeeweeTraceStore):
    """``--store postgres`` (``[store] dsn`` or the variable ``dsn_env`` names the database)."""

    config_model = PostgresStoreConfig

    @classmethod
    def exists(cls, config: PostgresStoreConfig) -> bool:
        """Whether the database holds a vlmforge store (its ``schema_version`` table); an
        unreachable server is an error, not a missing store."""
        dsn = resolve(config.dsn, config.dsn_env)
        connection = _connect(dsn, config, read_only=True)
        try:
            return "schema_version" in read_schema(connection).tables
        finally:
            connection.close()

    def __init__(self, config: PostgresStoreConfig):
        self.config = config
        self.dsn = resolve(config.dsn, config.dsn_env)
        where = self.dsn.where
        probe = _connect(self.dsn, config, read_only=True)
        try:
            check_schema(
                read_schema(probe),
                _EXPECTED,
                LATEST_VERSION,
                where,
                read_only=config.read_only,
                engine=POSTGRES,
            )
        finally:
            probe.close()
        database = pw.PostgresqlDatabase(
            self.dsn.dbname, **_connect_params(self.dsn, config, read_only=config.read_only)
        )
        try:
            super().__init__(
                database,
                where=where,
                compress_level=config.compress_level,
                read_only=config.read_only,
            )
        except pw.OperationalError as exc:
            raise _connect_error(self.dsn, exc) from None

    def _migrate(self) -> list[int]:
        with self.db.atomic():
            self.db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            return super()._migrate()  # nested: savepoints inside the locked transaction

    @contextmanager
    def _write_transaction(self) -> Iterator[object]:
        if self.read_only:
            raise ConfigError(
                f"trace store '{self.where}' is opened read_only and cannot be written; drop "
                "read_only from [store] (readers set it themselves)."
            )
        try:
            with self.db.atomic() as tx:
                yield tx
        except pw.OperationalError as exc:
            if not isinstance(getattr(exc, "orig", None), psycopg2.errors.LockNotAvailable):
                raise
            raise VlmforgeError(
                f"trace store {self.where}: a write waited longer than lock_timeout_s "
                f"({self.config.lock_timeout_s:g} s) for a lock another session holds; nothing "
                "of it was written. Is a session stuck holding it (pg_stat_activity)? Raise "
                "[store] lock_timeout_s to wait longer."
            ) from None

    @contextmanager
    def _exclusive_transaction(self) -> Iterator[object]:
        with self._write_transaction() as tx:
            self.db.execute_sql('LOCK TABLE "step", "image", "blob" IN EXCLUSIVE MODE')
            yield tx

    @contextmanager
    def _snapshot(self) -> Iterator[object]:
        with self.db.atomic(isolation_level="REPEATABLE READ") as tx:
            yield tx


def _connect_params(dsn: Dsn, config: PostgresStoreConfig, *, read_only: bool) -> dict[str, Any]:
    options = f"-c lock_timeout={int(config.lock_timeout_s * 1000)}"
    if read_only:
        options += " -c default_transaction_read_only=on"
    return {
        "dsn": dsn.text,
        "connect_timeout": config.connect_timeout_s,
        "options": options,
        "application_name": "vlmforge",
    }


def _connect(dsn: Dsn, config: PostgresStoreConfig, *, read_only: bool) -> Any:
    """A plain psycopg2 connection (autocommit: the catalog reader opens its own transaction)."""
    try:
        connection = psycopg2.connect(
            dbname=dsn.dbname, **_connect_params(dsn, config, read_only=read_only)
        )
    except psycopg2.OperationalError as exc:
        raise _connect_error(dsn, exc) from None
    connection.autocommit = True
    return connection


def _connect_error(dsn: Dsn, exc: Exception) -> VlmforgeError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return VlmforgeError(
        f"cannot open trace store {dsn.where}: {redact_text(first)}. Is the server running and "
        "the DSN ([store] dsn, or the variable [store] dsn_env names) right?"
    )
