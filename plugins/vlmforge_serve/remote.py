"""The ``remote`` environment: episodes of an environment served by ``vlmforge serve`` elsewhere.

Each episode is placed on one server when it starts (least-loaded or round-robin over
``env_urls``) and stays there: the server holds its state. Starting fails over to the next server
when one is unreachable or full; a server that disappears mid-episode fails that episode (a
:class:`~vlmforge_serve.client.RemoteEnvError` the runner records) and the others carry on.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import uuid
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from vlmforge.components import EnvSpec, Observation, StepOutcome
from vlmforge.config import StrictModel
from vlmforge.errors import ConfigError, VlmforgeError
from vlmforge.redaction import read_secret_env
from vlmforge.trace import ToolCall
from vlmforge_serve.client import (
    RemoteEnvError,
    RemoteHTTPError,
    ServerBusyError,
    ServerClient,
    ServerUnavailableError,
)
from vlmforge_serve.wire import (
    SpecResponse,
    StartResponse,
    StepResponse,
    WireError,
    observation_from_wire,
    outcome_from_wire,
    spec_from_wire,
)


class RemoteConfig(StrictModel):
    """Settings of ``--env remote``."""

    env_urls: list[str] = Field(
        min_length=1, description="Base URLs of `vlmforge serve` servers (one per worker)."
    )
    api_key_env: str | None = Field(
        None, description="Name of the environment variable holding the servers' API key."
    )
    balancing: Literal["least-loaded", "round-robin"] = Field(
        "least-loaded", description="How new episodes are spread over the servers."
    )
    env_config: dict[str, Any] = Field(
        default_factory=dict,
        description="Settings of the served environment, merged over each server's own.",
    )
    max_steps: int | None = Field(
        None,
        ge=1,
        description="Forwarded as the served environment's max_steps setting when set.",
    )
    retries: int = Field(3, ge=0, le=20, description="Retries of a failed request.")
    backoff_s: float = Field(0.25, ge=0, description="First retry delay; doubles each retry.")
    max_backoff_s: float = Field(4.0, ge=0, description="Longest delay between retries.")
    connect_timeout_s: float = Field(5.0, gt=0, description="Connection timeout per request.")
    timeout_s: float = Field(60.0, gt=0, description="Read/write timeout per request.")
    down_cooldown_s: float = Field(
        10.0, ge=0, description="How long new episodes avoid a server that failed."
    )

    @field_validator("env_urls")
    @classmethod
    def _check_urls(cls, urls: list[str]) -> list[str]:
        cleaned = []
        for url in urls:
            parts = urlsplit(url.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an http(s) URL like http://127.0.0.1:8000")
            if parts.username or parts.password:  # it would be recorded with the run
                raise ValueError(
                    "credentials in a URL are not accepted (they would be stored with the run); "
                    "put the key in an environment variable and name it in api_key_env"
                )
            cleaned.append(url.strip().rstrip("/"))
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("a URL is listed twice")
        return cleaned


class RemoteEnvironment:
    """``--env remote``: see the module docstring."""

    config_model = RemoteConfig
    io_bound = True  # calls wait on HTTP: the runner gives every episode in flight a thread

    def __init__(self, config: RemoteConfig):
        self.config = config
        api_key = None
        if config.api_key_env:
            api_key = read_secret_env(config.api_key_env)  # redacted wherever it appears
            if not api_key:
                raise ConfigError(
                    f"remote environment: api_key_env = {config.api_key_env!r}, but that "
                    "environment variable is not set or empty. Export the key (or use --env-file)."
                )
        self.servers = [
            ServerClient(
                url,
                api_key=api_key,
                api_key_env=config.api_key_env,
                retries=config.retries,
                backoff_s=config.backoff_s,
                max_backoff_s=config.max_backoff_s,
                connect_timeout_s=config.connect_timeout_s,
                timeout_s=config.timeout_s,
            )
            for url in config.env_urls
        ]
        self.env_config = dict(config.env_config)
        if config.max_steps is not None:
            self.env_config["max_steps"] = config.max_steps
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._described: SpecResponse | None = None

    # -- Environment -----------------------------------------------------------------------
    def spec(self) -> EnvSpec:
        return spec_from_wire(self._describe().spec)

    def config_dict(self) -> dict[str, Any]:
        described = self._describe()
        return {
            "served_env": described.env,
            "env_config": described.config,
            "env_urls": list(self.config.env_urls),
            "balancing": self.config.balancing,
            "api_key_env": self.config.api_key_env,
        }

    def start(self, seed: int) -> RemoteEpisode:
        return RemoteEpisode(self, seed)

    def close(self) -> None:
        for server in self.servers:
            server.close()

    # -- internals -------------------------------------------------------------------------
    def _describe(self) -> SpecResponse:
        """Ask every server for its spec; they must all serve the same environment."""
        if self._described is not None:
            return self._described
        answers: list[tuple[ServerClient, SpecResponse]] = []
        failures: list[str] = []
        for server in self.servers:
            try:
                body = server.request("POST", "/spec", {"config": self.env_config})
            except ServerUnavailableError as exc:
                failures.append(str(exc))
                server.mark_down(self.config.down_cooldown_s)
                continue
            except RemoteHTTPError as exc:
                if exc.status == 422:
                    raise ConfigError(f"remote environment env_config: {exc}") from None
                raise VlmforgeError(str(exc)) from None
            answers.append((server, SpecResponse.model_validate(body)))
        if not answers:
            raise VlmforgeError(
                "remote environment: no env server answered:\n  " + "\n  ".join(failures)
            )
        first_server, first = answers[0]
        for server, other in answers[1:]:
            if other.env != first.env or other.spec != first.spec or other.config != first.config:
                raise ConfigError(
                    f"remote environment: {server.url} serves {other.env!r} with different "
                    f"settings than {first_server.url} ({first.env!r}); every server in "
                    "env_urls must serve the same environment with the same settings."
                )
        with self._lock:
            if self._described is None:
                self._described = first
        return self._described

    def _candidates(self) -> list[ServerClient]:
        """Servers in the order a new episode should try them."""
        with self._lock:
            turn = next(self._turn)
            n = len(self.servers)
            rotated = [self.servers[(turn + i) % n] for i in range(n)]
            if self.config.balancing == "least-loaded":
                rotated.sort(key=lambda s: s.active)  # stable: ties keep the rotation
            up = [s for s in rotated if not s.is_down]
            return up + [s for s in rotated if s.is_down]

    def _open(self, seed: int) -> tuple[ServerClient, StartResponse]:
        body = {
            "seed": seed,
            "config": self.env_config,
            "request_id": uuid.uuid4().hex,
        }
        problems: list[str] = []
        for server in self._candidates():
            server.opened()
            try:
                answer = server.request("POST", "/episodes", body)
                return server, StartResponse.model_validate(answer)
            except (ServerUnavailableError, ServerBusyError) as exc:
                server.closed()
                if isinstance(exc, ServerUnavailableError):
                    server.mark_down(self.config.down_cooldown_s)
                problems.append(str(exc))
            except BaseException:
                server.closed()
                raise
        raise RemoteEnvError(
            f"no env server could start an episode for seed {seed}:\n  " + "\n  ".join(problems)
        )


class RemoteEpisode:
    """One episode on one server. Not shared between threads."""

    def __init__(self, env: RemoteEnvironment, seed: int):
        self.env, self.seed = env, seed
        self.server: ServerClient | None = None
        self.episode_id: str | None = None
        self.index = 0

    def reset(self) -> Observation:
        self.close()
        server, started = self.env._open(self.seed)
        self.server, self.episode_id, self.index = server, started.episode_id, 0
        try:
            return observation_from_wire(started.observation)
        except WireError as exc:
            raise RemoteEnvError(f"env server {server.url}: {exc}") from None

    def step(self, tool_calls: Sequence[ToolCall]) -> StepOutcome:
        if self.server is None or self.episode_id is None:
            raise RemoteEnvError("step() before reset(): the remote episode was not started")
        body = {
            "tool_calls": [call.model_dump(mode="json") for call in tool_calls],
            "index": self.index,
        }
        try:
            answer = self.server.request("POST", f"/episodes/{self.episode_id}/step", body)
            outcome = outcome_from_wire(StepResponse.model_validate(answer))
        except ServerUnavailableError as exc:
            self.server.mark_down(self.env.config.down_cooldown_s)
            raise RemoteEnvError(f"{exc}; episode (seed {self.seed}) lost") from None
        except RemoteHTTPError as exc:
            if exc.status == 404:
                raise RemoteEnvError(
                    f"env server {self.server.url} no longer holds this episode (seed "
                    f"{self.seed}): it expired (idle timeout) or the server restarted"
                ) from None
            raise
        except WireError as exc:
            raise RemoteEnvError(f"env server {self.server.url}: {exc}") from None
        self.index += 1
        return outcome

    def close(self) -> None:
        server, episode_id = self.server, self.episode_id
        if server is None or episode_id is None:
            return
        self.server = self.episode_id = None
        server.closed()
        # A server that is gone or already forgot the episode holds nothing left to release.
        with contextlib.suppress(RemoteEnvError, VlmforgeError):
            server.request("DELETE", f"/episodes/{episode_id}", retries=min(1, server.retries))
