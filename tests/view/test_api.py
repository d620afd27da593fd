"""The viewer's HTTP API over real HTTP on 127.0.0.1 (the server in a subprocess): images by
hash with caching headers, pagination, 404s, the timeline, and that it never writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.view.conftest import Viewer, _fingerprint, latest_episode


@pytest.fixture(scope="module")
def http(viewer: Viewer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=viewer.url, timeout=30) as client:
        yield client


def test_every_page_route_serves_the_shell_and_its_assets(http: httpx.Client) -> None:
    for path in ("/", "/runs/x", "/compare", "/episodes/x", "/steps/x/0", "/filter", "/training"):
        r = http.get(path)
        assert r.status_code == 200 and '<script src="/static/app.js">' in r.text
    assert http.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert http.get("/static/nope.js").status_code == 404
    assert "http://" not in http.get("/").text and "https://" not in http.get("/").text


def test_images_are_served_by_hash_with_caching_headers(http: httpx.Client, store: Any) -> None:
    episode = latest_episode(store, "random", 0)
    sha = next(iter(store.steps(episode.id))).observation.images[-1]
    r = http.get(f"/images/{sha}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == store.image(sha)
    assert (
        "immutable" in r.headers["cache-control"]
        and "max-age=31536000" in r.headers["cache-control"]
    )
    again = http.get(f"/images/{sha}", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert http.get("/images/" + "0" * 64).status_code == 404
    bad = http.get("/images/not-a-hash")
    assert bad.status_code == 404 and "64 hex digits" in bad.json()["error"]


def test_episodes_are_paginated(http: httpx.Client, store: Any) -> None:
    run = store.get_run("llm")
    seeds = [e.seed for e in store.episodes([run.id])]
    page = http.get("/api/runs/llm/episodes", params={"offset": 1, "limit": 1}).json()
    assert page["total"] == len(seeds) and [e["seed"] for e in page["episodes"]] == seeds[1:2]
    assert http.get("/api/runs/llm/episodes", params={"limit": 0}).status_code == 422
    assert http.get("/api/runs/nope/episodes").status_code == 404


def test_timeline_pages_match_the_stored_steps(http: httpx.Client, store: Any) -> None:
    episode = latest_episode(store, "random", 1)
    steps = list(store.steps(episode.id))
    meta = http.get(f"/api/episodes/{episode.id}").json()
    assert meta["metrics"]["reward"] == [s.reward for s in steps]
    assert meta["metrics"]["invalid"] == [int(s.invalid_decision) for s in steps]
    rows = []
    for offset in range(0, len(steps), 5):
        rows += http.get(
            f"/api/episodes/{episode.id}/timeline", params={"offset": offset, "limit": 5}
        ).json()["rows"]
    assert [r["i"] for r in rows] == [s.index for s in steps]
    assert [r["frame"] for r in rows] == [s.observation.images[-1] for s in steps]
    assert [r["actions"] for r in rows] == [s.actions for s in steps]
    inventory = steps[0].observation.ground_truth["inventory"]
    assert rows[0]["vitals"] == {k: inventory[k] for k in ("health", "food", "drink", "energy")}


def test_step_api_and_missing_things(http: httpx.Client, store: Any) -> None:
    episode = latest_episode(store, "llm", 0)
    step = http.get(f"/api/steps/{episode.id}/0").json()
    stored = next(iter(store.steps(episode.id)))
    assert step["prompt"][0]["parts"][0]["text"] == stored.prompt[0].content
    assert step["lm_call"]["usage"] == stored.lm_call.model_dump(mode="json")["usage"]
    assert step["cost_usd"] is None  # test-model has no price: unknown, never a guess
    stored_steps = {s.index: s for s in store.steps(episode.id)}
    for index in (6, 5, 7, 11):  # a read, then its neighbours (kept from that read)
        got = http.get(f"/api/steps/{episode.id}/{index}").json()
        assert got["index"] == index and got["actions"] == stored_steps[index].actions
        reply = stored_steps[index].reply
        assert reply is not None
        assert "".join(p.get("text", "") for p in got["reply"]["parts"]) == reply.text()
        assert got["reply"]["tool_calls"] == [
            c.model_dump(mode="json") for c in reply.tool_calls or []
        ]
    missing = http.get(f"/api/steps/{episode.id}/999")
    assert missing.status_code == 404 and "no step 999" in missing.json()["error"]
    assert http.get("/api/episodes/nope").status_code == 404
    assert http.get("/api/compare", params={"runs": "llm"}).status_code == 400


def test_filter_preview_api_pages(http: httpx.Client, store: Any) -> None:
    total = sum(1 for _ in store.episodes())
    first = http.get("/api/filters/0/preview", params={"limit": 2}).json()
    rest = http.get("/api/filters/0/preview", params={"offset": 2, "limit": 100}).json()
    assert first["total"] == total and len(first["episodes"]) == 2
    assert len(first["episodes"]) + len(rest["episodes"]) == total
    assert [f["name"] for f in first["filters"]] == ["status", "decision-quality"]
    assert first["not_used"] == ["output_dir"]  # said on the page; nothing is exported
    assert http.get("/api/filters/5/preview").status_code == 404


def test_viewing_never_writes_the_store(view_db: Path, tmp_path: Path) -> None:
    """A viewer on a copy, every kind of read, then Ctrl-C (exit 130): the file's bytes and
    mtime are unchanged and no -wal / -shm / -journal is left next to it."""
    import shutil
    import signal

    copy = tmp_path / "copy.db"
    shutil.copy2(view_db, copy)
    before = (_fingerprint(copy), copy.stat().st_mtime_ns)
    assert list(before[0]) == ["copy.db"]
    server = Viewer(["--trace-db", str(copy)])
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            episodes = client.get("/api/runs/llm/episodes").json()["episodes"]
            eid = episodes[0]["id"]
            for path in ("/api/runs", "/api/compare?runs=llm,random", f"/api/episodes/{eid}",
                         f"/api/episodes/{eid}/timeline", f"/api/steps/{eid}/1"):  # fmt: skip
                assert client.get(path).status_code == 200, path
    finally:
        server.proc.send_signal(signal.SIGINT)
        server.proc.wait(timeout=30)
    assert server.proc.returncode == 130, server.proc.stderr.read() if server.proc.stderr else ""
    assert (_fingerprint(copy), copy.stat().st_mtime_ns) == before


def test_a_non_loopback_host_warns_that_anyone_can_read(view_db: Path) -> None:
    server = Viewer(["--trace-db", str(view_db), "--host", "0.0.0.0"])
    try:
        port = server.url.rsplit(":", 1)[1]
        assert httpx.get(f"http://127.0.0.1:{port}/api/runs", timeout=30).status_code == 200
    finally:
        server.stop()
    assert server.proc.stderr is not None
    assert "--host 0.0.0.0: anyone who can reach it reads the traces" in server.proc.stderr.read()
