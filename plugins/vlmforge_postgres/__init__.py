"""Bundled plugin: the ``postgres`` trace store (peewee's PostgreSQL backend over psycopg2).

Kept light: the store class is registered as a ``"module:attr"`` string, so peewee and psycopg2
are imported only when the store is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vlmforge.hookspecs import hookimpl
from vlmforge.registry import Register

if TYPE_CHECKING:
    from vlmforge.components import TraceStoreFactory


@hookimpl
def register_stores(register: Register[TraceStoreFactory]) -> None:
    register(
        "postgres",
        "vlmforge_postgres.store:PostgresStore",
        description="A PostgreSQL database: many hosts write one store (row locks, seed claims).",
        requires=("peewee", "psycopg2"),
        install_hint="pip install 'vlmforge[postgres]'",
    )
