"""``vlmforge serve``: serve a registered environment over HTTP (FastAPI + uvicorn)."""

from __future__ import annotations

import ipaddress
import signal
import sys
from typing import Any

import click

from vlmforge.cli.options import component_option, plugins_dir_option
from vlmforge_serve.levels import LOG_LEVELS

EXIT_INTERRUPTED = 130  # Ctrl-C, as `vlmforge eval`


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("serve")
@component_option("environment", help="The environment to serve (see `vlmforge plugins`).")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML file with [serve] settings and the [env] name and settings.",
)
@click.option("--host", default=None, help="Bind address [default: 127.0.0.1, loopback only].")
@click.option("--port", type=int, default=None, help="Port of worker 0 [default: 8000; 0: any].")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Worker processes, one port each (port, port+1, ...) [default: 1].",
)
@click.option(
    "--api-key-env",
    default=None,
    metavar="VAR",
    help="Require the API key held by environment variable VAR (Bearer or X-API-Key).",
)
@click.option(
    "--max-episodes", type=int, default=None, help="Live episodes per worker [default: 256]."
)
@click.option(
    "--idle-timeout",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Close episodes untouched this long [default: 600].",
)
@click.option(
    "--max-body-bytes", type=int, default=None, help="Refuse larger request bodies (413)."
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default=None,
    help="uvicorn log level; info and below add the access log [default: warning].",
)
@plugins_dir_option
def command(
    env: str | None,
    config_file: str | None,
    plugins_dirs: tuple[str, ...],
    **flags: Any,
) -> None:
    """Serve an environment over HTTP for `--env remote` evals on other machines.

    \b
    Endpoints: GET /health, GET /info, POST /spec, POST /episodes,
    POST /episodes/{id}/step, DELETE /episodes/{id}; OpenAPI at /docs and /openapi.json.
    With --workers N, worker i listens on port+i: give every URL to the client
    (--env-url once per worker). See docs/serve.md.
    """
    interrupted: list[bool] = []

    def on_sigint(signum: int, frame: Any) -> None:
        interrupted.append(True)
        raise KeyboardInterrupt

    # Our handler, not Python's default: asyncio.run (inside uvicorn) replaces only the default
    # one, so a Ctrl-C at any moment (start-up, serving, shutdown) is seen here; uvicorn takes
    # the signal while it serves and re-raises it (to this handler) after its graceful shutdown.
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        stopped_by = _serve(env, config_file, plugins_dirs, flags)
    except KeyboardInterrupt:
        stopped_by = signal.SIGINT
    finally:
        signal.signal(signal.SIGINT, previous)
    if stopped_by == signal.SIGINT or interrupted:
        sys.exit(EXIT_INTERRUPTED)  # quietly, as `vlmforge eval` (no click "Aborted!")


def _serve(
    env: str | None, config_file: str | None, plugins_dirs: tuple[str, ...], flags: dict[str, Any]
) -> int | None:
    """Serve until a signal; returns the signal that stopped a multi-worker server."""
    from vlmforge.cli.options import load_registry
    from vlmforge.cli.output import console, error_console
    from vlmforge.config import validate
    from vlmforge_serve.settings import resolve
    from vlmforge_serve.workers import (
        WorkerPlan,
        bind_sockets,
        build_app,
        run_uvicorn,
        supervise,
        url_of,
    )

    settings, env_name, env_config, source = resolve(config_file, flags, env)
    plan = WorkerPlan(
        env_name=env_name,
        env_config=env_config,
        settings=settings,
        plugins_dirs=plugins_dirs,
        config_source=f"{source.path} [env]" if source else "",
    )
    if source is not None:  # errors in the file's [env] settings name their line
        model = load_registry(plugins_dirs).get("environment", env_name).config_model()
        if model is not None:
            validate(model, env_config, str(source.path), toml=source, prefix=("env",))
    app = build_app(plan)  # settings, environment and API key are checked before binding
    if not _is_loopback(settings.host) and not settings.api_key_env:
        error_console().print(
            f"[yellow]warning:[/] listening on {settings.host} without an API key: anyone who "
            "can reach this port can drive episodes. Use --api-key-env VAR.",
            markup=True,
        )
    sockets = bind_sockets(settings.host, settings.port, settings.workers)
    auth = f"API key from ${settings.api_key_env}" if settings.api_key_env else "no API key"
    for i, sock in enumerate(sockets):
        console().print(
            f"serving environment '{env_name}' on {url_of(sock)} "
            f"(worker {i + 1}/{len(sockets)}, {auth})",
            soft_wrap=True,
        )
    console().file.flush()
    try:
        if len(sockets) == 1:
            run_uvicorn(app, sockets[0], settings)  # SIGINT comes back as KeyboardInterrupt
            return None
        del app  # each worker builds its own
        return supervise(plan, sockets, log=lambda msg: error_console().print(msg, markup=False))
    finally:
        for sock in sockets:
            sock.close()
