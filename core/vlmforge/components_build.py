"""Building components from config sections, with errors that point into the config file."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vlmforge.config import TomlSource, validate
from vlmforge.errors import ConfigError, UnknownComponentError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from vlmforge.registry import ComponentSpec


def build_component(
    registry: Any,
    kind: str,
    name: str,
    settings: Mapping[str, Any],
    *,
    where: str,
    toml: TomlSource | None = None,
    prefix: tuple[Any, ...] = (),
) -> Any:
    """``registry``'s ``kind`` component ``name`` built from ``settings``.

    Settings are validated against the component's ``config_model``; errors name ``where`` (and
    the file line of the key when ``toml`` is given, ``prefix`` being the table's key path).
    """
    spec = lookup(registry, kind, name, toml=toml, prefix=prefix)
    return build_spec(spec, settings, where=where, toml=toml, prefix=prefix)


def lookup(
    registry: Any,
    kind: str,
    name: str,
    *,
    toml: TomlSource | None = None,
    prefix: tuple[Any, ...] = (),
    key: str = "name",
) -> ComponentSpec:
    """``registry.get(kind, name)``; with ``toml``, an unknown name written in the file is
    reported at the file and line of the table's ``key`` (``prefix + (key,)``), not as a flag
    (a name the file does not hold came from a flag: the flag is named)."""
    try:
        spec: ComponentSpec = registry.get(kind, name)
    except UnknownComponentError:
        path = (*prefix, key)
        line = toml.line_of(path) if toml is not None else None
        if toml is None or line is None:
            raise
        from vlmforge.registry import unknown_name_message

        place = f"{toml.path}, line {line}: " + ".".join(str(part) for part in path)
        message = unknown_name_message(kind, name, registry.names(kind), place=place)
        raise UnknownComponentError(message) from None
    return spec


def check_settings(
    registry: Any,
    kind: str,
    name: str,
    settings: Mapping[str, Any],
    *,
    where: str,
    toml: TomlSource | None = None,
    prefix: tuple[Any, ...] = (),
) -> BaseModel | None:
    """Check a component's name and settings without building it (nothing is started or
    loaded but its factory): the validated ``config_model``, or None when it has none."""
    spec = lookup(registry, kind, name, toml=toml, prefix=prefix)
    model = getattr(spec.load(), "config_model", None)
    if model is None:
        _no_settings(spec, settings, where)
        return None
    checked: BaseModel = validate(model, dict(settings), where, toml=toml, prefix=prefix)
    return checked


def _no_settings(spec: ComponentSpec, settings: Mapping[str, Any], where: str) -> None:
    if settings:
        raise ConfigError(
            f"{where}: {spec.kind} '{spec.name}' takes no settings, "
            f"got: {', '.join(sorted(settings))}"
        )


def build_spec(
    spec: ComponentSpec,
    settings: Mapping[str, Any],
    *,
    where: str,
    toml: TomlSource | None = None,
    prefix: tuple[Any, ...] = (),
) -> Any:
    """The one builder: ``spec``'s factory called with ``settings`` validated against its
    ``config_model`` (``factory(config)``), or with nothing (``factory()``) when it has none;
    a plain function registered as a filter is wrapped in a ``FunctionFilter``."""
    factory = spec.load()
    model = getattr(factory, "config_model", None)
    if model is None:
        _no_settings(spec, settings, where)
        if spec.kind == "filter" and inspect.isfunction(factory):
            from vlmforge.components import FunctionFilter

            return FunctionFilter(factory, name=spec.name)
        return factory()
    return factory(validate(model, dict(settings), where, toml=toml, prefix=prefix))


def accepts_setting(registry: Any, kind: str, name: str, key: str) -> bool:
    """Whether the component's ``config_model`` has a setting called ``key``."""
    model = getattr(registry.get(kind, name).load(), "config_model", None)
    return model is not None and key in getattr(model, "model_fields", {})
