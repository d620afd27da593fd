"""Whether a database's schema is a vlmforge trace store this vlmforge can open (any backend:
the backend reads its tables into a :class:`FileSchema`).

Writers (``vlmforge eval``) accept a new or empty file (they create the tables) and a vlmforge
store of this or an older schema version (they migrate it). Readers (``vlmforge traces``,
``vlmforge filter``) accept a vlmforge store whose tables have every column this vlmforge reads:
the current version, or an older one the readers happen to understand; they cannot migrate, so
an older store they do not understand is refused with the fix (open it once with a writer).
Both refuse another application's database (tables vlmforge does not create) and a store written
by a newer vlmforge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vlmforge.errors import ConfigError, VlmforgeError
from vlmforge.tracedb.models import Models

_SHOWN = 6


@dataclass(frozen=True)
class FileSchema:
    """The tables of a database (the engine's internal ones left out) and their columns."""

    tables: dict[str, set[str]]
    version: int | None  # MAX(schema_version.version); None without that table

    @property
    def empty(self) -> bool:
        return not self.tables


@dataclass(frozen=True)
class Engine:
    """How messages name a backend's databases."""

    kind: str  # "an SQLite database"
    empty: str  # "an empty SQLite file"
    give: str  # what to give instead: "the path of a trace database `vlmforge eval` wrote"
    new: str  # what a writer also accepts: "a new file"


SQLITE = Engine(
    "an SQLite database",
    "an empty SQLite file",
    "the path of a trace database `vlmforge eval` wrote",
    "a new file",
)


def expected_tables(models: Models) -> dict[str, set[str]]:
    """The tables of the current schema and their columns."""
    return {
        m._meta.table_name: {f.column_name for f in m._meta.sorted_fields} for m in models.all()
    }


def check_schema(
    schema: FileSchema,
    expected: Mapping[str, set[str]],
    latest_version: int,
    where: str,
    *,
    read_only: bool,
    engine: Engine = SQLITE,
) -> None:
    """Raise the error that says why ``where`` cannot be opened; nothing when it can."""
    if schema.empty:
        if read_only:
            raise ConfigError(
                f"'{where}' is {engine.empty} (no tables), not a vlmforge trace store. "
                f"Give {engine.give}."
            )
        return
    version_columns = expected.get("schema_version", set())
    if schema.version is None or schema.tables.get("schema_version") != version_columns:
        raise ConfigError(_foreign(where, schema, read_only, engine))
    if schema.version > latest_version:
        raise VlmforgeError(
            f"trace store {where} has schema version {schema.version}, newer than this vlmforge "
            f"understands ({latest_version}). Upgrade vlmforge to read it."
        )
    extra = sorted(set(schema.tables) - set(expected))
    if extra:
        raise ConfigError(_foreign(where, schema, read_only, engine, extra))
    if read_only:
        missing = _missing(schema, expected)
        lacks = _listing(missing)
        if missing and schema.version >= latest_version:
            raise VlmforgeError(
                f"trace store {where} has schema version {schema.version} but lacks {lacks}: it "
                "was changed outside vlmforge. Read a copy made before the change, or record "
                "the runs again."
            )
        if missing:
            raise VlmforgeError(
                f"trace store {where} has schema version {schema.version}, older than this "
                f"vlmforge's ({latest_version}), and a read command does not migrate a store "
                f"(it lacks {lacks}). Open it once with a write command, e.g. any "
                f"`vlmforge eval --trace-db {where} ...`, which migrates it; then read it."
            )


def _foreign(
    where: str, schema: FileSchema, read_only: bool, engine: Engine, extra: list[str] | None = None
) -> str:
    tables = extra if extra is not None else sorted(schema.tables)
    shown = _listing(tables)
    which = "tables vlmforge does not create" if extra is not None else "tables"
    action = (
        "vlmforge reads only its own trace stores"
        if read_only
        else "vlmforge does not add its tables to another application's database"
    )
    return (
        f"'{where}' is {engine.kind} but not a vlmforge trace store ({which}: {shown}); "
        f"{action}. Give {engine.give}" + ("." if read_only else f", or {engine.new}.")
    )


def _missing(schema: FileSchema, expected: Mapping[str, set[str]]) -> list[str]:
    out: list[str] = []
    for table, columns in expected.items():
        have = schema.tables.get(table)
        if have is None:
            out.append(f"table {table}")
        else:
            out.extend(f"{table}.{c}" for c in sorted(columns - have))
    return out


def _listing(items: list[str]) -> str:
    return ", ".join(items[:_SHOWN]) + (", ..." if len(items) > _SHOWN else "")
