"""The FastAPI application that serves one environment over HTTP.

Environment calls (start, reset, step, close) run in Starlette's thread pool, never on the event
loop, so one server process drives many episodes at once; the calls of one episode are serialised
by that episode's lock (an :class:`~vlmforge.components.EnvEpisode` is not shared between threads).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from vlmforge import __version__
from vlmforge.errors import ConfigError
from vlmforge_serve.episodes import (
    EpisodeLimitError,
    EpisodeTable,
    LiveEpisode,
    UnknownEpisodeError,
    new_episode_id,
)
from vlmforge_serve.hosting import EnvHost
from vlmforge_serve.security import ApiKeyMiddleware, BodyLimitMiddleware, QueryKeyMiddleware
from vlmforge_serve.settings import ServeSettings
from vlmforge_serve.wire import (
    ErrorResponse,
    HealthResponse,
    InfoResponse,
    SpecRequest,
    SpecResponse,
    StartRequest,
    StartResponse,
    StepRequest,
    StepResponse,
    observation_to_wire,
    outcome_to_wire,
    spec_to_wire,
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "API key missing or wrong"},
    413: {"model": ErrorResponse, "description": "Request body too large"},
}
_EPISODE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    404: {"model": ErrorResponse, "description": "Unknown, deleted or expired episode"},
}


def _json(model: Any, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def create_app(host: EnvHost, settings: ServeSettings, api_key: str | None = None) -> FastAPI:
    """The app for ``host``'s environment. ``api_key`` (when set) guards every path but /health."""
    table = EpisodeTable(settings.max_episodes, settings.idle_timeout)
    default_spec = spec_to_wire(host.default.spec())

    async def close_quietly(live: LiveEpisode) -> None:
        try:
            await run_in_threadpool(live.episode.close)
        except Exception as exc:  # an env's close() failing must not stop the sweeper
            app.state.close_errors.append(f"{live.id}: {type(exc).__name__}: {exc}")

    async def sweep() -> None:
        period = max(0.05, min(settings.idle_timeout / 4, 5.0))
        while True:
            await asyncio.sleep(period)
            for live in table.pop_expired():
                await close_quietly(live)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(sweep())
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            for live in table.pop_all():
                await close_quietly(live)

    app = FastAPI(
        title=f"vlmforge environment server: {host.name}",
        version=__version__,
        description="Episodes of a vlmforge environment over HTTP (see docs/serve.md).",
        lifespan=lifespan,
    )
    app.state.table = table
    app.state.close_errors = []

    def live_or_404(episode_id: str) -> LiveEpisode:
        try:
            return table.get(episode_id)
        except UnknownEpisodeError:
            raise HTTPException(
                404, "unknown episode id (never started, deleted or expired)"
            ) from None

    @app.exception_handler(ConfigError)
    async def config_error(request: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(EpisodeLimitError)
    async def episode_limit(request: Request, exc: EpisodeLimitError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": "1"})

    @app.get("/health", response_model=HealthResponse)
    async def health() -> HealthResponse:
        """Liveness and load; never needs a key."""
        stats = table.stats()
        return HealthResponse(
            env=host.name,
            active_episodes=stats["active"],
            starting=stats["starting"],
            max_episodes=settings.max_episodes,
        )

    @app.get("/info", response_model=InfoResponse, responses=_ERRORS)
    async def info() -> InfoResponse:
        """The environment: name, settings schema, tools, observation modes, spec, limits."""
        return InfoResponse(
            env=host.name,
            vlmforge_version=__version__,
            config_schema=host.config_schema(),
            default_config=host.default.config_dict(),
            tools=default_spec.tools,
            observation_modes=host.observation_modes(),
            spec=default_spec,
            max_episodes=settings.max_episodes,
            idle_timeout_s=settings.idle_timeout,
            max_body_bytes=settings.max_body_bytes,
            active_episodes=table.stats()["active"],
            auth=api_key is not None,
        )

    @app.post("/spec", response_model=SpecResponse, responses={**_ERRORS, 422: {}})
    async def spec(body: SpecRequest) -> SpecResponse:
        """The environment's spec and resolved settings for the given settings."""

        def build() -> SpecResponse:
            env = host.environment(body.config)
            return SpecResponse(
                env=host.name, spec=spec_to_wire(env.spec()), config=env.config_dict()
            )

        return await run_in_threadpool(build)

    @app.post(
        "/episodes",
        status_code=201,
        response_model=StartResponse,
        responses={**_ERRORS, 429: {"model": ErrorResponse, "description": "Episode limit"}},
    )
    async def start_episode(body: StartRequest) -> Response:
        """Start an episode for ``seed``; returns its id and first observation."""
        previous = table.by_request(body.request_id)
        if previous is not None and previous.start_response is not None:
            previous.touch()
            return _json(previous.start_response, 201)
        table.reserve()
        try:

            def start() -> tuple[Any, StartResponse]:
                env = host.environment(body.config)
                episode = env.start(body.seed)
                try:
                    first = episode.reset()
                    return episode, StartResponse(
                        episode_id="", seed=body.seed, observation=observation_to_wire(first)
                    )
                except BaseException:
                    episode.close()
                    raise

            episode, response = await run_in_threadpool(start)
        except (ConfigError, HTTPException):
            raise
        except Exception as exc:  # the environment's own failure: say so, keep serving
            raise HTTPException(500, f"environment start failed: {_describe(exc)}") from None
        finally:
            table.release()
        live = LiveEpisode(
            id=new_episode_id(), seed=body.seed, episode=episode, request_id=body.request_id
        )
        response.episode_id = live.id
        live.start_response = response
        table.add(live)
        return _json(response, 201)

    @app.post(
        "/episodes/{episode_id}/step",
        response_model=StepResponse,
        responses={**_EPISODE_ERRORS, 409: {"model": ErrorResponse}},
    )
    async def step_episode(episode_id: str, body: StepRequest) -> Response:
        """Apply the tool calls; returns the observation, reward, done and the rest."""
        live = live_or_404(episode_id)
        live.busy += 1
        try:
            async with live.lock:
                live.touch()
                if body.index is not None and body.index != live.steps:
                    last = live.last_response
                    if last is not None and body.index == last.index:
                        return _json(last)  # a retried step: answer it again, do not re-apply
                    raise HTTPException(
                        409, f"step index {body.index} out of order: expected {live.steps}"
                    )
                index = live.steps

                def step() -> StepResponse:
                    outcome = live.episode.step(body.tool_calls)
                    return outcome_to_wire(live.id, index, outcome)

                try:
                    response = await run_in_threadpool(step)
                except Exception as exc:  # the environment's own failure: say so, keep serving
                    raise HTTPException(500, f"environment step failed: {_describe(exc)}") from None
                live.steps += 1
                live.last_response = response
                live.start_response = None
                return _json(response)
        finally:
            live.busy -= 1
            live.touch()

    @app.delete("/episodes/{episode_id}", responses=_EPISODE_ERRORS)
    async def delete_episode(episode_id: str) -> dict[str, Any]:
        """End the episode and release its resources."""
        live = live_or_404(episode_id)
        async with live.lock:
            try:
                table.pop(episode_id)
            except UnknownEpisodeError:
                raise HTTPException(404, "unknown episode id") from None
            await close_quietly(live)
        return {"episode_id": episode_id, "deleted": True, "steps": live.steps}

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if api_key is not None:
        app.add_middleware(ApiKeyMiddleware, api_key=api_key)
    app.add_middleware(QueryKeyMiddleware)  # outermost: a key in the URL is refused first
    return app
