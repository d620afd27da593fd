"""Reading a text file a user gave (``--env-file``, a tokenizer corpus) as UTF-8, with an error
that names the file and the line of the first byte that is not UTF-8 (never the content)."""

from __future__ import annotations

from pathlib import Path

from vlmforge.errors import ConfigError


def not_utf8(path: str | Path, data: bytes, exc: UnicodeDecodeError, *, what: str) -> ConfigError:
    """The error for ``data`` (read from ``path``) that failed to decode with ``exc``."""
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    return ConfigError(
        f"{what} '{path}', line {line}, column {column}: not UTF-8 text (is it a binary file?). "
        "Give a UTF-8 text file."
    )


def read_utf8(path: str | Path, *, what: str) -> str:
    """The file's text; a ConfigError naming ``what`` and the file when it cannot be read or
    is not UTF-8."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read '{p}': {exc.strerror or exc}.") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise not_utf8(p, data, exc, what=what) from None
