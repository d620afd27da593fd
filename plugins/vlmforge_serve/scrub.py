"""Keeping keys out of ``vlmforge serve``'s logs.

A client may put its key in the URL (``GET /info?api_key=...``). The server refuses such a
request (:class:`vlmforge_serve.security.QueryKeyMiddleware`, 400), but uvicorn's access log
writes every request line, query string included, and its ``trace`` level writes whole ASGI
scopes (headers included). :class:`ScrubFilter`, installed on uvicorn's loggers, rewrites each
record before it is written: the values of secret-named query parameters (``api_key``,
``token``, ``access_token``, ``key``, ...) become ``[redacted]``, and so does the server's own
key (:func:`vlmforge.redaction.use_secret`) or a key-shaped string anywhere in the line.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

from vlmforge.redaction import REDACTED, redact_text

UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn.asgi")

_SECRET_NAME = r"[\w.\-]*(?:api[_\-]?key|secret|passw(?:or)?d|token|auth|credential)[\w.\-]*|key"
_NAME = re.compile(rf"(?:{_SECRET_NAME})", re.IGNORECASE)
# name=value inside a URL or a logged scope (query_string: b'api_key=...&x=1')
_PARAM = re.compile(rf"(?<![\w.\-])((?:{_SECRET_NAME})=)[^&\s'\"#;]*", re.IGNORECASE)


def is_secret_param(name: str) -> bool:
    """True for query parameter names that carry credentials (``api_key``, ``token``, ...)."""
    return bool(_NAME.fullmatch(unquote_plus(name).strip()))


def secret_params(query: str) -> list[str]:
    """The secret-named parameters of a query string (names only, never values)."""
    names = (part.partition("=")[0] for part in query.split("&") if part)
    return [name for name in names if is_secret_param(name)]


def scrub(text: str) -> str:
    """``text`` with secret query values, the keys in use and key-shaped strings redacted."""
    if "=" in text:
        text = _PARAM.sub(rf"\g<1>{REDACTED}", text)
    return redact_text(text)


class ScrubFilter(logging.Filter):
    """Redacts each record of the logger it is added to (see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            # (client, method, path with query, http version, status): uvicorn's AccessFormatter
            # reads these five, so the record keeps its shape.
            record.args = (args[0], args[1], scrub(str(args[2])), args[3], args[4])
            return True
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_scrub_filter(names: tuple[str, ...] = UVICORN_LOGGERS) -> None:
    """Add one :class:`ScrubFilter` to each of uvicorn's loggers (after uvicorn configured them)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubFilter) for f in logger.filters):
            logger.addFilter(ScrubFilter())
