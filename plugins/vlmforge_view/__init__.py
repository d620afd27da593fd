"""Bundled plugin: ``vlmforge view``, a trace viewer in the browser.

Runs (summary metrics, same-seed comparison), episodes (a frame player on a timeline of rewards,
unlocks, invalid decisions and vitals), steps (the exact messages, the verbatim reply, parsed
tool calls, tokens, latency, retries, cost), a filter preview and training curves, served by
FastAPI on 127.0.0.1, or written as one self-contained HTML file (``--export``).

It reads a store only through the library's read API (:mod:`vlmforge.store_read`, the
:class:`~vlmforge.components.TraceStore` read methods), so it works for any store plugin and
never writes. Every asset (HTML, CSS, JS) ships in ``static/``; nothing is fetched from the
network. FastAPI and uvicorn are imported only when the command runs.
"""

from __future__ import annotations

from typing import Any

from vlmforge.hookspecs import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from vlmforge_view.command import command

    cli.add_command(command)
