"""Building components from config sections, with errors that point into the config file."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vlmforge.config import TomlSource, validate
from vlmforge.errors import ConfigError

if TYPE_CHECKING:
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
    return build_spec(registry.get(kind, name), settings, where=where, toml=toml, prefix=prefix)


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
        if settings:
            raise ConfigError(
                f"{where}: {spec.kind} '{spec.name}' takes no settings, "
                f"got: {', '.join(sorted(settings))}"
            )
        if spec.kind == "filter" and inspect.isfunction(factory):
            from vlmforge.components import FunctionFilter

            return FunctionFilter(factory, name=spec.name)
        return factory()
    return factory(validate(model, dict(settings), where, toml=toml, prefix=prefix))


def accepts_setting(registry: Any, kind: str, name: str, key: str) -> bool:
    """Whether the component's ``config_model`` has a setting called ``key``."""
    model = getattr(registry.get(kind, name).load(), "config_model", None)
    return model is not None and key in getattr(model, "model_fields", {})
