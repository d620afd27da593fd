"""HTTP client for one ``vlmforge serve`` server: retries, backoff and clear errors.

Retrying is safe for every request the ``remote`` environment sends: a retried ``POST /episodes``
carries the same ``request_id`` (the server answers with the episode it already started) and a
retried step carries its ``index`` (the server answers from its record instead of stepping twice).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from vlmforge.errors import VlmforgeError

RETRY_STATUSES = frozenset({502, 503, 504})


class RemoteEnvError(Exception):
    """The remote environment cannot continue this episode (its server failed or is gone).

    The runner records the episode as failed with this message; other episodes go on.
    """


class ServerUnavailableError(RemoteEnvError):
    """The server did not answer (connection refused/reset, timeout) after every retry."""


class ServerBusyError(RemoteEnvError):
    """The server holds its maximum number of episodes (HTTP 429)."""


class RemoteHTTPError(RemoteEnvError):
    """The server answered with an error status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class RemoteAuthError(VlmforgeError):
    """The server refused the API key: nothing will work until the key is fixed."""

    exit_code = 2


class ServerClient:
    """Talks to one server; counts the episodes this process has open on it."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None,
        api_key_env: str | None,
        retries: int,
        backoff_s: float,
        max_backoff_s: float,
        connect_timeout_s: float,
        timeout_s: float,
    ):
        self.url = url.rstrip("/")
        self.retries, self.backoff_s, self.max_backoff_s = retries, backoff_s, max_backoff_s
        self.api_key_env = api_key_env
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )
        self._lock = threading.Lock()
        self.active = 0  # episodes this client has open here
        self.down_until = 0.0  # monotonic time before which new episodes avoid this server

    # -- load bookkeeping ------------------------------------------------------------------
    def opened(self) -> None:
        with self._lock:
            self.active += 1

    def closed(self) -> None:
        with self._lock:
            self.active = max(0, self.active - 1)

    def mark_down(self, seconds: float) -> None:
        self.down_until = time.monotonic() + seconds

    @property
    def is_down(self) -> bool:
        return time.monotonic() < self.down_until

    # -- requests --------------------------------------------------------------------------
    def request(
        self, method: str, path: str, body: Any = None, *, retries: int | None = None
    ) -> Any:
        """Send the request, retrying transient failures; returns the decoded JSON body."""
        attempts = (self.retries if retries is None else retries) + 1
        last = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))
            try:
                response = self._http.request(method, path, json=body)
            except httpx.TransportError as exc:
                last = _transport_reason(exc)
                continue
            if response.status_code in RETRY_STATUSES:
                last = f"HTTP {response.status_code}"
                continue
            return self._decode(method, path, response)
        raise ServerUnavailableError(
            f"env server {self.url} is unavailable ({last}; {method} {path} tried "
            f"{attempts} time{'s' if attempts > 1 else ''})"
        )

    def _decode(self, method: str, path: str, response: httpx.Response) -> Any:
        status = response.status_code
        if status < 300:
            try:
                return response.json()
            except ValueError:
                raise RemoteHTTPError(
                    f"env server {self.url}: {method} {path} answered with invalid JSON", status
                ) from None
        detail = _detail(response)
        if status == 401:
            where = f"${self.api_key_env}" if self.api_key_env else "no key configured"
            raise RemoteAuthError(
                f"env server {self.url} refused the request: {detail}. Check the API key "
                f"({where}; set api_key_env in the remote environment's settings)."
            )
        if status == 429:
            raise ServerBusyError(f"env server {self.url} is full: {detail}")
        raise RemoteHTTPError(
            f"env server {self.url}: {method} {path} failed with HTTP {status}: {detail}", status
        )

    def close(self) -> None:
        self._http.close()


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if detail is None:
        return response.text[:300] or response.reason_phrase
    return str(detail)[:1000]


def _transport_reason(exc: httpx.TransportError) -> str:
    name = type(exc).__name__
    text = str(exc)
    return f"{name}: {text}" if text else name
