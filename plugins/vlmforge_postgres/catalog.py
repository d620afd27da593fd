"""What a PostgreSQL database holds, read in a read-only transaction before the store opens it:
readers must not change it, writers must not add their tables to another application's schema.
"""

from __future__ import annotations

from typing import Any

from vlmforge.tracedb.schema_check import Engine, FileSchema

POSTGRES = Engine(
    "a PostgreSQL database",
    "an empty PostgreSQL database",
    "the DSN of a database `vlmforge eval` wrote",
    "an empty database",
)

_TABLES = """
SELECT c.table_name, c.column_name FROM information_schema.columns c
JOIN information_schema.tables t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
"""


def read_schema(connection: Any) -> FileSchema:
    """The tables of the connection's current schema and the highest applied migration."""
    with connection.cursor() as cursor:
        cursor.execute("BEGIN READ ONLY")
        try:
            cursor.execute(_TABLES)
            tables: dict[str, set[str]] = {}
            for table, column in cursor.fetchall():
                tables.setdefault(str(table), set()).add(str(column))
            version = None
            if "version" in tables.get("schema_version", set()):
                cursor.execute('SELECT MAX("version") FROM "schema_version"')
                value = cursor.fetchone()[0]
                version = int(value) if value is not None else 0
        finally:
            cursor.execute("ROLLBACK")
    return FileSchema(tables, version)
