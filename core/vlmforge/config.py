"""Config loading: TOML files validated by pydantic models, with errors that name file and key.

Every config model derives from :class:`StrictModel` (``extra="forbid"``), so an unknown key is an
error that names the key, the file and its line, the known keys and the closest match.
"""

from __future__ import annotations

import copy
import difflib
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vlmforge.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class ComponentSection(StrictModel):
    """A component named in a config: ``name = ...`` plus the component's own settings.

    The settings are everything else in the table; the component's ``config_model`` checks them
    when it is built (:func:`vlmforge.components_build.build_component`).
    """

    model_config = ConfigDict(extra="allow", validate_default=True)
    name: str = Field(..., min_length=1, description="The registered component name.")

    def settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


DEFAULT_STORE = "sqlite"


class StoreSection(ComponentSection):
    """The ``[store]`` table of every command: ``name`` (default ``sqlite``) plus the store's own
    settings in the same table (``path``, ``busy_timeout_s``, ...), checked by the store."""

    name: str = Field(DEFAULT_STORE, min_length=1, description="The trace store component.")


class TomlSource:
    """A parsed TOML file that can tell on which line a key was written.

    ``flags`` maps key paths set on the command line (``-o/--set``, ``--base-url``) to the flag
    that set them, so an error in such a key names the flag instead of a line of the file.
    """

    def __init__(
        self,
        path: Path,
        text: str,
        data: dict[str, Any],
        flags: Mapping[tuple[str | int, ...], str] | None = None,
    ):
        self.path, self.text, self.data = path, text, data
        self.flags: dict[tuple[str | int, ...], str] = dict(flags or {})

    @classmethod
    def flags_only(cls, where: str, flags: Mapping[tuple[str | int, ...], str]) -> TomlSource:
        """No file, only command-line keys: errors name the flag, or ``where``."""
        return cls(Path(where), "", {}, flags)

    def flag_of(self, key_path: tuple[str | int, ...]) -> str | None:
        """The flag that set ``key_path`` (or a table above it), if one did."""
        for end in range(len(key_path), 0, -1):
            flag = self.flags.get(key_path[:end])
            if flag is not None:
                return flag
        return None

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
        # a key that is a table of its own: its [header]
        own = re.compile(r"^\s*\[+\s*" + r"\s*\.\s*".join(map(re.escape, keys)) + r"\s*\]+")
        for i, line in enumerate(lines):
            if own.match(line):
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
    err: Any,
    model: type[BaseModel],
    where: str,
    toml: TomlSource | None,
    prefix: tuple[str | int, ...],
) -> str:
    loc = tuple(prefix) + tuple(err["loc"])
    key = ".".join(str(part) for part in loc) or "(top level)"
    place = where
    flag = toml.flag_of(loc) if toml is not None else None
    if flag is not None:
        place = flag
    elif toml is not None:
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


@dataclass
class LoadedConfig(Generic[M]):
    """A command's config and where it came from (for errors that name the file and line)."""

    config: M
    source: TomlSource | None = None
    where: str = "command line"
    flags: dict[tuple[str | int, ...], str] = field(default_factory=dict)  # keys set by -o


def load_command_config(
    model: type[M],
    path: str | Path | TomlSource | None,
    overrides: Mapping[str, Any] | None = None,
    *,
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    toml_lines: bool = True,
    where: str = "command line",
    settings: Sequence[SetOption] = (),
    fan_out: Mapping[str, str] | None = None,
) -> LoadedConfig[M]:
    """The one way a command reads its config: ``path`` (optional TOML file, or one already
    read), then ``prepare``
    (the command's own rewriting of the raw table, e.g. a flag that replaces a section), then
    ``overrides`` (non-None command-line values win), then ``settings`` (``-o/--set KEY=VALUE``,
    applied by :func:`apply_set_options` with ``fan_out``), validated against ``model``.

    Unknown keys and bad values are errors naming the file, line and key (``toml_lines=False``
    drops line numbers, for data whose order no longer matches the file) or the ``-o`` flag that
    set the key; ``where`` names the source in errors when there is no file.
    """
    source = path if isinstance(path, TomlSource) else load_toml(path) if path else None
    data: dict[str, Any] = copy.deepcopy(source.data) if source else {}
    if prepare is not None:
        data = prepare(data)
    data = merge(data, overrides or {})
    flags = apply_set_options(data, settings, fan_out=fan_out)
    where = str(source.path) if source else where
    if source is not None:
        source.flags.update(flags)
    checked_by = source if toml_lines else None
    if checked_by is None and flags:
        checked_by = TomlSource.flags_only(where, flags)
    config = validate(model, data, where, toml=checked_by)
    return LoadedConfig(config, source, where, flags)


