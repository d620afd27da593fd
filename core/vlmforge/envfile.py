"""``--env-file PATH``: load KEY=VALUE lines (API keys) into the environment for one command."""

from __future__ import annotations

import os
import re
from pathlib import Path

from vlmforge.errors import ConfigError
from vlmforge.textfile import read_utf8

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_env_file(path: str | Path) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines; ``#`` comments, blank lines and ``export`` prefixes allowed.

    Errors name the file and line but never echo a value.
    """
    p = Path(path)
    text = read_utf8(p, what="--env-file")
    values: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, eq, value = line.partition("=")
        key = key.strip()
        if not eq or not _KEY.match(key):
            raise ConfigError(
                f"{p}, line {lineno}: expected KEY=VALUE with KEY made of letters, digits and _."
            )
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def load_env_file(path: str | Path, *, override: bool = True) -> list[str]:
    """Load the file into ``os.environ``; returns the key names set (never the values)."""
    values = parse_env_file(path)
    for key, value in values.items():
        if override or key not in os.environ:
            os.environ[key] = value
    return sorted(values)
