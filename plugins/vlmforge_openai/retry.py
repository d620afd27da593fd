"""Calling a provider with retries: classify failures, back off with jitter, record attempts.

The ``openai`` client's own retries are switched off (``max_retries=0``) so that every HTTP
attempt is ours and lands in ``LMCall.attempts`` with its status, latency, error and the
``Retry-After`` the server asked for.

- retried: 408, 409, 429, 5xx, connection errors, timeouts, and replies that are not valid
  chat-completion JSON (a proxy's HTML error page, a truncated body);
- not retried: other 4xx (bad request, not found, ...): the episode fails with the message;
- fatal: 401 and 403 (bad key, no access) and an exhausted quota (``insufficient_quota``, sent
  as a 429): the whole run stops, since every later call would fail the same way.

Waits: ``Retry-After``/``retry-after-ms`` when the server sends one (honoured as given, up to
``retry_after_max_s``; beyond that we give up rather than hang), otherwise exponential backoff
``backoff_s * 2**n`` capped at ``backoff_max_s``, with jitter (a uniform draw in [50%, 100%]).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import openai

from vlmforge.trace import Attempt

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 429})
FATAL_STATUS = frozenset({401, 403})
# error codes that no retry fixes and that every later call would hit too (stop the run)
FATAL_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})


class MalformedResponseError(Exception):
    """The server answered 200 with something that is not a chat completion."""

    def __init__(self, message: str, status: int | None = 200):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetrySettings:
    max_retries: int = 4
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 120.0
    timeout_s: float = 60.0


@dataclass(frozen=True)
class Failure:
    """One failed attempt, classified."""

    status: int | None
    message: str  # already redacted
    retryable: bool
    fatal: bool = False
    retry_after_s: float | None = None
    kind: str = ""  # "auth" or "quota" for fatal failures


class CallFailedError(Exception):
    """Every attempt failed, or one failed in a way not worth retrying."""

    def __init__(self, failure: Failure, attempts: list[Attempt], reason: str):
        super().__init__(reason)
        self.failure, self.attempts, self.reason = failure, attempts, reason


def redact(text: str, secret: str | None, *, min_overlap: int = 6) -> str:
    """``text`` with any token sharing ``min_overlap``+ characters with ``secret`` replaced.

    Catches the key itself and the prefixes some servers echo back ("You passed: sk-abc...").
    """
    if not secret or len(secret) < min_overlap:
        return text
    windows = {secret[i : i + min_overlap] for i in range(len(secret) - min_overlap + 1)}

    def scrub(match: re.Match[str]) -> str:
        token = match.group(0)
        for i in range(len(token) - min_overlap + 1):
            if token[i : i + min_overlap] in windows:
                return "[REDACTED]"
        return token

    return re.sub(rf"[^\s\"'`,;:()\[\]{{}}<>]{{{min_overlap},}}", scrub, text)


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def classify(exc: BaseException, secret: str | None, timeout_s: float) -> Failure | None:
    """A :class:`Failure` for the provider errors we know; ``None`` for anything else."""
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = redact(f"HTTP {status}: {_error_message(exc)}", secret)
        retry_after = parse_retry_after(exc.response.headers)
        if status in FATAL_STATUS:
            return Failure(status, message, retryable=False, fatal=True, kind="auth")
        if _error_code(exc) in FATAL_CODES:
            return Failure(status, message, retryable=False, fatal=True, kind="quota")
        retryable = status in RETRYABLE_STATUS or status >= 500
        return Failure(status, message, retryable=retryable, retry_after_s=retry_after)
    if isinstance(exc, openai.APITimeoutError) and not _dropped_connection(exc):
        return Failure(None, f"timed out after {timeout_s:g}s", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = _root_cause(exc)
        detail = f"{type(cause).__name__}: {cause}" if cause is not exc else str(exc)
        return Failure(None, redact(f"connection error ({detail})", secret), retryable=True)
    if isinstance(exc, MalformedResponseError):
        return Failure(exc.status, redact(str(exc), secret), retryable=True)
    if isinstance(exc, openai.APIResponseValidationError):
        message = redact(f"invalid response: {exc.message}", secret)
        return Failure(exc.status_code, message, retryable=True)
    if isinstance(exc, json.JSONDecodeError):
        return Failure(200, f"malformed JSON in the response ({exc.msg})", retryable=True)
    return None


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from, outermost first."""
    chain, seen = [exc], {id(exc)}
    while chain[-1].__cause__ is not None and id(chain[-1].__cause__) not in seen:
        chain.append(chain[-1].__cause__)
        seen.add(id(chain[-1]))
    return chain


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception that ``exc`` was raised from."""
    return _causes(exc)[-1]


def _dropped_connection(exc: BaseException) -> bool:
    """Whether an ``APITimeoutError`` was really a connection failure: openai's aiohttp
    transport raises a refused or server-closed connection (aiohttp's ``ClientConnectorError``,
    ``ServerDisconnectedError``) as a connect timeout. Judged by what lies under the client
    libraries' own exceptions: no timeout there means it was not one."""
    below = [
        e
        for e in _causes(exc)[1:]
        if not type(e).__module__.startswith(("openai", "httpx", "httpcore"))
    ]
    if not below:
        return False
    return not any(isinstance(e, TimeoutError) or "Timeout" in type(e).__name__ for e in below)


