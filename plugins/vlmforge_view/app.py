"""The FastAPI app of ``vlmforge view``: the page shell, its assets, a JSON API, images by hash.

Read-only: every route is a GET and reads through :class:`~vlmforge_view.reader.TraceReader`.
Images are content-addressed, so they are served with ``Cache-Control: immutable`` and their
hash as ``ETag`` (a browser asks for a frame once).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from vlmforge.components import CorruptTraceError
from vlmforge_view import site
from vlmforge_view.compare import compare
from vlmforge_view.filter_preview import PAGE_SIZE as PREVIEW_PAGE
from vlmforge_view.filter_preview import FilterPreview
from vlmforge_view.reader import NotFound, TraceReader
from vlmforge_view.runs_view import PAGE_SIZE as EPISODES_PAGE
from vlmforge_view.runs_view import episodes_page, runs_payload
from vlmforge_view.steps_view import step_payload
from vlmforge_view.timeline import CHUNK, TimelineCache, metrics_columns

IMMUTABLE = "public, max-age=31536000, immutable"
PAGES = (
    "/",
    "/runs/{run}",
    "/compare",
    "/episodes/{episode}",
    "/steps/{episode}/{index}",
    "/filter",
    "/training",
)


def episode_payload(reader: TraceReader, episode_id: str) -> dict[str, Any]:
    """An episode, its run and every step's reward and invalid flag (no step decoded)."""
    from vlmforge_view.runs_view import episode_row

    episode = reader.episode(episode_id)
    run = reader.run(episode.run_id)
    return {
        "episode": episode_row(episode),
        "run": {"id": run.id, "name": run.name, "policy": run.policy_name, "model": run.model},
        "metrics": metrics_columns(reader.step_metrics(episode_id)),
        "chunk": CHUNK,
    }


def build_app(
    reader: TraceReader,
    previews: list[FilterPreview] | None = None,
    training: list[dict[str, Any]] | None = None,
) -> FastAPI:
    app = FastAPI(title="vlmforge view", docs_url=None, redoc_url=None, openapi_url=None)
    timelines = TimelineCache(reader)
    previews = previews or []
    training = training or []
    page = site.shell()

    @app.exception_handler(NotFound)
    def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404)

    @app.exception_handler(CorruptTraceError)
    def corrupt(request: Request, exc: CorruptTraceError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=500)

    def shell() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    for path in PAGES:
        app.add_api_route(path, shell, methods=["GET"], response_class=HTMLResponse)

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        media = site.STATIC_FILES.get(name)
        if media is None:
            raise NotFound(f"no asset '{name}'")
        return Response(site.asset(name), media_type=media, headers={"Cache-Control": "no-cache"})

    @app.get("/images/{sha256}")
    def image(sha256: str, request: Request) -> Response:
        etag = f'"{sha256}"'
        headers = {"Cache-Control": IMMUTABLE, "ETag": etag}
        if request.headers.get("if-none-match") == etag:
            reader.image(sha256)  # still 404 for a hash the store does not hold
            return Response(status_code=304, headers=headers)
        return Response(reader.image(sha256), media_type="image/png", headers=headers)

    @app.get("/api/runs")
    def runs() -> dict[str, Any]:
        return runs_payload(reader)

    @app.get("/api/compare")
    def compare_runs(
        runs: str = Query(..., description="Run names or ids, comma-separated."),
    ) -> Any:
        refs = [r for r in runs.split(",") if r]
        if len(refs) < 2:
            return JSONResponse({"error": "compare needs two or more runs"}, status_code=400)
        return compare(reader, refs)

    @app.get("/api/runs/{run}/episodes")
    def episodes(
        run: str,
        offset: int = Query(0, ge=0),
        limit: int = Query(EPISODES_PAGE, ge=1, le=1000),
    ) -> dict[str, Any]:
        return episodes_page(reader, run, offset, limit)

    @app.get("/api/episodes/{episode}")
    def episode(episode: str) -> dict[str, Any]:
        return episode_payload(reader, episode)

    @app.get("/api/episodes/{episode}/timeline")
    def timeline(
        episode: str, offset: int = Query(0, ge=0), limit: int = Query(CHUNK, ge=1, le=5000)
    ) -> dict[str, Any]:
        return timelines.rows(episode, offset, limit)

    @app.get("/api/steps/{episode}/{index}")
    def step(episode: str, index: int) -> dict[str, Any]:
        return step_payload(reader, episode, index)

    @app.get("/api/filters")
    def filters() -> dict[str, Any]:
        return {"configs": [p.describe() for p in previews]}

    @app.get("/api/filters/{n}/preview")
    def preview(
        n: int, offset: int = Query(0, ge=0), limit: int = Query(PREVIEW_PAGE, ge=1, le=500)
    ) -> dict[str, Any]:
        if not 0 <= n < len(previews):
            raise NotFound(f"no filter config #{n} (pass --filter-config FILE)")
        return previews[n].page(reader, offset, limit)

    @app.get("/api/training")
    def training_runs() -> dict[str, Any]:
        return {"runs": training}

    return app
