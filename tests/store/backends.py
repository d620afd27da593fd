"""One trace-store backend as the contract tests see it: open a store, and read or change the
database behind the store's back (what another process or a damaged database would do)."""

from __future__ import annotations

import contextlib
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import psycopg2

from tests.eval.helpers import open_store
from vlmforge.tracedb.store import PeeweeTraceStore

TABLES = ("schema_version", "run", "episode", "step", "blob", "image", "achievement")


class Backend:
    """``open(**settings)``, ``settings()`` (the ``[store]`` table), raw ``query``/``execute``."""

    name: str

    def open(self, **settings: Any) -> PeeweeTraceStore:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        raise NotImplementedError

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        raise NotImplementedError

    param = "?"

    def count(self, sql: str) -> int:
        return int(self.query(sql)[0][0])

    def all_text(self) -> str:
        """Every stored value of every table as text, compressed columns decompressed: what a
        secret must never be found in."""
        parts: list[str] = []
        for table in TABLES:
            for row in self.query(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        data = bytes(value)
                        with contextlib.suppress(zlib.error):
                            data = zlib.decompress(data)
                        parts.append(data.decode("utf-8", "replace"))
                    else:
                        parts.append(str(value))
        return "\n".join(parts)


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: Path):
        self.path = path

    def open(self, **settings: Any) -> PeeweeTraceStore:
        return open_store(self.path, **settings)

    def settings(self) -> dict[str, Any]:
        return {"name": "sqlite", "path": str(self.path)}

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        con = sqlite3.connect(self.path)
        try:
            return list(con.execute(sql, params))
        finally:
            con.close()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        con = sqlite3.connect(self.path)
        try:
            with con:
                con.execute(sql, params)
        finally:
            con.close()


class PostgresBackend(Backend):
    name = "postgres"
    param = "%s"

    def __init__(self, dsn: str):
        self.dsn = dsn

    def open(self, **settings: Any) -> PeeweeTraceStore:
        from vlmforge_postgres.config import PostgresStoreConfig
        from vlmforge_postgres.store import PostgresStore

        return PostgresStore(PostgresStoreConfig(dsn=self.dsn, **settings))

    def settings(self) -> dict[str, Any]:
        return {"name": "postgres", "dsn": self.dsn}

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        con = psycopg2.connect(self.dsn)
        try:
            with con.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), params)
                return list(cur.fetchall())
        finally:
            con.close()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        con = psycopg2.connect(self.dsn)
        try:
            with con, con.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), params)
        finally:
            con.close()
