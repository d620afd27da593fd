"""Config loading: TOML files validated by pydantic models, with errors that name file and key.

Every config model derives from :class:`StrictModel` (``extra="forbid"``), so an unknown key is an
error that names the key, the file and its line, the known keys and the closest match.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from vlmforge.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class TomlSource:
    """A parsed TOML file that can tell on which line a key was written."""

    def __init__(self, path: Path, text: str, data: dict[str, Any]):
        self.path, self.text, self.data = path, text, data

    def line_of(self, key_path: tuple[str | int, ...]) -> int | None:
        """Best-effort line number of ``key_path`` (table header + key) in the file.

        An integer after a table name picks one ``[[table]]`` of an array of tables:
        ``("filters", 2, "max_steps")`` is ``max_steps`` in the third ``[[filters]]``.
        """
        for pos, part in enumerate(key_path):
            if isinstance(part, int) and pos > 0:
                found = self._line_in_array_table(key_path[:pos], part, key_path[pos + 1 :])
                if found is not None:
                    return found
                break
        keys = [str(k) for k in key_path if not isinstance(k, int)]
        if not keys:
            return None
        # an array of tables ([[policies]]): the index picks the n-th header
        nth = next((k for k in key_path if isinstance(k, int)), 0)
        lines = self.text.splitlines()
        table, key = keys[:-1], keys[-1]
        start = 0
        if table:
            header = re.compile(r"^\s*\[+\s*" + r"\s*\.\s*".join(map(re.escape, table)) + r"\s*\]+")
            seen = 0
            for i, line in enumerate(lines):
                if header.match(line):
                    start = i
                    if seen == nth:
                        break
                    seen += 1
        pattern = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
        for i in range(start, len(lines)):
            if pattern.match(lines[i]):
                return i + 1
        dotted = re.compile(r"^\s*" + r"\s*\.\s*".join(map(re.escape, keys)) + r"\s*=")
        for i, line in enumerate(lines):
            if dotted.match(line):
                return i + 1
        return None

    def _line_in_array_table(
        self, table: tuple[str | int, ...], index: int, rest: tuple[str | int, ...]
    ) -> int | None:
        names = [str(t) for t in table]
        header = re.compile(r"^\s*\[\[\s*" + r"\s*\.\s*".join(map(re.escape, names)) + r"\s*\]\]")
        lines = self.text.splitlines()
        starts = [i for i, line in enumerate(lines) if header.match(line)]
        if index >= len(starts):
            return None
        start = starts[index]
        keys = [str(k) for k in rest if not isinstance(k, int)]
        if not keys:
            return start + 1
        pattern = re.compile(r"^\s*[\"']?" + re.escape(keys[0]) + r"[\"']?\s*=")
        for i in range(start + 1, len(lines)):
            if lines[i].lstrip().startswith("["):
                break
            if pattern.match(lines[i]):
                return i + 1
        return start + 1


def load_toml(path: str | Path) -> TomlSource:
    """Read and parse a TOML file; errors name the file and the line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file '{p}' not found.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file '{p}': {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}. Fix the syntax on that line.") from None
    return TomlSource(p, text, data)


def validate(
    model: type[M],
    data: Mapping[str, Any],
    where: str,
    *,
    toml: TomlSource | None = None,
    prefix: tuple[str | int, ...] = (),
) -> M:
    """Validate ``data`` against ``model``; on failure raise one ConfigError listing every problem.

    ``where`` names the source (a file, a flag); ``prefix`` is the key path of ``data`` inside the
    file, so messages say ``eval.toml, line 7: policy.temperature: ...``.
    """
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        problems = [_describe_error(err, model, where, toml, prefix) for err in exc.errors()]
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems)) from None


def _describe_error(
    err: Any, model: type[BaseModel], where: str, toml: TomlSource | None, prefix: tuple[Any, ...]
) -> str:
    loc = tuple(prefix) + tuple(err["loc"])
    key = ".".join(str(part) for part in loc) or "(top level)"
    place = where
    if toml is not None:
        line = toml.line_of(loc)
        place = f"{toml.path}, line {line}" if line else str(toml.path)
    if err["type"] == "extra_forbidden":
        known = _known_keys(model, err["loc"][:-1])
        name = str(err["loc"][-1])
        hint = ""
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        if close:
            hint = f" Did you mean '{close[0]}'?"
        return f"{place}: unknown key '{key}'.{hint} Known keys here: {', '.join(known)}."
    given = ""
    if err["type"] != "missing" and "input" in err and not isinstance(err["input"], dict | list):
        given = f" (got {err['input']!r})"
    return f"{place}: {key}: {err['msg']}{given}"


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", {})
    return sorted(f.alias or name for name, f in fields.items())


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def load_model(model: type[M], path: str | Path, overrides: Mapping[str, Any] | None = None) -> M:
    """Load a TOML file into ``model``; ``overrides`` (non-None CLI flags) win over file values."""
    source = load_toml(path)
    data = merge(source.data, overrides or {})
    return validate(model, data, str(source.path), toml=source)


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``overrides`` into ``base``; ``None`` values in overrides are ignored."""
    out = dict(base)
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
