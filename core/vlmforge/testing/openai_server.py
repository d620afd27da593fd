"""A scriptable OpenAI-protocol server on 127.0.0.1, for tests and benchmarks.

It is a real HTTP/1.1 server (asyncio, in its own thread) that answers
``POST /v1/chat/completions`` from a script, so the real ``openai`` client can be driven through
every case a remote provider produces: tool calls, text, Qwen-style ``<tool_call>`` text, 429 with
``Retry-After``, 5xx, slow replies, malformed JSON, invalid tool arguments, auth errors, dropped
connections. Every request received is recorded (headers included) so a test can check what was
sent::

    from vlmforge.testing.openai_server import OpenAIServer, Reply

    with OpenAIServer([Reply.rate_limited(retry_after=0.05),
                       Reply.tool_call("interact", {"action": "noop"})]) as srv:
        client = openai.AsyncOpenAI(base_url=srv.base_url, api_key="sk-test")
        ...
        assert srv.requests[1].json["model"] == "gpt-4o"

The script is consumed in order, one item per chat-completions request; an item is a
:class:`Reply` or a callable ``(RecordedRequest) -> Reply``. ``script`` may also be a single
callable used for every request. When the script runs out, ``default`` answers (by default a
400 error saying the script is exhausted, so a test never hangs on an unexpected extra call).
``latency_s`` is added before every reply (the benchmark's injected latency). ``GET /v1/models``
lists ``models``. With ``api_key`` set, a request without ``Authorization: Bearer <api_key>``
gets a 401.

The server thread shares the GIL with the test's own code. For throughput measurements run it in
its own process instead: :func:`serve_in_subprocess` (or ``python -m
vlmforge.testing.openai_server --latency-ms 100``, which prints its base URL and answers every
request with one tool call until interrupted).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from vlmforge.testing.replies import RecordedRequest, Reply

__all__ = ["OpenAIServer", "RecordedRequest", "Reply", "serve_in_subprocess"]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class OpenAIServer:
    """A loopback chat-completions server with a per-test script. See the module docstring."""

    def __init__(
        self,
        script: Sequence[Any] | Callable[[RecordedRequest], Reply] = (),
        *,
        default: Reply | Callable[[RecordedRequest], Reply] | None = None,
        latency_s: float = 0.0,
        api_key: str | None = None,
        models: Iterable[str] = ("test-model",),
        host: str = "127.0.0.1",
        port: int = 0,
        record: bool = True,
    ):
        self._script: list[Any] = []
        self._responder: Callable[[RecordedRequest], Reply] | None = None
        if callable(script):
            self._responder = script
        else:
            self._script = list(script)
        self.default = default or Reply.error(
            400,
            "OpenAIServer: the test script is exhausted (no reply left for this request).",
            type="script_exhausted",
        )
        self.latency_s = latency_s
        self.api_key = api_key
        self.models = list(models)
        self.host, self._port = host, port
        self.record = record
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> OpenAIServer:
        """Start serving (returns once the port is bound)."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="OpenAIServer", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise RuntimeError(f"OpenAIServer failed to start: {self._startup_error}")
        return self

    def stop(self) -> None:
        """Stop serving and close open connections (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = self._loop = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: pass it as the client's (or policy's) ``base_url``."""
        return f"http://{self.host}:{self._port}/v1"

    # -- script and records ---------------------------------------------------------------
    def push(self, *items: Reply | Callable[[RecordedRequest], Reply]) -> None:
        """Append replies to the script."""
        with self._lock:
            self._script.extend(items)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far (``record=False`` keeps none), oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The ``POST .../chat/completions`` requests received so far."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def remaining(self) -> int:
        """Scripted replies not yet used."""
        with self._lock:
            return len(self._script)

    # -- serving --------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, self._port, backlog=1024)
            )
        except OSError as exc:
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection should close."""
        request_line = await reader.readline()
        if not request_line.strip():
            return False
        method, target, *_ = request_line.decode("latin-1").split()
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await _read_body(reader, headers)
        request = RecordedRequest(method, target.split("?")[0], headers, body, time.monotonic())
        if self.record:
            with self._lock:
                self._requests.append(request)
        reply = self._reply_for(request)
        delay = self.latency_s + reply.delay_s
        if delay > 0:
            await asyncio.sleep(delay)
        if reply.disconnect:
            return False
        writer.write(self._render(reply, request))
        await writer.drain()
        return headers.get("connection", "").lower() != "close"

    def _reply_for(self, request: RecordedRequest) -> Reply:
        if self.api_key is not None and request.bearer != self.api_key:
            return Reply.auth_error()
        if request.method == "GET" and request.path.endswith("/models"):
            data = [{"id": m, "object": "model", "owned_by": "vlmforge"} for m in self.models]
            return Reply(body={"object": "list", "data": data})
        if request.method != "POST" or not request.path.endswith("/chat/completions"):
            return Reply.error(404, f"no route {request.method} {request.path}", type="not_found")
        with self._lock:
            item = self._script.pop(0) if self._script else None
        if item is None:
            item = self._responder or self.default
        return item(request) if callable(item) else item

    def _render(self, reply: Reply, request: RecordedRequest) -> bytes:
        body = reply.body
        content_type = reply.content_type
        if isinstance(body, dict):
            body = self._fill(body, request, reply)
            payload = json.dumps(body).encode()
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload, content_type = b"", "text/plain"
        reason = _REASONS.get(reply.status, "Unknown")
        head = [
            f"HTTP/1.1 {reply.status} {reason}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(payload)}",
            "Connection: keep-alive",
            *(f"{k}: {v}" for k, v in reply.headers.items()),
        ]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload

    def _fill(self, body: dict[str, Any], request: RecordedRequest, reply: Reply) -> dict[str, Any]:
        """Complete a scripted body with what depends on the request (id, model, usage)."""
        body = dict(body)
        if "error" in body and reply.echo_key_chars:
            error = dict(body["error"])
            error["message"] += f" You passed: {(request.bearer or '')[: reply.echo_key_chars]}"
            body["error"] = error
        if body.get("object") != "chat.completion":
            return body
        sent = request.json or {}
        body.setdefault("id", f"chatcmpl-{next(self._ids)}")
        body.setdefault("created", int(time.time()))
        body.setdefault("model", sent.get("model", "unknown"))
        if "usage" not in body:
            prompt_tokens = max(1, len(request.body) // 4)
            completion_tokens = max(1, len(json.dumps(body["choices"])) // 8)
            body["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        return body


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readline()
    length = int(headers.get("content-length", "0") or 0)
    return await reader.readexactly(length) if length else b""


# -- a server in its own process (benchmarks) -----------------------------------------------
@contextlib.contextmanager
def serve_in_subprocess(
    *,
    latency_s: float = 0.0,
    tool: str = "interact_many",
    arguments: dict[str, Any] | None = None,
    startup_timeout_s: float = 30.0,
) -> Iterator[str]:
    """Run a server in a child process answering every request with one tool call; yields its
    base URL and stops the process on exit. Nothing is recorded (the process runs unbounded)."""
    command = [
        sys.executable,
        "-m",
        "vlmforge.testing.openai_server",
        "--latency-ms",
        str(latency_s * 1000),
        "--tool",
        tool,
        "--arguments",
        json.dumps(arguments if arguments is not None else {"actions": ["noop"]}),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("http://"):
            raise RuntimeError(f"OpenAIServer subprocess did not start (said {line!r})")
        yield line
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(startup_timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m vlmforge.testing.openai_server``: serve one canned tool call until stopped."""
    parser = argparse.ArgumentParser(description="Loopback OpenAI-protocol test server.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--tool", default="interact_many")
    parser.add_argument("--arguments", default='{"actions": ["noop"]}', help="JSON object")
    args = parser.parse_args(argv)
    reply = Reply.tool_call(args.tool, json.loads(args.arguments))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with OpenAIServer(
        default=reply, latency_s=args.latency_ms / 1000, record=False, port=args.port
    ) as srv:
        print(srv.base_url, flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
