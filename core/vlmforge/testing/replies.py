"""What the loopback OpenAI server received (:class:`RecordedRequest`) and what it answers
(:class:`Reply`), for :mod:`vlmforge.testing.openai_server`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the server received, as received."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    received_at: float  # time.monotonic()

    @property
    def json(self) -> Any:
        """The body parsed as JSON (``None`` if empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def bearer(self) -> str | None:
        """The token of the ``Authorization: Bearer`` header, if any."""
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build it with the class methods; fields are the raw response."""

    status: int = 200
    body: dict[str, Any] | str | None = None  # a dict is sent as JSON, a str as-is
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # waited before answering (on top of the server's latency_s)
    disconnect: bool = False  # close the connection without answering
    echo_key_chars: int = 0  # a misbehaving server echoing the start of the key in its error
    content_type: str = "application/json"

    # -- successful completions ----------------------------------------------------------
    @classmethod
    def completion(
        cls,
        message: dict[str, Any],
        *,
        finish_reason: str | None = "stop",
        usage: dict[str, Any] | None = None,
        model: str | None = None,
        delay_s: float = 0.0,
    ) -> Reply:
        """A ``chat.completion`` with one choice whose message is ``message``.

        ``model`` defaults to the requested model; ``usage`` to a deterministic estimate.
        """
        body: dict[str, Any] = {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        }
        if model is not None:
            body["model"] = model
        if usage is not None:
            body["usage"] = usage
        return cls(body=body, delay_s=delay_s)

    @classmethod
    def tool_calls(
        cls,
        *calls: tuple[str, dict[str, Any] | str],
        content: str | None = None,
        finish_reason: str = "tool_calls",
        **kwargs: Any,
    ) -> Reply:
        """Native tool calls; an ``arguments`` string is sent verbatim (it may be invalid JSON)."""
        tool_calls = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": args if isinstance(args, str) else json.dumps(args),
                },
            }
            for i, (name, args) in enumerate(calls)
        ]
        message = {"role": "assistant", "content": content, "tool_calls": tool_calls}
        return cls.completion(message, finish_reason=finish_reason, **kwargs)

    @classmethod
    def tool_call(cls, name: str, arguments: dict[str, Any] | str, **kwargs: Any) -> Reply:
        """One native tool call."""
        return cls.tool_calls((name, arguments), **kwargs)

    @classmethod
    def text(cls, content: str, *, finish_reason: str = "stop", **kwargs: Any) -> Reply:
        """A plain text answer (no ``tool_calls``)."""
        message = {"role": "assistant", "content": content}
        return cls.completion(message, finish_reason=finish_reason, **kwargs)

    @classmethod
    def qwen_tool_call(
        cls, name: str, arguments: dict[str, Any], *, before: str = "", **kwargs: Any
    ) -> Reply:
        """A Qwen/Hermes text tool call: ``<tool_call>{"name":..,"arguments":..}</tool_call>``."""
        block = json.dumps({"name": name, "arguments": arguments})
        return cls.text(f"{before}<tool_call>\n{block}\n</tool_call>", **kwargs)

    @classmethod
    def length(
        cls, content: str | None = None, *, reasoning_tokens: int | None = None, **kwargs: Any
    ) -> Reply:
        """A reply cut at the token limit before any tool call (``finish_reason="length"``)."""
        usage = kwargs.pop("usage", None)
        if usage is None and reasoning_tokens is not None:
            usage = {
                "prompt_tokens": 100,
                "completion_tokens": reasoning_tokens,
                "total_tokens": 100 + reasoning_tokens,
                "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
            }
        message = {"role": "assistant", "content": content}
        return cls.completion(message, finish_reason="length", usage=usage, **kwargs)

    # -- failures -------------------------------------------------------------------------
    @classmethod
    def error(
        cls,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        headers: dict[str, str] | None = None,
        delay_s: float = 0.0,
    ) -> Reply:
        """An OpenAI-style error body ``{"error": {"message", "type", "code"}}``."""
        body = {"error": {"message": message, "type": type, "code": code, "param": None}}
        return cls(status=status, body=body, headers=dict(headers or {}), delay_s=delay_s)

    @classmethod
    def rate_limited(
        cls, retry_after: float | None = 1.0, *, retry_after_ms: float | None = None
    ) -> Reply:
        """429 with ``Retry-After`` (seconds) and/or ``retry-after-ms``."""
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        if retry_after_ms is not None:
            headers["retry-after-ms"] = f"{retry_after_ms:g}"
        return cls.error(
            429, "Rate limit reached. Please retry.", type="rate_limit_error", headers=headers
        )

    @classmethod
    def server_error(cls, status: int = 500, message: str = "The server had an error.") -> Reply:
        """A 5xx error."""
        return cls.error(status, message, type="server_error")

    @classmethod
    def auth_error(cls, *, status: int = 401, echo_key_chars: int = 0) -> Reply:
        """401 invalid key; ``echo_key_chars`` > 0 echoes that much of the key (bad servers do)."""
        reply = cls.error(
            status, "Incorrect API key provided.", type="invalid_request_error", code="invalid_key"
        )
        return replace(reply, echo_key_chars=echo_key_chars)

    @classmethod
    def malformed(cls, *, status: int = 200) -> Reply:
        """A body that claims to be JSON but is not (a truncated completion)."""
        return cls(status=status, body='{"id": "chatcmpl-1", "choices": [{"index": 0, "mess')

    @classmethod
    def html(cls, *, status: int = 502) -> Reply:
        """An HTML page instead of JSON, as a proxy or gateway in front of a server sends."""
        page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
        return cls(status=status, body=page, content_type="text/html")

    @classmethod
    def slow(cls, delay_s: float, reply: Reply | None = None) -> Reply:
        """``reply`` (default: a ``noop`` text answer) after ``delay_s`` seconds."""
        return replace(reply or cls.text("noop"), delay_s=delay_s)

    @classmethod
    def drop(cls) -> Reply:
        """Close the connection without answering (a connection error for the client)."""
        return cls(disconnect=True)
