"""Run ``vlmforge ARGS`` for a test: in-process (fast, the default) or in a real subprocess.

The in-process runner calls :func:`vlmforge.cli.main` inside click's ``CliRunner`` isolation and
returns the same :class:`subprocess.CompletedProcess` a subprocess run does (``returncode``,
``stdout``, ``stderr`` kept apart). Each call starts from what a fresh process would see: a new
plugin host, a fresh command group, no remembered credentials, new rich consoles, the given
environment (``VLMFORGE_*`` dropped, ``env=`` added) and working directory, and no logging
handlers, signal handlers or ``--env-file`` values left over from an earlier call.

Use :func:`run_cli_subprocess` where a real process is the point: signals, entry-point discovery
of installed packages, start-up time, ``python -m vlmforge``, a plugin that exits at import.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from click.testing import CliRunner

VLMFORGE = [sys.executable, "-m", "vlmforge"]


def _child_env(env: dict[str, str] | None) -> dict[str, str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    full_env.update(env or {})
    return full_env


def run_cli_subprocess(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 300,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``vlmforge ARGS`` in a real subprocess (real entry points, real exit code)."""
    return subprocess.run(
        [*VLMFORGE, *args],
        capture_output=True,
        text=True,
        env=_child_env(env),
        cwd=cwd,
        timeout=timeout,
        input=input,
    )


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 300,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``vlmforge ARGS`` in this process, isolated as a subprocess run would be.

    ``timeout`` is accepted for the subprocess runner's signature and not enforced here.
    """
    del timeout
    with _fresh_process_state(_child_env(env), cwd):
        runner = CliRunner()
        with runner.isolation(input=input) as (out, err, _):
            streams = {"stdout": sys.stdout, "stderr": sys.stderr}
            code = _call_main(list(args))
            sys.stdout.flush()
            sys.stderr.flush()
            stdout = _text(out.getvalue(), runner.charset)
            stderr = _text(err.getvalue(), runner.charset)
        _repoint_log_handlers(streams)
    return subprocess.CompletedProcess([*VLMFORGE, *args], code, stdout, stderr)


def _text(data: bytes, charset: str) -> str:
    """Decode as ``subprocess.run(text=True)`` does (universal newlines)."""
    return data.decode(charset, "replace").replace("\r\n", "\n").replace("\r", "\n")


def _call_main(args: list[str]) -> int:
    """``vlmforge.cli.main()`` with ``sys.argv`` set; the exit status a process would have."""
    from vlmforge.cli import main

    saved_argv = sys.argv
    sys.argv = ["vlmforge", *args]
    try:
        main()
    except SystemExit as exc:
        return _exit_status(exc.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        return -signal.SIGINT
    except BaseException:  # an uncaught error: the interpreter prints it and exits 1
        traceback.print_exc()
        return 1
    finally:
        sys.argv = saved_argv
    return 0


def _exit_status(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


@contextlib.contextmanager
def _fresh_process_state(env: dict[str, str], cwd: str | Path | None) -> Iterator[None]:
    """Environment, cwd, plugins, command group, consoles, logging and signals, restored after."""
    from vlmforge import plugins, redaction
    from vlmforge.cli import cli as group
    from vlmforge.cli import output

    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_commands = group.commands
    saved_signals = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    saved_logging = _logging_state()
    os.environ.clear()
    os.environ.update(env)
    if cwd is not None:
        os.chdir(cwd)
    group.commands = {}
    plugins.reset()
    redaction.forget_secrets()  # a fresh process knows no credentials yet
    output.console.cache_clear()
    output.error_console.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        group.commands = saved_commands
        plugins.reset()
        redaction.forget_secrets()
        output.console.cache_clear()
        output.error_console.cache_clear()
        _restore_logging(saved_logging)
        for sig, handler in saved_signals.items():
            if handler is not None:
                signal.signal(sig, handler)


_LoggingState = dict[str, tuple[list[logging.Handler], int, bool, bool]]


def _all_loggers() -> dict[str, logging.Logger]:
    found = {
        name: logger
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    found[""] = logging.getLogger()
    return found


def _logging_state() -> _LoggingState:
    return {
        name: (list(logger.handlers), logger.level, logger.propagate, logger.disabled)
        for name, logger in _all_loggers().items()
    }


def _restore_logging(saved: _LoggingState) -> None:
    """Put back the handlers and levels of the loggers that existed before the call.

    Loggers a library made during the call (at import, once per process) keep theirs.
    """
    for name, logger in _all_loggers().items():
        if name not in saved:
            continue
        handlers, level, propagate, disabled = saved[name]
        logger.handlers = handlers
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled


class _CurrentStream:
    """Writes to whatever ``sys.stdout``/``sys.stderr`` is now (the next call's capture)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        return getattr(sys, self.name).write(text)

    def flush(self) -> None:
        getattr(sys, self.name).flush()


def _repoint_log_handlers(streams: dict[str, Any]) -> None:
    """A handler a library bound to this call's captured stream follows later calls' streams.

    In a real process it would keep writing to that process's stdout/stderr; here the captured
    stream is closed once the call returns.
    """
    for logger in _all_loggers().values():
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler):
                for name, stream in streams.items():
                    if handler.stream is stream:
                        handler.setStream(_CurrentStream(name))  # type: ignore[arg-type]
