"""Rich consoles for the CLI: results on stdout, diagnostics on stderr."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from rich.console import Console

from vlmforge.wording import plural

__all__ = ["console", "copyable_column", "error_console", "plural", "warn_plugin_failures"]


@cache
def console() -> Console:
    return Console(highlight=False)


@cache
def error_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def warn_plugin_failures() -> None:
    """Print one line per plugin that failed to import or register (stderr)."""
    from rich.markup import escape

    from vlmforge.plugins import get_host

    for info in get_host().failures():
        error_console().print(
            f"[yellow]warning:[/] plugin '{info.name}' is not loaded: {escape(str(info.error))}",
            markup=True,
        )


def copyable_column(table: Any, header: str, values: Iterable[str]) -> None:
    """A column of ids, names or commands a user copies: never cut with "…" nor wrapped, however
    narrow the terminal (the other columns give way; the table may get wider than the screen)."""
    width = max([len(header), *(len(v) for v in values)])
    table.add_column(header, no_wrap=True, min_width=width, overflow="ignore")
