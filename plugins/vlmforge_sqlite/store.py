"""The ``sqlite`` trace store: one SQLite file in WAL mode, several writers at once.

Opened for writing (``vlmforge eval``), an existing file is checked first: another
application's database is refused before anything is changed. Opened ``read_only`` (readers),
nothing is written at all (:mod:`vlmforge_sqlite.fileschema`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import peewee as pw
from pydantic import Field

from vlmforge.config import StrictModel
from vlmforge.errors import ConfigError, StorageFullError, VlmforgeError, is_disk_full
from vlmforge.tracedb.migrations import LATEST_VERSION
from vlmforge.tracedb.models import make_models
from vlmforge.tracedb.schema_check import check_schema, expected_tables
from vlmforge.tracedb.store import PeeweeTraceStore
from vlmforge_sqlite.fileschema import read_schema

# 16 KiB pages pack ~1-2 KB PNG frames and compressed steps with little slack (4 KiB pages
# waste ~25% on rows of that size). Only applies when the file is created.
PAGE_SIZE = 16384
_LOCK_ATTEMPTS = 4
_EXPECTED = expected_tables(make_models(pw.SqliteDatabase(None)))


class SqliteStoreConfig(StrictModel):
    """``[store]`` settings for ``--store sqlite``."""

    path: str = Field("traces.db", description="The database file (created if missing).")
    busy_timeout_s: float = Field(
        60.0, gt=0, description="How long a writer waits for another process's write lock."
    )
    compress_level: int = Field(
        6, ge=0, le=9, description="zlib level for step payloads and prompt messages."
    )
    cache_mib: float = Field(
        16.0, gt=0, description="SQLite page cache per connection, in MiB (the most it holds)."
    )
    read_only: bool = Field(
        False,
        description="Open for reading only: nothing is written (no tables created, no "
        "migration, no WAL switch); a file that is not a vlmforge store is refused. Readers "
        "(vlmforge traces, vlmforge filter) set it.",
    )


class SqliteStore(PeeweeTraceStore):
    """``--store sqlite`` (``--trace-db PATH`` sets ``path``)."""

    config_model = SqliteStoreConfig
    read_settings = {"cache_mib": 2.0}  # opened for streaming reads (filter): a small page cache

    @classmethod
    def exists(cls, config: SqliteStoreConfig) -> bool:
        """Whether the database file is there (opening a missing one creates it)."""
        return Path(config.path).expanduser().exists()

    def __init__(self, config: SqliteStoreConfig):
        self.config = config
        path = Path(config.path).expanduser()
        if path.is_dir():
            raise ConfigError(f"trace store path '{path}' is a directory; give a file name.")
        self.path = path
        if config.read_only:
            database = self._open_for_reading(path)
        else:
            database = self._open_for_writing(path)
        try:
            super().__init__(
                database,
                where=str(path),
                compress_level=config.compress_level,
                read_only=config.read_only,
            )
        except (pw.DatabaseError, sqlite3.DatabaseError) as exc:
            if is_disk_full(exc):
                raise self._full() from None
            raise VlmforgeError(
                f"cannot open trace store '{path}': {exc}. Is it a vlmforge SQLite database?"
            ) from None

    def _open_for_writing(self, path: Path) -> pw.SqliteDatabase:
        """Create the file or check it is a vlmforge store, then switch it to WAL."""
        config = self.config
        if path.exists():  # look before changing anything: another application's database?
            schema, _ = read_schema(path, str(path), config.busy_timeout_s, read_only=False)
            check_schema(schema, _EXPECTED, LATEST_VERSION, str(path), read_only=False)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise VlmforgeError(
                f"cannot create the folder for trace store '{path}': {exc}"
            ) from None
        try:
            _ensure_wal(path, config.busy_timeout_s)
        except sqlite3.DatabaseError as exc:
            if is_disk_full(exc):
                raise self._full() from None
            raise VlmforgeError(
                f"cannot open trace store '{path}': {exc}. Is it a vlmforge SQLite database?"
            ) from None
        return pw.SqliteDatabase(
            str(path),
            pragmas=[
                ("synchronous", "normal"),
                ("busy_timeout", int(config.busy_timeout_s * 1000)),
                ("foreign_keys", 1),
                ("cache_size", -int(config.cache_mib * 1024)),
            ],
            timeout=config.busy_timeout_s,
            thread_safe=False,
            check_same_thread=False,
        )

    def _open_for_reading(self, path: Path) -> pw.SqliteDatabase:
        """Check the file is a vlmforge store this vlmforge reads; a connection that writes
        nothing (see :mod:`vlmforge_sqlite.fileschema`)."""
        config = self.config
        if not path.is_file():
            raise ConfigError(f"trace database '{path}' does not exist; pass --trace-db PATH.")
        schema, target = read_schema(path, str(path), config.busy_timeout_s, read_only=True)
        check_schema(schema, _EXPECTED, LATEST_VERSION, str(path), read_only=True)
        return pw.SqliteDatabase(
            target.database,
            pragmas=[
                ("query_only", 1),
                ("busy_timeout", int(config.busy_timeout_s * 1000)),
                ("cache_size", -int(config.cache_mib * 1024)),
            ],
            timeout=config.busy_timeout_s,
            thread_safe=False,
            check_same_thread=False,
            uri=target.uri,
        )

    @contextmanager
    def _write_transaction(self) -> Iterator[object]:
        """BEGIN IMMEDIATE (take the write lock first: no deadlocked upgrades), retried while
        another process holds the lock beyond the busy timeout's own waiting."""
        if self.read_only:
            raise ConfigError(
                f"trace store '{self.path}' is opened read_only and cannot be written; drop "
                "read_only from [store] (readers set it themselves)."
            )
        attempts = 0
        while True:
            try:
                tx = self.db.atomic("IMMEDIATE")
                tx.__enter__()
                break
            except pw.OperationalError as exc:
                attempts += 1
                if not _is_lock_error(exc):
                    raise
                if attempts >= _LOCK_ATTEMPTS:
                    raise VlmforgeError(
                        f"trace store '{self.path}' stayed locked by another writer for "
                        f"{_LOCK_ATTEMPTS} x busy_timeout_s ({self.config.busy_timeout_s:g} s); "
                        "is a process stuck holding it? Raise [store] busy_timeout_s to wait "
                        "longer."
                    ) from None
                time.sleep(0.05 * 2**attempts)
        try:
            try:
                yield tx
            except BaseException as exc:
                tx.__exit__(type(exc), exc, exc.__traceback__)
                raise
            else:
                tx.__exit__(None, None, None)  # the commit: where a full disk shows in WAL mode
        except (pw.DatabaseError, sqlite3.DatabaseError, OSError) as exc:
            if not is_disk_full(exc):
                raise
            self._end_failed_transaction()
            raise self._full() from None

    def _full(self) -> StorageFullError:
        return StorageFullError(
            f"the disk holding trace store '{self.path}' is full (SQLite: database or disk is "
            "full); the transaction in progress was rolled back."
        )

    def _end_failed_transaction(self) -> None:
        """After a failed commit SQLite may or may not have rolled back; make sure it has."""
        connection = self.db.connection()
        if connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                connection.rollback()

    def checkpoint(self) -> None:
        """Fold the WAL into the main file (sizes on disk are then final)."""
        self.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        if not self.read_only and not self.db.is_closed():
            # another writer busy: the WAL is folded in later, nothing is lost
            with contextlib.suppress(pw.OperationalError):
                self.checkpoint()
        super().close()


def _ensure_wal(path: Path, busy_timeout_s: float) -> None:
    """Create the file with our page size in WAL mode (a no-op for an existing WAL database).

    Switching to WAL can fail at once with "database is locked", without SQLite's busy handler
    waiting, while another process opens the same new file: two evals started together on a
    fresh path. Such failures are retried with backoff for up to ``busy_timeout_s``.
    """
    deadline = time.monotonic() + busy_timeout_s
    delay = 0.01
    while True:
        con = sqlite3.connect(path, timeout=busy_timeout_s)
        try:
            con.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # only applies to a new file
            con.execute("PRAGMA journal_mode = wal")
            return
        except sqlite3.OperationalError as exc:
            if not _is_lock_error(exc) or time.monotonic() + delay > deadline:
                raise
        finally:
            con.close()
        time.sleep(delay)
        delay = min(0.5, delay * 2)


def _is_lock_error(exc: Exception) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)