@dataclass(frozen=True)
class SetOption:
    """One ``-o/--set KEY=VALUE`` (or a flag such as ``--base-url`` that sets one key).

    ``path`` is the dotted key split at dots (``("policy", "base_url")``), ``value`` the value
    read as a TOML value (``128`` an integer, ``true`` a boolean, ``["a", "b"]`` a list), or the
    text itself when it is not one (``http://localhost:8000/v1``).
    """

    path: tuple[str, ...]
    value: Any
    flag: str = "--set"

    def label(self) -> str:
        """How errors name it (never with the value, which may be a secret)."""
        key = ".".join(self.path)
        return f"{self.flag} {key}" if self.flag in ("--set", "-o") else f"{self.flag} ({key})"


_SET_KEY_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$|^[0-9]+$")


def parse_set_option(text: str, *, flag: str = "--set") -> SetOption:
    """``KEY=VALUE`` as typed after ``-o/--set``; a malformed one is a usage error (exit 2)."""
    key, eq, raw = text.partition("=")
    parts = tuple(part.strip() for part in key.split("."))
    if not eq or not all(_SET_KEY_PART.match(part) for part in parts):
        shown = key.strip() if eq else "(no '=')"
        raise ConfigError(
            f"{flag} {shown}: expected KEY=VALUE with a dotted KEY of a config section, e.g. "
            f"{flag} policy.base_url=http://localhost:8000/v1 or {flag} env.image_size=128."
        )
    return SetOption(parts, _toml_value(raw.strip()), flag)


def _toml_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def apply_set_options(
    data: dict[str, Any],
    options: Sequence[SetOption],
    *,
    fan_out: Mapping[str, str] | None = None,
) -> dict[tuple[str | int, ...], str]:
    """Write each option into ``data`` (a raw config table) in order; later ones win.

    ``fan_out`` maps a table name to an array of tables that stands for it: with
    ``{"policy": "policies"}``, ``policy.model=x`` sets ``model`` in every ``[[policies]]``
    entry when the config has those. A digit part indexes an array of tables
    (``filters.0.max_steps``). Returns the key paths written, each with its flag's label.
    """
    written: dict[tuple[str | int, ...], str] = {}
    for option in options:
        head, rest = option.path[0], option.path[1:]
        many = (fan_out or {}).get(head)
        if rest and many is not None and head not in data and isinstance(data.get(many), list):
            for index in range(len(data[many])):
                target: tuple[str | int, ...] = (many, index, *rest)
                _write(data, target, option)
                written[_key_path(target)] = option.label()
        else:
            _write(data, option.path, option)
            written[_key_path(option.path)] = option.label()
    return written


def _key_path(path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Digit parts as the integers pydantic puts in an error's location."""
    return tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in path)


def _write(data: dict[str, Any], path: tuple[str | int, ...], option: SetOption) -> None:
    node: Any = data
    for pos, part in enumerate(path[:-1]):
        child = _child(node, part)
        if child is None:
            if not isinstance(node, dict):
                break
            child = node[part] = {}
        if not isinstance(child, dict | list):
            above = ".".join(str(p) for p in path[: pos + 1])
            raise ConfigError(
                f"{option.label()}: '{above}' is a value, not a table, so it has no key "
                f"'{path[pos + 1]}'. Set '{above}' itself, or check the key."
            )
        node = child
    last = path[-1]
    if isinstance(node, list):
        if not str(last).isdigit() or int(last) >= len(node):
            raise ConfigError(f"{option.label()}: no entry {last} in that array of tables.")
        node[int(last)] = option.value
    else:
        node[last] = option.value


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, list):
        if not str(part).isdigit() or int(part) >= len(node):
            raise ConfigError(
                f"--set: no entry {part} in an array of {len(node)} tables (count from 0)."
            )
        return node[int(part)]
    return node.get(part) if isinstance(node, dict) else None


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
