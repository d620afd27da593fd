"""``--env-file PATH``: load a dotenv file (API keys) into the environment for one command.

Parsed by python-dotenv, so a file means here what it means to every other dotenv tool:
``# comments`` after unquoted values, ``export`` prefixes, quoting and escapes in double
quotes, ``${VAR}`` expansion (from the file's earlier lines, then the environment). A line
python-dotenv cannot parse, or a bare ``KEY`` without ``=``, is an error naming the file and
line; errors never echo a value.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from vlmforge.errors import ConfigError
from vlmforge.textfile import read_utf8


def _check_lines(path: Path, text: str) -> None:
    for binding in parse_stream(io.StringIO(text)):
        if binding.error or (binding.key is not None and binding.value is None):
            raise ConfigError(
                f"{path}, line {binding.original.line}: expected KEY=VALUE (dotenv syntax: "
                f"'KEY=value # comment', 'export KEY=\"quoted\"'). Fix that line of the file."
            )


def parse_env_file(path: str | Path) -> dict[str, str]:
    """The file's ``KEY: value`` pairs, with ``${VAR}`` expanded; errors name file and line."""
    p = Path(path)
    text = read_utf8(p, what="--env-file")
    _check_lines(p, text)
    values = dotenv_values(stream=io.StringIO(text), interpolate=True)
    return {key: value for key, value in values.items() if value is not None}


def load_env_file(path: str | Path, *, override: bool = True) -> list[str]:
    """Load the file into ``os.environ``; returns the key names set (never the values)."""
    values = parse_env_file(path)
    for key, value in values.items():
        if override or key not in os.environ:
            os.environ[key] = value
    return sorted(values)
