"""ASGI middleware in front of the app: keys in URLs refused, API-key check, body size limit.

All run before FastAPI parses anything, so an unauthenticated or oversize request costs almost
nothing. The key check is constant-time (``hmac.compare_digest``) and its 401 says only whether a
key was missing or wrong: it never repeats any part of any key. A key in the query string
(``?api_key=...``) is refused with 400 whether or not it is right: URLs end up in access logs,
proxies and shell histories (the access log is scrubbed too: :mod:`vlmforge_serve.scrub`).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from vlmforge_serve.scrub import secret_params

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/health"})  # reachable without a key (load balancers, probes)


async def _send_json(
    send: Send, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def presented_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The key from ``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` (first one found)."""
    for name, value in headers:
        lname = name.lower()
        if lname == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
        elif lname == b"x-api-key" and value.strip():
            return value.strip()
    return None


class ApiKeyMiddleware:
    """Every path except /health needs the key (when one is configured)."""

    def __init__(self, app: ASGIApp, api_key: str):
        self.app = app
        self._key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = presented_key(scope.get("headers", []))
        if given is None:
            detail = "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        elif hmac.compare_digest(given, self._key):
            await self.app(scope, receive, send)
            return
        else:
            detail = "wrong API key"
        await _send_json(send, 401, detail, [(b"www-authenticate", b"Bearer")])


class QueryKeyMiddleware:
    """Refuse (400) a request whose query string carries a key (``?api_key=``, ``?token=``)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string", b"").decode("latin-1")
            names = secret_params(query) if query else []
            if names:
                detail = (
                    f"API keys are not accepted in the URL (query parameter {names[0]!r}): send "
                    "'Authorization: Bearer <key>' or 'X-API-Key: <key>', and treat a key that "
                    "was sent in a URL as leaked"
                )
                await _send_json(send, 400, detail)
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = f"request body larger than {self.max_bytes} bytes"
        for name, value in scope.get("headers", []):
            if name.lower() == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, "invalid Content-Length")
                    return
                if declared > self.max_bytes:
                    await _send_json(send, 413, too_big)
                    return
        # Chunked or lying clients: read the body here, counting, then replay it to the app.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_json(send, 413, too_big)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
