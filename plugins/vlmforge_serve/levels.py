"""The log levels ``vlmforge serve`` accepts (uvicorn's); light, for the command's ``--help``."""

from __future__ import annotations

from typing import Literal, get_args

LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]
LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)
ACCESS_LOG_LEVELS = frozenset({"info", "debug", "trace"})  # levels that log every request
