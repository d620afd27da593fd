"""How one chat-completions request reaches the server (the policy's ``http_client`` setting).

- ``direct`` (default): one ``aiohttp`` session per event loop posts the JSON body itself. The
  request is what the official client sends (the same body bytes, bearer auth, JSON content
  type, ``OpenAI-Organization``/``OpenAI-Project`` from ``$OPENAI_ORG_ID``/``$OPENAI_PROJECT_ID``,
  redirects followed, the proxy from ``$HTTPS_PROXY``/``$HTTP_PROXY``/``$NO_PROXY``, 1,000
  connections) and failures raise the
  official client's own exception types (``openai.APIStatusError`` with the response, its
  headers and decoded error body; ``APITimeoutError``; ``APIConnectionError`` raised from the
  aiohttp error), so retries and error messages do not depend on the stack. What it skips is
  the client's per-request machinery (options models, header merging, URL building, the
  httpx <-> aiohttp translation): 1.5-1.7 instead of 2.3-3.4 ms of eval CPU per call at
  c=32 (benchmarks/eval_openai.py).
- ``aiohttp`` / ``httpx``: ``openai.AsyncOpenAI.post`` over openai's aiohttp transport or its
  default httpx one.

Every stack returns the decoded JSON body (a str when the server answered 2xx with a body that is
not JSON, as the official client does) for :func:`~vlmforge_openai.reply.parse_completion`.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any, Protocol
from urllib.parse import urlsplit

import openai

from vlmforge import __version__

CHAT_PATH = "/chat/completions"
# What the official client reads from the environment when not given them (it sends them as
# headers); the direct stack sends the same.
ORGANIZATION_ENV, PROJECT_ENV = "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"
MAX_CONNECTIONS = 1000  # the official client's default connection limit


class Transport(Protocol):
    """Posts one chat-completions body; the decoded reply, or an ``openai`` exception."""

    async def post(self, body: dict[str, Any]) -> Any: ...

    async def aclose(self) -> None: ...


class OfficialTransport:
    """``openai.AsyncOpenAI.post``: the official client's own request path, retries off."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float, stack: str):
        http_client = None if stack == "httpx" else openai.DefaultAioHttpClient(timeout=timeout_s)
        self.client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=0,
            http_client=http_client,
        )

    async def post(self, body: dict[str, Any]) -> Any:
        # create() would walk the typed params and response models on every call, which costs
        # milliseconds with image messages (benchmarks/provider_overhead.py)
        return await self.client.post(
            CHAT_PATH, cast_to=dict, body=body, options={"security": {"bearer_auth": True}}
        )

    async def aclose(self) -> None:
        await self.client.close()


class DirectTransport:
    """aiohttp straight to ``{base_url}/chat/completions``; the official client's errors."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float):
        import aiohttp  # the openai[aiohttp] extra, a dependency of vlmforge

        self._aiohttp = aiohttp
        self.url = base_url + CHAT_PATH
        self.headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"vlmforge/{__version__}",
        }
        for variable, header in ((ORGANIZATION_ENV, "OpenAI-Organization"),
                                 (PROJECT_ENV, "OpenAI-Project")):  # fmt: skip
            if os.environ.get(variable):
                self.headers[header] = os.environ[variable]
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.proxy = env_proxy(self.url)
        self._session: Any = None  # created on first use, inside the running loop

    async def post(self, body: dict[str, Any]) -> Any:
        aiohttp = self._aiohttp
        if self._session is None:
            # trust_env off: aiohttp would re-read the proxy variables and ~/.netrc on every
            # request (~0.6 ms of CPU per call); the proxy is resolved once, above
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS), trust_env=False
            )
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        try:
            async with self._session.post(
                self.url,
                data=data.encode(),
                headers=self.headers,
                timeout=self.timeout,
                proxy=self.proxy,
            ) as response:
                raw = await response.read()
                status, headers = response.status, response.headers
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors
            raise openai.APITimeoutError(request=self._request()) from exc
        except aiohttp.ClientError as exc:
            raise openai.APIConnectionError(request=self._request()) from exc
        if not 200 <= status < 300:  # as httpx's raise_for_status, which the client calls
            raise self._status_error(status, list(headers.items()), raw)
        content_type = headers.get("Content-Type", "*").split(";")[0].strip()
        if not content_type.endswith("json"):
            return raw.decode("utf-8", errors="replace")  # as the official client returns it
        return json.loads(raw)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _request(self) -> Any:
        return _http_models().Request("POST", self.url)

    def _status_error(self, status: int, headers: list[tuple[str, str]], raw: bytes) -> Exception:
        """``openai.APIStatusError`` as the official client builds it from an error reply."""
        http = _http_models()
        response = http.Response(status, headers=headers, content=raw, request=self._request())
        text = response.text.strip()
        try:
            body: Any = json.loads(text)
            message = f"Error code: {status} - {body}"
        except ValueError:
            body, message = text, text or f"Error code: {status}"
        inner = body.get("error", body) if isinstance(body, dict) else body
        return openai.APIStatusError(message, response=response, body=inner)


def env_proxy(url: str) -> str | None:
    """The proxy for ``url`` from ``$HTTPS_PROXY``/``$HTTP_PROXY``/``$ALL_PROXY`` unless
    ``$NO_PROXY`` exempts its host, as the official (httpx) client reads them; None: direct."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # untyped
    if bypass(parts.hostname or "", proxies):
        return None
    return proxies.get(parts.scheme) or proxies.get("all")


def _http_models() -> Any:
    """The HTTP library whose Request/Response the ``openai`` exceptions carry (only built on
    failures): ``httpx2`` in openai 3.x, ``httpx`` before."""
    try:
        import httpx2

        return httpx2
    except ImportError:  # pragma: no cover - openai < 3
        import httpx

        return httpx


def make_transport(stack: str, base_url: str, api_key: str, timeout_s: float) -> Transport:
    """The ``http_client`` stack for one event loop."""
    if stack == "direct":
        return DirectTransport(base_url, api_key, timeout_s)
    return OfficialTransport(base_url, api_key, timeout_s, stack)
