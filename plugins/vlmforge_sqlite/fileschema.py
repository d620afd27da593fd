"""What an SQLite file holds, read without changing it (no journal switch, no new files).

A file is looked at before the store opens it: by readers, which must not change it, and by
writers, which must not turn another application's database into a trace store.

How a file is read without changing it depends on its journal:

- not WAL (another application's database, usually): ``mode=ro``, which creates nothing;
- WAL with a ``-wal`` file (a writer is live, or one crashed): ``mode=ro``, which reads the WAL
  through the existing ``-shm`` and never checkpoints it into the main file;
- WAL without a ``-wal`` file (every vlmforge store once its writers have closed): a read-write
  connection with ``PRAGMA query_only``. ``mode=ro`` would leave an empty ``-wal`` and ``-shm``
  behind (a read-only connection cannot remove them); this one removes them on close, and there
  is nothing to checkpoint, so the main file is untouched.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from vlmforge.errors import ConfigError
from vlmforge.tracedb.schema_check import FileSchema

SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_BYTES = 100
_WAL_FORMAT = 2  # header bytes 18-19 (write/read format version): 2 means WAL


@dataclass(frozen=True)
class ReadTarget:
    """What ``sqlite3.connect`` is given to read a file without changing it."""

    database: str
    uri: bool


def not_sqlite_message(where: str, detail: str, read_only: bool) -> str:
    return (
        f"'{where}' is not an SQLite database ({detail}), so not a vlmforge trace store. "
        "Give the path of a trace database `vlmforge eval` wrote"
        + ("." if read_only else ", or a new file to create one.")
    )


def check_sqlite_file(path: Path, where: str, read_only: bool) -> bytes:
    """The file's header; :class:`ConfigError` when the file is not SQLite (an empty file is:
    SQLite reads it as a database without tables)."""
    try:
        with path.open("rb") as f:
            header = f.read(_HEADER_BYTES)
    except OSError as exc:
        raise ConfigError(f"cannot read trace store '{where}': {exc.strerror or exc}") from None
    if header and (len(header) < _HEADER_BYTES or not header.startswith(SQLITE_MAGIC)):
        raise ConfigError(
            not_sqlite_message(where, "it does not start with the SQLite header", read_only)
        )
    return header


def read_target(path: Path, header: bytes) -> ReadTarget:
    """How to open ``path`` for reading without changing it (see the module docstring)."""
    wal = len(header) == _HEADER_BYTES and header[18] == _WAL_FORMAT
    if wal and not path.with_name(path.name + "-wal").exists():
        return ReadTarget(str(path), uri=False)
    return ReadTarget(path.absolute().as_uri() + "?mode=ro", uri=True)


def connect_for_reading(target: ReadTarget, timeout_s: float) -> sqlite3.Connection:
    con = sqlite3.connect(target.database, uri=target.uri, timeout=timeout_s)
    con.execute("PRAGMA query_only = 1")
    return con


def read_schema(
    path: Path, where: str, timeout_s: float, *, read_only: bool
) -> tuple[FileSchema, ReadTarget]:
    """The file's tables and schema version, and how to read it; :class:`ConfigError` when it
    is not an SQLite database."""
    target = read_target(path, check_sqlite_file(path, where, read_only))
    try:
        con = connect_for_reading(target, timeout_s)
        try:
            return _schema(con), target
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(not_sqlite_message(where, f"SQLite says: {exc}", read_only)) from None


def _schema(con: sqlite3.Connection) -> FileSchema:
    names = [
        row[0]
        for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not str(row[0]).startswith("sqlite_")
    ]
    tables = {name: _columns(con, name) for name in names}
    version = None
    if "version" in tables.get("schema_version", set()):
        value = con.execute('SELECT MAX("version") FROM "schema_version"').fetchone()[0]
        version = value if isinstance(value, int) else 0 if value is None else None
    return FileSchema(tables, version)


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    quoted = table.replace('"', '""')
    return {str(row[1]) for row in con.execute(f'PRAGMA table_info("{quoted}")')}
