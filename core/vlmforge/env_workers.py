"""Environments in worker processes (``env_workers = N`` / ``--env-workers N``).

:class:`EnvWorkerPool` is an :class:`~vlmforge.components.Environment` whose episodes live in
``N`` child processes, each building the environment from its registered name and settings.
The runner awaits its episodes' calls on the event loop (``async_calls``: a reply goes from the
worker's reader thread straight to the loop, no env thread in between), so:

- environment steps (Crafter: ~1.5 ms of Python per step) run on other cores, beside the event
  loop's HTTP calls and the store's writes;
- the eval process never imports the environment's packages (Crafter + numba: ~140 MB).

Each worker steps its episodes in arrival order, and starts, resets (world generation) and
closes them on a second thread, so steps never queue behind a new world. Requests are
pipelined (the eval process sends the next ones while a worker is busy; one reader thread per
worker hands replies back), so a worker never waits on the eval process. A new episode goes to
the worker with the fewest open episodes. Workers ignore SIGINT (the eval process decides how to
stop) and exit when the eval process closes the pool or dies (their pipe reaches EOF). A worker
that dies fails the episodes it held with a message naming the exit code; the others carry on.

Worlds ahead of time: when the environment says its first observation depends on the seed alone
(``reset_ahead = True``, as Crafter does), the runner tells the pool which seed it will start
next (:meth:`EnvWorkerPool.prefetch`) and a worker starts and resets that episode on its second
thread while it is otherwise idle; the episode then starts with its world already built. At
most :attr:`EnvWorkerPool.prefetch_limit` such worlds wait at once (the oldest is dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from vlmforge.components import EnvSpec, Observation, StepOutcome
from vlmforge.config import TomlSource
from vlmforge.errors import ComponentUnavailableError, ConfigError, VlmforgeError
from vlmforge.trace import ToolCall

# Errors re-raised in the eval process under their own class (the CLI prints them and exits).
_USER_ERRORS: dict[str, type[VlmforgeError]] = {
    "ConfigError": ConfigError,
    "UnknownComponentError": ConfigError,
    "ComponentUnavailableError": ComponentUnavailableError,
}


class EnvWorkerError(VlmforgeError):
    """An environment worker process failed (its episode is recorded as failed)."""


@dataclass(frozen=True)
class EnvBuild:
    """What a worker needs to build the environment, and where errors should point."""

    name: str
    settings: dict[str, Any]
    where: str = "[env]"
    toml: TomlSource | None = None
    prefix: tuple[Any, ...] = ()
    plugins_dirs: tuple[str, ...] = ()
    max_steps: int | None = None  # passed as the env's max_steps setting if it has one


def build_env(registry: Any, build: EnvBuild) -> Any:
    """The environment ``build`` describes (in this process)."""
    from vlmforge.components_build import accepts_setting, build_component

    settings = dict(build.settings)
    if build.max_steps is not None and accepts_setting(
        registry, "environment", build.name, "max_steps"
    ):
        settings["max_steps"] = build.max_steps
    return build_component(
        registry,
        "environment",
        build.name,
        settings,
        where=build.where,
        toml=build.toml,
        prefix=build.prefix,
    )


# -- the worker process ---------------------------------------------------------------------
_READY = 0  # the request id of the start-up handshake
# the worker's GIL switch interval: how long a step can wait for the reset thread
_SWITCH_INTERVAL_S = 0.001


def _worker_main(conn: Connection) -> None:
    """Build the environment, then answer ``(id, op, episode key, *args)`` requests with
    ``(id, "ok", result)`` or ``(id, "err", error class name, message)``.

    Steps run on the main thread as they arrive. ``start``, ``reset`` and ``close`` (Crafter's
    reset is ~50 ms of world generation, worth ~30 steps) run in arrival order on one background
    thread, so the other episodes' steps never queue behind them; with a short GIL switch
    interval a step waits at most ~1 ms for a world being generated. The eval process sends an
    episode's next request only after the previous reply, so one episode's requests never
    overlap.

    ``prefetch`` (no reply) starts and resets an episode ahead of time on the background thread;
    its ``reset`` then answers with that first observation (or error) at once. Requests with id
    None get no reply."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the eval process decides how to stop
    try:
        from vlmforge.plugins import get_registry

        build: EnvBuild = conn.recv()
        env = build_env(get_registry(build.plugins_dirs), build)
        reset_ahead = bool(getattr(env, "reset_ahead", False))
        conn.send((_READY, "ok", (env.spec(), env.config_dict(), reset_ahead)))
    except BaseException as exc:  # reported to the eval process, which raises it
        message = str(exc) or traceback.format_exc(limit=3)
        conn.send((_READY, "err", type(exc).__name__, message))
        return
    sys.setswitchinterval(_SWITCH_INTERVAL_S)
    episodes: dict[int, Any] = {}
    # key -> the prefetched episode's first reply: ("ok", observation) or ("err", class, message)
    prepared: dict[int, tuple[Any, ...]] = {}
    send_lock = threading.Lock()

    def reply(request_id: int | None, message: tuple[Any, ...]) -> None:
        if request_id is None:
            return
        with send_lock, contextlib.suppress(OSError):  # OSError: the eval process is gone
            conn.send((request_id, *message))

    def prefetch(key: int, seed: int) -> None:
        try:
            episodes[key] = env.start(seed)
            outcome: tuple[Any, ...] = ("ok", episodes[key].reset())
        except Exception as exc:  # reported when the episode is reset
            outcome = ("err", type(exc).__name__, str(exc))
        prepared[key] = outcome

    def serve(request_id: int | None, op: str, key: int, args: list[Any]) -> None:
        if op == "prefetch":
            prefetch(key, *args)
            return
        if op == "reset" and key in prepared:
            reply(request_id, prepared.pop(key))
            return
        try:
            if op == "start":
                episodes[key] = env.start(*args)
                result: Any = None
            elif op == "close":
                episode = episodes.pop(key, None)
                prepared.pop(key, None)
                result = episode.close() if episode is not None else None
            else:  # reset, step
                result = getattr(episodes[key], op)(*args)
            message: tuple[Any, ...] = ("ok", result)
        except Exception as exc:  # the episode's error, recorded on it by the runner
            message = ("err", type(exc).__name__, str(exc))
        reply(request_id, message)

    slow = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vlmforge-env-slow")
    try:
        while True:
            try:
                request_id, op, key, *args = conn.recv()
            except (EOFError, OSError):  # the eval process is gone
                return
            if op == "stop":
                return
            if op == "step" or (op == "reset" and key in prepared):  # no queue behind worlds
                serve(request_id, op, key, args)
            else:
                slow.submit(serve, request_id, op, key, args)
    finally:
        slow.shutdown(wait=False, cancel_futures=True)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m vlmforge.env_workers --fd N``: serve episodes over the socket ``N``."""
    parser = argparse.ArgumentParser(description="vlmforge environment worker (internal).")
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args(argv)
    _worker_main(Connection(args.fd))


# -- the eval process's side ----------------------------------------------------------------
class _Worker:
    """One worker process: requests go out under a lock, a reader thread resolves replies."""

    def __init__(self, index: int, build: EnvBuild):
        self.index = index
        ours, theirs = socket.socketpair()
        with theirs:
            # a fresh interpreter (-m), not multiprocessing's spawn, which would re-import the
            # caller's __main__ script
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vlmforge.env_workers", "--fd", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        self.conn = Connection(ours.detach())
        self.open_episodes = 0
        self.prefetched = 0  # worlds built ahead of time, not yet started
        self.dead: str | None = None  # why it can no longer be used
        self._send_lock = threading.Lock()
        self._ids = itertools.count(_READY + 1)
        self.ready: Future[Any] = Future()
        # request id -> (its future, its operation, named if the worker dies before replying)
        self._pending: dict[int, tuple[_Pending, str]] = {_READY: (self.ready, "start-up")}
        self.conn.send(build)
        self._reader = threading.Thread(
            target=self._read, name=f"vlmforge-env-worker-{index}", daemon=True
        )
        self._reader.start()

    def call(self, op: str, key: int, *args: Any) -> Any:
        """Send one request and wait for its reply (from any thread)."""
        future: Future[Any] = Future()
        self._send(future, op, key, args)
        return future.result()

    async def acall(self, op: str, key: int, *args: Any) -> Any:
        """Send one request and await its reply on the running event loop: the reader thread
        hands it straight to the loop, with no thread in between."""
        future = _LoopFuture(asyncio.get_running_loop())
        self._send(future, op, key, args)
        return await future.future

    def notify(self, op: str, key: int, *args: Any) -> None:
        """Send one request that gets no reply (a worker that is gone is ignored)."""
        with self._send_lock:
            if self.dead is None:
                with contextlib.suppress(OSError):
                    self.conn.send((None, op, key, *args))

    def _send(self, future: _Pending, op: str, key: int, args: tuple[Any, ...]) -> None:
        with self._send_lock:
            if self.dead is not None:
                raise EnvWorkerError(self.dead)
            request_id = next(self._ids)
            self._pending[request_id] = (future, op)
            # if the worker is gone, its reader fails every pending request, this one included
            with contextlib.suppress(OSError):
                self.conn.send((request_id, op, key, *args))

    def _read(self) -> None:
        while True:
            try:
                request_id, status, *rest = self.conn.recv()
            except (EOFError, OSError):
                break
            future, _ = self._pending.pop(request_id)
            if status == "ok":
                future.set_result(rest[0])
            else:
                future.set_exception(_error(*rest))
        with self._send_lock:
            self.dead = self.dead or (
                f"environment worker {self.index} exited (exit code {self.exit_code()})"
            )
            pending, self._pending = self._pending, {}
            for future, op in pending.values():
                future.set_exception(EnvWorkerError(f"{self.dead} while running {op}"))

    def stop(self) -> None:
        with self._send_lock:
            self.dead = self.dead or "the environment workers were closed"
            if self.process.poll() is None:
                with contextlib.suppress(OSError):
                    self.conn.send((0, "stop", None))

    def join(self) -> None:
        if self.exit_code() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)
        self.conn.close()

    def exit_code(self, wait_s: float = 5.0) -> int | None:
        try:
            return self.process.wait(wait_s)
        except subprocess.TimeoutExpired:
            return None


class _LoopFuture:
    """An asyncio future resolved from the reader thread (the same two methods as
    :class:`concurrent.futures.Future`, scheduled onto its loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop, self.future = loop, loop.create_future()

    def set_result(self, result: Any) -> None:
        self._resolve(self.future.set_result, result)

    def set_exception(self, exc: BaseException) -> None:
        self._resolve(self.future.set_exception, exc)

    def _resolve(self, setter: Callable[[Any], None], value: Any) -> None:
        def resolve() -> None:
            if not self.future.done():  # not cancelled meanwhile
                setter(value)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody awaits it
            self.loop.call_soon_threadsafe(resolve)


_Pending = Future | _LoopFuture


def _error(kind: str, message: str) -> Exception:
    """The eval-process exception for a worker's error: user errors keep their class."""
    user_error = _USER_ERRORS.get(kind)
    if user_error is not None:
        return user_error(message)
    return EnvWorkerError(f"{kind}: {message}")


class EnvWorkerPool:
    """An environment run in ``workers`` child processes (see the module docstring)."""

    config_model = None  # settings are validated by the environment inside each worker
    async_calls = True  # the runner awaits astart() and the episodes' areset/astep/aclose
    prefetch_limit = 64  # worlds built ahead of time that may wait at once

    def __init__(self, build: EnvBuild, workers: int):
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self._workers = [_Worker(index, build) for index in range(workers)]
        self._lock = threading.Lock()
        self._ready = False
        self._spec: EnvSpec | None = None
        self._config: dict[str, Any] = {}
        self._keys = itertools.count()
        self._reset_ahead = False
        # (seed, worker, key) of every world built ahead of time and not yet started, oldest first
        self._prefetch_order: collections.deque[tuple[int, _Worker, int]] = collections.deque()
        self.prefetch_counts = {"prefetched": 0, "used": 0, "dropped": 0}

    def _wait_ready(self) -> None:
        if self._ready:
            return
        for worker in self._workers:
            try:
                self._spec, self._config, self._reset_ahead = worker.ready.result()
            except BaseException:
                self.close()
                raise
        self._ready = True

    # -- Environment protocol ---------------------------------------------------------------
    def spec(self) -> EnvSpec:
        self._wait_ready()
        assert self._spec is not None
        return self._spec

    def config_dict(self) -> dict[str, Any]:
        self._wait_ready()
        return dict(self._config)

    def prefetch(self, seed: int) -> None:
        """Build ``seed``'s world ahead of time (the runner will start it soon); nothing when
        the environment's first observation may depend on more than its seed."""
        self._wait_ready()
        if not self._reset_ahead:
            return
        dropped = None
        with self._lock:
            live = [w for w in self._workers if w.dead is None]
            if not live:
                return
            worker = min(live, key=lambda w: (w.open_episodes + w.prefetched, w.index))
            key = next(self._keys)
            worker.prefetched += 1
            self._prefetch_order.append((seed, worker, key))
            self.prefetch_counts["prefetched"] += 1
            if len(self._prefetch_order) > self.prefetch_limit:
                dropped = self._prefetch_order.popleft()
                dropped[1].prefetched -= 1
                self.prefetch_counts["dropped"] += 1
        worker.notify("prefetch", key, seed)
        if dropped is not None:
            dropped[1].notify("close", dropped[2])

    def _take_prefetched(self, seed: int) -> tuple[_Worker, int] | None:
        """A live worker's world for ``seed`` built ahead of time, now an open episode."""
        with self._lock:
            for entry in [e for e in self._prefetch_order if e[0] == seed]:
                _, worker, key = entry
                self._prefetch_order.remove(entry)
                worker.prefetched -= 1
                if worker.dead is None:
                    worker.open_episodes += 1
                    self.prefetch_counts["used"] += 1
                    return worker, key
        return None

    def start(self, seed: int) -> _WorkerEpisode:
        ready = self._take_prefetched(seed)
        if ready is not None:
            return _WorkerEpisode(self, *ready)
        worker, key = self._assign()
        try:
            worker.call("start", key, seed)
        except BaseException:
            self._episode_closed(worker)
            raise
        return _WorkerEpisode(self, worker, key)

    async def astart(self, seed: int) -> _WorkerEpisode:
        """:meth:`start` for the event loop (the runner uses these ``a`` methods)."""
        ready = self._take_prefetched(seed)
        if ready is not None:
            return _WorkerEpisode(self, *ready)
        worker, key = self._assign()
        try:
            await worker.acall("start", key, seed)
        except BaseException:
            self._episode_closed(worker)
            raise
        return _WorkerEpisode(self, worker, key)

    def close(self) -> None:
        """Stop the workers (episodes still open are dropped). Idempotent."""
        for worker in self._workers:
            worker.stop()
        for worker in self._workers:
            worker.join()

    def _assign(self) -> tuple[_Worker, int]:
        """The worker for a new episode (the one with the fewest open episodes) and its key."""
        self._wait_ready()
        with self._lock:
            live = [w for w in self._workers if w.dead is None]
            if not live:
                reasons = "; ".join(str(w.dead) for w in self._workers)
                raise EnvWorkerError(f"every environment worker has exited: {reasons}")
            worker = min(live, key=lambda w: (w.open_episodes, w.index))
            worker.open_episodes += 1
            return worker, next(self._keys)

    def _episode_closed(self, worker: _Worker) -> None:
        with self._lock:
            worker.open_episodes -= 1


class _WorkerEpisode:
    """One episode living in a worker; one call at a time (the runner awaits each before the
    next), through the sync methods or their ``a`` twins."""

    def __init__(self, pool: EnvWorkerPool, worker: _Worker, key: int):
        self._pool, self._worker, self._key = pool, worker, key
        self._closed = False

    def reset(self) -> Observation:
        return self._worker.call("reset", self._key)

    def step(self, tool_calls: Sequence[ToolCall]) -> StepOutcome:
        return self._worker.call("step", self._key, list(tool_calls))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._worker.call("close", self._key)
        finally:
            self._pool._episode_closed(self._worker)

    async def areset(self) -> Observation:
        return await self._worker.acall("reset", self._key)

    async def astep(self, tool_calls: Sequence[ToolCall]) -> StepOutcome:
        return await self._worker.acall("step", self._key, list(tool_calls))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._worker.acall("close", self._key)
        finally:
            self._pool._episode_closed(self._worker)


if __name__ == "__main__":
    main()
