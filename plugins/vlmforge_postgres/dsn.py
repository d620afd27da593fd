"""The connection string: where it comes from, how messages name it (never with its password).

A DSN is a URL (``postgresql://user:pw@host:5432/db``) or libpq ``key=value`` pairs. Its password
(and the whole string, when it has one) is remembered as a secret in use
(:func:`vlmforge.redaction.use_secret`), so it is redacted from anything stored or shown; messages
and summaries name the store by :func:`describe`, which leaves the password out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psycopg2
from psycopg2.extensions import parse_dsn

from vlmforge.errors import ConfigError
from vlmforge.redaction import redact_text, use_secret

DEFAULT_DSN_ENV = "VLMFORGE_PG_DSN"


@dataclass(frozen=True)
class Dsn:
    """A parsed connection string."""

    text: str  # what psycopg2 is given
    dbname: str
    where: str  # "postgresql://user@host:port/dbname", no password


def resolve(dsn: str | None, dsn_env: str | None) -> Dsn:
    """The DSN from ``[store] dsn`` or, when that is not set, the variable ``dsn_env``."""
    if dsn is None:
        variable = dsn_env or DEFAULT_DSN_ENV
        dsn = os.environ.get(variable, "").strip()
        if not dsn:
            raise ConfigError(
                f"the postgres trace store needs a connection string: set environment variable "
                f"{variable} (e.g. postgresql://USER@HOST:5432/DB), or [store] dsn_env to the "
                "variable that holds it, or [store] dsn."
            )
        source = f"${variable}"
    else:
        source = "[store] dsn"
    try:
        params = parse_dsn(dsn)
    except psycopg2.ProgrammingError as exc:
        use_secret(dsn)  # a malformed string may still hold a password: never echo it
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
        raise ConfigError(
            f"{source} is not a PostgreSQL connection string ({redact_text(first)}); write "
            "postgresql://USER@HOST:PORT/DBNAME or 'host=... dbname=...'."
        ) from None
    password = params.get("password")
    if password:
        use_secret(password)
        use_secret(dsn)
    dbname = params.get("dbname") or params.get("user") or os.environ.get("PGDATABASE") or ""
    if not dbname:
        raise ConfigError(f"{source} names no database; add /DBNAME (or dbname=...) to it.")
    return Dsn(dsn, dbname, describe(params))


def describe(params: dict[str, str]) -> str:
    """``postgresql://user@host:port/dbname`` (a socket folder as host), never the password."""
    user = params.get("user", "")
    host = params.get("host", "") or "localhost"
    port = params.get("port", "")
    at = f"{user}@" if user else ""
    return f"postgresql://{at}{host}{':' + port if port else ''}/{params.get('dbname', '')}"
