"""``[store]`` settings for ``--store postgres``."""

from __future__ import annotations

from pydantic import Field

from vlmforge.config import StrictModel
from vlmforge_postgres.dsn import DEFAULT_DSN_ENV


class PostgresStoreConfig(StrictModel):
    """``[store]`` settings for ``--store postgres``."""

    dsn: str | None = Field(
        None,
        description="Connection string (postgresql://USER@HOST:PORT/DB or libpq key=value). "
        "Prefer dsn_env for one with a password: a config file is often shared.",
    )
    dsn_env: str = Field(
        DEFAULT_DSN_ENV,
        min_length=1,
        description="Environment variable holding the connection string (when dsn is not set).",
    )
    connect_timeout_s: int = Field(
        10, ge=1, description="How long to wait for the server when connecting, in seconds."
    )
    lock_timeout_s: float = Field(
        60.0,
        gt=0,
        description="How long a write waits for a row or table lock another writer holds.",
    )
    compress_level: int = Field(
        6, ge=0, le=9, description="zlib level for step payloads and prompt messages."
    )
    read_only: bool = Field(
        False,
        description="Open for reading only: every transaction is READ ONLY, nothing is created "
        "or migrated; a database that is not a vlmforge store is refused. Readers set it.",
    )