def _error_code(exc: openai.APIStatusError) -> str | None:
    body = exc.body
    inner = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(inner, dict):
        code = inner.get("code") or inner.get("type")
        return str(code) if code else None
    return None


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    text = exc.response.text if exc.response is not None else ""
    return (text or exc.message)[:500]


def backoff_delay(n: int, settings: RetrySettings, rng: random.Random) -> float:
    """Wait before retry ``n`` (0-based) without a Retry-After: exponential, capped, jittered."""
    base = min(settings.backoff_max_s, settings.backoff_s * (2**n))
    return base * rng.uniform(0.5, 1.0)


async def call_with_retries(
    send: Callable[[], Awaitable[T]],
    settings: RetrySettings,
    *,
    secret: str | None,
    rng: random.Random,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> tuple[T, list[Attempt]]:
    """Run ``send`` until it succeeds; every attempt is recorded.

    Raises :class:`CallFailedError` (with all attempts) when retries are exhausted, the failure is
    not retryable, or the server asks for a wait longer than ``retry_after_max_s``.
    """
    attempts: list[Attempt] = []
    for n in range(settings.max_retries + 1):
        started = time.perf_counter()
        try:
            result = await send()
        except Exception as exc:  # classified below; anything unknown is re-raised
            failure = classify(exc, secret, settings.timeout_s)
            if failure is None:
                raise
            attempts.append(
                Attempt(
                    attempt=n + 1,
                    status=failure.status,
                    latency_s=time.perf_counter() - started,
                    error=failure.message,
                    retry_after_s=failure.retry_after_s,
                )
            )
            if not failure.retryable:
                raise CallFailedError(failure, attempts, failure.message) from None
            if n == settings.max_retries:
                reason = f"{failure.message} (gave up after {n + 1} attempt{'s' if n else ''})"
                raise CallFailedError(failure, attempts, reason) from None
            if failure.retry_after_s is not None:
                if failure.retry_after_s > settings.retry_after_max_s:
                    reason = (
                        f"{failure.message}: the server asked to retry after "
                        f"{failure.retry_after_s:g}s, more than retry_after_max_s="
                        f"{settings.retry_after_max_s:g}s"
                    )
                    raise CallFailedError(failure, attempts, reason) from None
                delay = failure.retry_after_s
            else:
                delay = backoff_delay(n, settings, rng)
            await sleep(delay)
            continue
        attempts.append(Attempt(attempt=n + 1, status=200, latency_s=time.perf_counter() - started))
        return result, attempts
    raise AssertionError("unreachable")  # pragma: no cover
