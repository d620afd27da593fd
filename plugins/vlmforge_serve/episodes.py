"""The episodes a server holds: a bounded table with idle expiry.

The table is only touched from the server's event loop (one thread), so it needs no lock; the
environment calls themselves run in a thread pool, one at a time per episode (``LiveEpisode.lock``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from vlmforge.components import EnvEpisode
from vlmforge_serve.wire import StartResponse, StepResponse


class EpisodeLimitError(Exception):
    """The server already holds ``max_episodes`` episodes (HTTP 429)."""


class UnknownEpisodeError(KeyError):
    """No live episode has this id: never created, deleted or expired (HTTP 404)."""


@dataclass
class LiveEpisode:
    """One episode held by the server."""

    id: str
    seed: int
    episode: EnvEpisode
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    steps: int = 0  # steps applied so far
    start_response: StartResponse | None = None  # kept for a retried POST /episodes
    last_response: StepResponse | None = None  # kept for a retried step
    request_id: str | None = None
    busy: int = 0  # requests in progress (a busy episode never expires)

    def touch(self) -> None:
        self.last_used = time.monotonic()


def new_episode_id() -> str:
    """An unguessable id: holding it is what lets a client drive the episode."""
    return "ep_" + secrets.token_urlsafe(18)


class EpisodeTable:
    """Live episodes, at most ``max_episodes`` of them (starts in progress included)."""

    def __init__(self, max_episodes: int, idle_timeout: float):
        self.max_episodes, self.idle_timeout = max_episodes, idle_timeout
        self._live: dict[str, LiveEpisode] = {}
        self._by_request: dict[str, str] = {}
        self._starting = 0
        self.expired_total = 0

    def __len__(self) -> int:
        return len(self._live) + self._starting

    def reserve(self) -> None:
        """Claim a slot for an episode being started; EpisodeLimitError when full."""
        if len(self) >= self.max_episodes:
            raise EpisodeLimitError(
                f"this server already holds its maximum of {self.max_episodes} episodes; "
                "finish or delete one, or retry later"
            )
        self._starting += 1

    def release(self) -> None:
        """Give back a slot claimed by :meth:`reserve` (the start failed or completed)."""
        self._starting -= 1

    def add(self, live: LiveEpisode) -> None:
        self._live[live.id] = live
        if live.request_id:
            self._by_request[live.request_id] = live.id

    def by_request(self, request_id: str | None) -> LiveEpisode | None:
        if not request_id:
            return None
        episode_id = self._by_request.get(request_id)
        return self._live.get(episode_id) if episode_id else None

    def get(self, episode_id: str) -> LiveEpisode:
        live = self._live.get(episode_id)
        if live is None:
            raise UnknownEpisodeError(episode_id)
        return live

    def pop(self, episode_id: str) -> LiveEpisode:
        live = self._live.pop(episode_id, None)
        if live is None:
            raise UnknownEpisodeError(episode_id)
        if live.request_id:
            self._by_request.pop(live.request_id, None)
        return live

    def pop_expired(self) -> list[LiveEpisode]:
        """Remove and return the episodes idle for longer than ``idle_timeout``."""
        now = time.monotonic()
        stale = [
            live
            for live in self._live.values()
            if not live.busy and now - live.last_used > self.idle_timeout
        ]
        for live in stale:
            self.pop(live.id)
        self.expired_total += len(stale)
        return stale

    def pop_all(self) -> list[LiveEpisode]:
        lives = list(self._live.values())
        self._live.clear()
        self._by_request.clear()
        return lives

    def stats(self) -> dict[str, Any]:
        return {
            "active": len(self._live),
            "starting": self._starting,
            "expired_total": self.expired_total,
        }
