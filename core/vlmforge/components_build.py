"""Building components from config sections, with errors that point into the config file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vlmforge.config import TomlSource, validate
from vlmforge.errors import ConfigError


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
    spec = registry.get(kind, name)
    factory = spec.load()
    model = getattr(factory, "config_model", None)
    if model is None:
        if settings:
            raise ConfigError(
                f"{where}: {kind} '{name}' takes no settings, got: {', '.join(sorted(settings))}"
            )
        return factory()
    return factory(validate(model, dict(settings), where, toml=toml, prefix=prefix))


def accepts_setting(registry: Any, kind: str, name: str, key: str) -> bool:
    """Whether the component's ``config_model`` has a setting called ``key``."""
    model = getattr(registry.get(kind, name).load(), "config_model", None)
    return model is not None and key in getattr(model, "model_fields", {})
