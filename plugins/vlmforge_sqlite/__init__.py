"""Bundled plugin: the ``sqlite`` trace store (peewee, WAL, content-addressed images).

Kept light: the store class is registered as a ``"module:attr"`` string, so peewee is imported
only when the store is used.
"""

from __future__ import annotations

from vlmforge.hookspecs import hookimpl


@hookimpl
def register_stores(register):  # type: ignore[no-untyped-def]
    register(
        "sqlite",
        "vlmforge_sqlite.store:SqliteStore",
        description="One SQLite file (WAL): runs, episodes, steps, messages, images stored once.",
        requires=("peewee",),
        install_hint="pip install peewee",
    )
