"""Opening a trace store for reading: a command that only reads never creates, migrates or
changes a store (``vlmforge traces``, ``vlmforge filter``).

A store says how it opens for reading through its factory, never by name:

- ``exists(config)`` (:class:`vlmforge.components.SupportsStoreExists`): a missing store is
  an error rather than created;
- a ``read_only: bool`` setting in its ``config_model`` (:data:`READ_ONLY_SETTING`): readers set
  it to true; the store then opens without writing anything (no schema creation, migration or
  journal change) and refuses what is not one of its stores;
- ``read_settings``: settings for streaming reads (``vlmforge filter``), before the user's.

A store that declares none of these is opened as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vlmforge.components import READ_ONLY_SETTING
from vlmforge.components_build import build_spec
from vlmforge.config import TomlSource, validate
from vlmforge.errors import ConfigError

READ_SETTINGS = "read_settings"  # a store factory's settings for streaming reads (optional)


def supports_read_only(factory: Any) -> bool:
    """Whether the factory's ``config_model`` has the ``read_only`` setting."""
    model = getattr(factory, "config_model", None)
    return model is not None and READ_ONLY_SETTING in getattr(model, "model_fields", {})


def location_settings(factory: Any, location: str | None) -> dict[str, Any]:
    """A store's location as one string (``--trace-db``, a probe's ``trace_db``) as its
    settings: the ``path`` of a file store (sqlite), or the ``dsn`` of a store that has one
    instead (postgres); ``None`` leaves the store's default (postgres: ``$VLMFORGE_PG_DSN``)."""
    fields = getattr(getattr(factory, "config_model", None), "model_fields", {})
    key = "dsn" if "path" not in fields and "dsn" in fields else "path"
    return {} if location is None else {key: location}


def store_exists(factory: Any, settings: Mapping[str, Any], where: str = "--trace-db") -> bool:
    """What the store's factory says of ``settings`` (``SupportsStoreExists``); True when it
    declares nothing."""
    exists = getattr(factory, "exists", None)
    if exists is None:
        return True
    return bool(exists(validate(factory.config_model, dict(settings), where)))


def reader_settings(
    factory: Any, settings: Mapping[str, Any], *, streaming: bool = False
) -> dict[str, Any]:
    """``settings`` for a reader: the factory's ``read_settings`` first when ``streaming``, then
    ``settings``, then ``read_only = true`` when the store has that setting (a reader's store
    is read-only whatever the settings say)."""
    out: dict[str, Any] = dict(getattr(factory, READ_SETTINGS, None) or {}) if streaming else {}
    out.update(settings)
    if supports_read_only(factory):
        out[READ_ONLY_SETTING] = True
    return out


def open_store_for_reading(
    registry: Any,
    name: str,
    settings: Mapping[str, Any],
    *,
    where: str,
    missing: str,
    streaming: bool = False,
    toml: TomlSource | None = None,
    prefix: tuple[Any, ...] = (),
) -> Any:
    """The store ``name`` opened read-only (see the module docstring). A store its factory says
    is missing raises :class:`ConfigError` with ``missing`` as the message."""
    spec = registry.get("store", name)
    factory = spec.load()
    values = reader_settings(factory, settings, streaming=streaming)
    model = getattr(factory, "config_model", None)
    if model is None:
        return build_spec(spec, values, where=where)
    config = validate(model, values, where, toml=toml, prefix=prefix)
    exists = getattr(factory, "exists", None)
    if exists is not None and not exists(config):
        raise ConfigError(missing)
    return factory(config)
