"""Running the app under uvicorn: one process, or one process per port with ``--workers N``.

Why one port per worker: an episode lives in the memory of the process that started it, so every
request for it must reach that process. uvicorn's own ``--workers`` share one socket and let the
kernel pick a process per connection, which would send an episode's steps to workers that do not
hold it. Here worker ``i`` owns its own socket (``port + i``); the ``remote`` environment lists
every worker URL and pins each episode to the URL that started it, so no proxy hop and no routing
table are needed. The cost: clients name N URLs instead of one (``docs/serve.md``).

The parent binds every socket before it starts a worker (so a port clash is an error up front and
clients can connect as soon as the URLs are printed), hands the sockets to spawned workers, and
restarts a worker that dies. Workers exit when the parent goes away.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from vlmforge.errors import ConfigError
from vlmforge.redaction import use_secret
from vlmforge_serve.levels import ACCESS_LOG_LEVELS
from vlmforge_serve.settings import ServeSettings


@dataclass
class WorkerPlan:
    """Everything a worker process needs to build its own app (picklable)."""

    env_name: str
    env_config: dict[str, Any]
    settings: ServeSettings
    plugins_dirs: tuple[str, ...] = ()
    config_source: str = ""
    parent_pid: int = field(default_factory=os.getpid)


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on ``port``, ``port + 1``, ... (port 0: any free ports)."""
    sockets: list[socket.socket] = []
    try:
        for i in range(count):
            wanted = port + i if port else 0
            try:
                family = socket.getaddrinfo(host, wanted, type=socket.SOCK_STREAM)[0][0]
            except socket.gaierror as exc:
                raise ConfigError(f"--host {host!r}: cannot resolve it ({exc}).") from None
            # proto must say TCP: asyncio sets TCP_NODELAY on accepted connections only then
            # (without it every small response waits ~40 ms for Nagle + delayed ACK).
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, wanted))
            except OSError as exc:
                raise ConfigError(
                    f"cannot listen on {host}:{wanted}: {exc.strerror or exc}. "
                    "Choose another --port (or stop the process using it)."
                ) from None
            sock.listen(2048)
            sock.set_inheritable(True)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def build_app(plan: WorkerPlan) -> Any:
    """The ASGI app for ``plan`` (raises ConfigError on bad settings or a missing API key)."""
    from vlmforge.plugins import get_registry
    from vlmforge_serve.app import create_app
    from vlmforge_serve.hosting import EnvHost

    api_key = read_api_key(plan.settings.api_key_env)
    # The parent process (`vlmforge serve`) has already reported plugins that failed to load.
    registry = get_registry(plan.plugins_dirs)
    component = registry.get("environment", plan.env_name)
    host = EnvHost(component, plan.env_config, source=plan.config_source)
    return create_app(host, plan.settings, api_key=api_key)


def read_api_key(variable: str | None) -> str | None:
    """The key held by environment variable ``variable`` (ConfigError when unset or empty)."""
    if not variable:
        return None
    value = os.environ.get(variable, "")
    if not value.strip():
        raise ConfigError(
            f"--api-key-env {variable}: the environment variable {variable} is not set or "
            "empty. Export the key in it (or use --env-file) before starting the server."
        )
    use_secret(value)  # redacted wherever it appears in the logs
    return value.strip()


def run_uvicorn(app: Any, sock: socket.socket, settings: ServeSettings) -> None:
    """Serve ``app`` on ``sock`` until SIGINT/SIGTERM (uvicorn re-raises the signal after its
    graceful shutdown: SIGINT arrives as KeyboardInterrupt)."""
    import uvicorn

    from vlmforge_serve.scrub import install_scrub_filter

    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        access_log=settings.log_level in ACCESS_LOG_LEVELS,
        lifespan="on",
        timeout_keep_alive=30,
    )
    install_scrub_filter()  # after uvicorn.Config has configured its loggers
    uvicorn.Server(config).run(sockets=[sock])


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGTERM)
            return


def worker_main(plan: WorkerPlan, sock: socket.socket) -> None:
    """Entry point of a spawned worker process."""
    threading.Thread(target=_watch_parent, args=(plan.parent_pid,), daemon=True).start()
    run_uvicorn(build_app(plan), sock, plan.settings)


def supervise(plan: WorkerPlan, sockets: list[socket.socket], log: Any) -> int:
    """Run one worker process per socket until SIGINT/SIGTERM; restart workers that die.

    Returns the signal that stopped it.
    """
    ctx = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    received: list[int] = []

    def start(sock: socket.socket) -> Any:
        proc = ctx.Process(target=worker_main, args=(plan, sock), daemon=False)
        proc.start()
        return proc

    def stop(signum: int, frame: Any) -> None:
        received.append(signum)
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    procs = [start(sock) for sock in sockets]
    try:
        while not stopping.wait(0.5):
            for i, proc in enumerate(procs):
                if proc.is_alive():
                    continue
                log(f"worker {i} ({url_of(sockets[i])}) exited with {proc.exitcode}; restarting")
                time.sleep(1.0)
                procs[i] = start(sockets[i])
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
    return received[0]
