"""The component registry: named components of each kind, looked up by the name users type."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from vlmforge.errors import (
    ComponentUnavailableError,
    DuplicateComponentError,
    UnknownComponentError,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

KINDS: tuple[str, ...] = ("environment", "policy", "store", "filter", "exporter", "trainer")

# The hook that registers each kind and the CLI flag that selects it.
HOOK_FOR_KIND: dict[str, str] = {
    "environment": "register_environments",
    "policy": "register_policies",
    "store": "register_stores",
    "filter": "register_filters",
    "exporter": "register_exporters",
    "trainer": "register_trainers",
}
FLAG_FOR_KIND: dict[str, str] = {
    "environment": "--env",
    "policy": "--policy",
    "store": "--store",
    "filter": "--filter",
    "exporter": "--exporter",
    "trainer": "--trainer",
}


F_contra = TypeVar("F_contra", contravariant=True)


class Register(Protocol[F_contra]):
    """The ``register`` callable every component hook receives.

    Generic in the factory type: the hook ``register_environments(register:
    Register[EnvironmentFactory])`` lets mypy check a factory passed as an object against
    :data:`vlmforge.components.EnvironmentFactory`. A ``"module:attribute"`` string is checked
    when the component is loaded (``tests/core/test_conformance.py`` loads every bundled one).
    """

    def __call__(
        self,
        name: str,
        factory: F_contra | str,
        *,
        description: str = "",
        requires: Iterable[str] = (),
        install_hint: str | None = None,
    ) -> None: ...


@dataclass
class ComponentSpec:
    """One registered component: what it is called, who registered it, how to build it."""

    kind: str
    name: str
    factory: Any  # a vlmforge.components.ComponentFactory, or a "module:attribute" string
    plugin: str
    description: str = ""
    requires: tuple[str, ...] = ()
    install_hint: str | None = None
    _loaded: Any = field(default=None, repr=False)

    def missing_requirements(self) -> list[str]:
        """Modules in ``requires`` that cannot be found (checked without importing them)."""
        missing = []
        for module in self.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                missing.append(module)
        return missing

    @property
    def available(self) -> bool:
        return not self.missing_requirements()

    def load(self) -> Any:
        """Import (if needed) and return the factory, or raise ComponentUnavailableError."""
        if self._loaded is not None:
            return self._loaded
        missing = self.missing_requirements()
        if missing:
            hint = f" Install it with: {self.install_hint}" if self.install_hint else ""
            raise ComponentUnavailableError(
                f"{self.kind} '{self.name}' (plugin {self.plugin}) needs "
                f"{', '.join(missing)}, which is not installed.{hint}"
            )
        factory = self.factory
        if isinstance(factory, str):
            module_name, _, attr = factory.partition(":")
            module = importlib.import_module(module_name)
            factory = getattr(module, attr) if attr else module
        self._loaded = factory
        return factory

    def config_model(self) -> type[BaseModel] | None:
        model: type[BaseModel] | None = getattr(self.load(), "config_model", None)
        return model

    def create(self, config: Mapping[str, Any] | None = None, *, source: str = "") -> Any:
        """Build the component, validating ``config`` against the factory's ``config_model``.

        ``source`` names where the settings came from (``"eval.toml [policy]"``) for errors.
        Same as :func:`vlmforge.components_build.build_spec`, the one builder.
        """
        from vlmforge.components_build import build_spec  # local: keeps pydantic off start-up

        return build_spec(self, config or {}, where=source or f"{self.kind} '{self.name}'")


class Registry:
    """All components, by kind and name. Built once by :mod:`vlmforge.plugins`."""

    def __init__(self) -> None:
        self._components: dict[str, dict[str, ComponentSpec]] = {k: {} for k in KINDS}

    def add(self, spec: ComponentSpec) -> None:
        existing = self._components[spec.kind].get(spec.name)
        if existing is not None:
            raise DuplicateComponentError(
                f"{spec.kind} '{spec.name}' is registered by two plugins: "
                f"'{existing.plugin}' and '{spec.plugin}'. Uninstall one of them or restrict "
                f"loading with VLMFORGE_PLUGINS."
            )
        self._components[spec.kind][spec.name] = spec

    def names(self, kind: str) -> list[str]:
        return sorted(self._components[kind])

    def all(self, kind: str | None = None) -> Iterable[ComponentSpec]:
        kinds = [kind] if kind else list(KINDS)
        for k in kinds:
            yield from (self._components[k][n] for n in sorted(self._components[k]))

    def get(self, kind: str, name: str) -> ComponentSpec:
        """The component ``name`` of ``kind``; an unknown name lists the known ones."""
        try:
            return self._components[kind][name]
        except KeyError:
            message = unknown_name_message(kind, name, self.names(kind))
            raise UnknownComponentError(message) from None

    def create(
        self, kind: str, name: str, config: Mapping[str, Any] | None = None, *, source: str = ""
    ) -> Any:
        return self.get(kind, name).create(config, source=source)


def unknown_name_message(
    kind: str, name: str, known: list[str], *, place: str | None = None
) -> str:
    """``unknown filter 'x' (--filter). Did you mean ...``; ``place`` (a config file's
    ``"f.toml, line 7: filters.1.name"``) replaces the flag when the name was written there."""
    if place is None:
        msg = f"unknown {kind} '{name}' ({FLAG_FOR_KIND.get(kind, kind)})."
    else:
        msg = f"{place}: unknown {kind} '{name}'."
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    if close:
        msg += f" Did you mean '{close[0]}'?"
    msg += f" Known {kind} names: {', '.join(known) if known else '(none loaded)'}."
    if not known:
        msg += " Check `vlmforge plugins` and VLMFORGE_PLUGINS."
    return msg
