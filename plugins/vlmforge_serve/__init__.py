"""Bundled plugin: ``vlmforge serve`` (environments over HTTP) and the ``remote`` environment.

Light on purpose: FastAPI, uvicorn and httpx are imported only when the command runs or the
environment is built.
"""

from __future__ import annotations

from typing import Any

from vlmforge.hookspecs import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from vlmforge_serve.command import command

    cli.add_command(command)


@hookimpl
def register_environments(register: Any) -> None:
    register(
        "remote",
        "vlmforge_serve.remote:RemoteEnvironment",
        description="Episodes of an environment served by `vlmforge serve` on other hosts.",
        requires=("httpx",),
    )
