"""Schema versions and explicit migrations.

The database records every applied migration in ``schema_version``. Opening a store applies the
missing ones in order, inside a write transaction (two processes opening a fresh file at once are
safe: the second sees the first's version and does nothing). A database written by a newer
vlmforge is refused with a clear message rather than misread.

To change the schema: add a :class:`Migration` with the next number whose ``apply`` issues the
DDL (raw SQL or ``playhouse.migrate``; never the current model classes, which describe the
latest schema only), update :mod:`vlmforge.tracedb.models`, and add a test that opens a database
at the previous version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

import peewee as pw

from vlmforge.errors import VlmforgeError
from vlmforge.tracedb.models import Models


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[pw.Database, Models], None]


def _initial(db: pw.Database, models: Models) -> None:
    db.create_tables(models.all(), safe=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, episodes, steps, blobs, images, achievements", _initial),
)
LATEST_VERSION = MIGRATIONS[-1].version


def current_version(models: Models) -> int:
    """The highest applied migration (0 for an empty database)."""
    row = models.SchemaVersion.select(pw.fn.MAX(models.SchemaVersion.version)).scalar()
    return int(row or 0)


def migrate(
    db: pw.Database,
    models: Models,
    write_transaction: Callable[[], AbstractContextManager[object]],
    where: str,
) -> list[int]:
    """Apply the missing migrations; returns the versions applied."""
    db.create_tables([models.SchemaVersion], safe=True)
    applied: list[int] = []
    with write_transaction():
        version = current_version(models)
        if version > LATEST_VERSION:
            raise VlmforgeError(
                f"trace store {where} has schema version {version}, newer than this vlmforge "
                f"understands ({LATEST_VERSION}). Upgrade vlmforge to read it."
            )
        for migration in _pending(version):
            migration.apply(db, models)
            models.SchemaVersion.create(
                version=migration.version,
                applied_at=dt.datetime.now(dt.UTC).isoformat(),
                description=migration.description,
            )
            applied.append(migration.version)
    return applied


def _pending(version: int) -> Iterator[Migration]:
    return (m for m in MIGRATIONS if m.version > version)
