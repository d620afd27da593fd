"""Bundled plugin: the ``sqlite`` trace store (peewee, WAL, content-addressed images).

Kept light: the store class is registered as a ``"module:attr"`` string, so peewee is imported
only when the store is used.
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
        "sqlite",
        "vlmforge_sqlite.store:SqliteStore",
        description="One SQLite file (WAL): runs, episodes, steps, messages, images stored once.",
        requires=("peewee",),
        install_hint="pip install peewee",
    )
