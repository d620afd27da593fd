"""The served environment: its default instance and the instances built for per-request settings."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from vlmforge.components import Environment
from vlmforge.config import merge
from vlmforge.registry import ComponentSpec

# Environments built for distinct per-request settings, kept for reuse (least recently used out).
MAX_CACHED_ENVIRONMENTS = 16


class EnvHost:
    """Builds the served environment for the server's settings merged with a request's."""

    def __init__(self, component: ComponentSpec, base_config: dict[str, Any], source: str = ""):
        self.component = component
        self.name = component.name
        self.base_config = dict(base_config)
        self._source = source or f"settings of environment '{self.name}'"
        self.default: Environment = component.create(self.base_config, source=self._source)
        self._cache: OrderedDict[str, Environment] = OrderedDict()
        self._lock = threading.Lock()

    def environment(self, overrides: dict[str, Any] | None) -> Environment:
        """The environment for these settings (ConfigError if they are invalid)."""
        if not overrides:
            return self.default
        merged = merge(self.base_config, overrides)
        key = json.dumps(merged, sort_keys=True, default=str)
        with self._lock:
            env = self._cache.get(key)
            if env is not None:
                self._cache.move_to_end(key)
                return env
        env = self.component.create(merged, source="request body 'config'")
        with self._lock:
            self._cache[key] = env
            while len(self._cache) > MAX_CACHED_ENVIRONMENTS:
                self._cache.popitem(last=False)
        return env

    def config_schema(self) -> dict[str, Any] | None:
        model = self.component.config_model()
        if model is None:
            return None
        return model.model_json_schema()

    def observation_modes(self) -> list[str]:
        """The environment's observation modes.

        From an ``observation_modes`` attribute of the environment class when it has one,
        otherwise from the choices of a settings field named ``observation_mode`` /
        ``observation`` / ``mode`` in its config schema.
        """
        declared = getattr(self.component.load(), "observation_modes", None)
        if declared:
            return [str(m) for m in declared]
        schema = self.config_schema() or {}
        props = schema.get("properties", {})
        for name in ("observation_mode", "observation", "mode", "obs_mode"):
            field = props.get(name)
            if field is None:
                continue
            choices = _enum_of(field, schema.get("$defs", {}))
            if choices:
                return choices
        return []


def _enum_of(field: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    if "enum" in field:
        return [str(v) for v in field["enum"]]
    if "const" in field:
        return [str(field["const"])]
    ref = field.get("$ref", "")
    if ref.startswith("#/$defs/"):
        return _enum_of(defs.get(ref.removeprefix("#/$defs/"), {}), defs)
    for key in ("anyOf", "oneOf", "allOf"):
        for option in field.get(key, []):
            found = _enum_of(option, defs)
            if found:
                return found
    return []
