"""``vlmforge view --export report.html RUN...``: the viewer's pages for some runs as one
self-contained HTML file (CSS, script, data and every image inlined as base64; no request is
made when it is opened).

The data the pages would ask the server for is embedded once, keyed the way the script looks
it up; routes become ``#/...`` fragments. The filter preview is not part of a report.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from vlmforge.errors import VlmforgeError
from vlmforge.trace import Step
from vlmforge_view import site
from vlmforge_view.app import episode_payload
from vlmforge_view.compare import compare
from vlmforge_view.reader import TraceReader
from vlmforge_view.runs_view import episode_row, runs_payload
from vlmforge_view.steps_view import step_view
from vlmforge_view.timeline import timeline_row


def _images_of(step: Step) -> list[str]:
    found = list(step.observation.images)
    for message in [*step.prompt, *([step.reply] if step.reply else [])]:
        found += message.image_hashes()
    return found


def _intern(messages: dict[str, Any], message: dict[str, Any]) -> str:
    """The key of ``message`` in ``messages`` (added once): steps repeat the system prompt and
    the history turns, which a report then holds once."""
    key = hashlib.sha256(json.dumps(message, sort_keys=True).encode("utf-8")).hexdigest()[:20]
    messages.setdefault(key, message)
    return key


def report_data(
    reader: TraceReader, refs: list[str], training: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Everything the pages of ``refs`` (run names or ids) show."""
    runs = runs_payload(reader, refs)
    data: dict[str, Any] = {
        "title": f"{reader.where}: {', '.join(r['name'] for r in runs['runs'])}",
        "runs": runs,
        "compare": compare(reader, [r["id"] for r in runs["runs"]]) if len(refs) > 1 else None,
        "episodes": {},
        "episode": {},
        "timeline": {},
        "step": {},
        "tools": {},  # run id -> tool schemas, once (the step pages share them)
        "messages": {},  # a prompt message's hash -> the message, once (system prompt, history)
        "training": training or [],
        "images": {},
    }
    hashes: set[str] = set()
    for row in runs["runs"]:
        run = reader.run(row["id"])
        episodes = reader.episodes(run.id)
        data["episodes"][run.id] = {
            "run": {
                "id": run.id,
                "name": run.name,
                "env": run.env_name,
                "policy": run.policy_name,
                "model": run.model,
            },
            "episodes": [episode_row(e) for e in episodes],
        }
        data["tools"][run.id] = list(run.tools)
        for episode in episodes:
            data["episode"][episode.id] = episode_payload(reader, episode.id)
            timeline = data["timeline"][episode.id] = []
            for step in reader.iter_steps(episode.id):
                timeline.append(timeline_row(step))
                view = step_view(run, step, reader, episode.steps)
                del view["tools"]
                view["prompt"] = [_intern(data["messages"], m) for m in view["prompt"]]
                data["step"][f"{episode.id}/{step.index}"] = view
                hashes.update(_images_of(step))
    for sha in sorted(hashes):
        data["images"][sha] = base64.b64encode(reader.image(sha)).decode("ascii")
    return data


def render_report(data: dict[str, Any]) -> str:
    """The page shell with its CSS, script and ``data`` inlined."""
    page = site.shell()
    for marker in (site.DATA_MARKER, site.CSS_LINK, site.JS_TAG):
        if marker not in page:
            raise VlmforgeError(f"vlmforge_view/static/index.html lost its marker {marker!r}")
    blob = site.inline_json(json.dumps(data, separators=(",", ":")))
    page = page.replace(
        site.DATA_MARKER, f'<script id="vlmforge-data" type="application/json">{blob}</script>'
    )
    page = page.replace(site.CSS_LINK, f"<style>\n{site.asset('app.css')}</style>")
    return page.replace(
        site.JS_TAG, f"<script>\n{site.inline_script(site.asset('app.js'))}</script>"
    )


def write_report(path: Path, html: str) -> None:
    """Written next to ``path`` and moved into place: an earlier report survives a failure."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
