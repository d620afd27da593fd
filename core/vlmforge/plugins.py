"""The plugin manager: finds plugins, calls their register hooks, builds the component registry.

Plugins come from two places:

- installed packages with an entry point in group ``vlmforge`` (bundled plugins use the same
  group); ``VLMFORGE_PLUGINS=a,b`` restricts which of them load (set but empty: none);
- unpackaged in-house ``*.py`` files in a directory given by ``--plugins-dir`` or
  ``VLMFORGE_PLUGINS_DIR`` (``os.pathsep``-separated for several).

A plugin that fails to import, or raises while registering, is recorded with its error and
skipped; the rest of the CLI keeps working. A plugin that calls ``sys.exit()`` there (at import
or in a register hook) is treated the same way: its ``SystemExit`` is a failure of that plugin,
never the exit of the command. (``KeyboardInterrupt`` still stops the command.)

Hooks are called through pluggy's call path (``pm.subset_hook_caller``), one plugin at a time so
each component is attributed to its plugin and a plugin that raises is reported on its own.
A hook wrapper (``@hookimpl(wrapper=True)``, or the old ``hookwrapper=True``) would wrap only
its own plugin's call, never the others', so it is rejected: the plugin is reported as failed
and not loaded.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from vlmforge import hookspecs
from vlmforge.errors import ConfigError, DuplicateComponentError
from vlmforge.registry import HOOK_FOR_KIND, ComponentSpec, Registry

ENTRY_POINT_GROUP = "vlmforge"
PLUGINS_ENV = "VLMFORGE_PLUGINS"
PLUGINS_DIR_ENV = "VLMFORGE_PLUGINS_DIR"
PLUGINS_DIR_PACKAGE = "vlmforge_plugins_dir"

# What a plugin's import or hook may raise that makes it a failed plugin (not a failed command).
PLUGIN_FAILURES: tuple[type[BaseException], ...] = (Exception, SystemExit)


@dataclass
class PluginInfo:
    """What ``vlmforge plugins`` shows for one plugin."""

    name: str
    source: str  # "entry-point" or "plugins-dir"
    distribution: str | None = None
    version: str | None = None
    location: str | None = None
    module: ModuleType | None = field(default=None, repr=False)
    hooks: list[str] = field(default_factory=list)
    error: str | None = None


class PluginHost:
    """Loads plugins once and builds the registry on first use."""

    def __init__(self, plugins_dirs: Iterable[str | Path] = (), allow: set[str] | None = None):
        self.pm = pluggy.PluginManager("vlmforge")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._registry: Registry | None = None
        self._load_entry_points(allow)
        for directory in plugins_dirs:
            self.add_plugins_dir(directory)

    # -- loading ---------------------------------------------------------------------------
    def _load_entry_points(self, allow: set[str] | None) -> None:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if allow is not None and ep.name not in allow:
                continue
            info = PluginInfo(name=ep.name, source="entry-point", location=ep.value)
            dist = getattr(ep, "dist", None)
            if dist is not None:
                info.distribution = dist.metadata["Name"]
                info.version = dist.version
            self._register_module(info, functools.partial(_load_entry_point, ep))

    def add_plugins_dir(self, directory: str | Path) -> None:
        """Load every ``*.py`` file (not starting with ``_``) in ``directory`` as a plugin."""
        path = Path(directory)
        if not path.is_dir():
            raise ConfigError(
                f"plugins directory '{path}' does not exist or is not a directory "
                f"(--plugins-dir / {PLUGINS_DIR_ENV})."
            )
        for file in sorted(path.glob("*.py")):
            if file.name.startswith("_"):
                continue
            name = file.stem
            if name in self.plugins:
                continue
            info = PluginInfo(
                name=name,
                source="plugins-dir",
                distribution="(plugins-dir)",
                location=str(file.resolve()),
            )
            self._register_module(info, functools.partial(_load_file, file))
        self._registry = None

    def _register_module(self, info: PluginInfo, load: Callable[[], ModuleType]) -> None:
        self.plugins[info.name] = info
        try:
            module = load()
            self.pm.register(module, name=info.name)
        except PLUGIN_FAILURES as exc:  # a broken plugin must not take the CLI down: record it
            info.error = _describe(exc)
            return
        wrappers = _wrapper_hooks(self.pm, module)
        if wrappers:
            self.pm.unregister(module)
            info.error = (
                f"hook wrappers are not supported ({', '.join(wrappers)}): vlmforge calls each "
                f"plugin's hooks separately, so a wrapper would never wrap another plugin. "
                f"Use a plain @hookimpl."
            )
            return
        info.module = module
        info.hooks = sorted(c.name for c in self.pm.get_hookcallers(module) or [])

    def _call_hook(self, hook_name: str, plugin: object, **kwargs: Any) -> None:
        """``plugin``'s implementation of ``hook_name``, called through pluggy."""
        others = [p for p in self.pm.get_plugins() if p is not plugin]
        self.pm.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)

    # -- the registry ----------------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = self._build_registry()
        return self._registry

    def _build_registry(self) -> Registry:
        registry = Registry()
        for kind, hook_name in HOOK_FOR_KIND.items():
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                info = self.plugins[impl.plugin_name]
                if info.error:
                    continue
                collected: list[ComponentSpec] = []

                def register(
                    name: str,
                    factory: Any,
                    *,
                    description: str = "",
                    requires: Iterable[str] = (),
                    install_hint: str | None = None,
                    _kind: str = kind,
                    _plugin: str = info.name,
                    _into: list[ComponentSpec] = collected,
                ) -> None:
                    _into.append(
                        ComponentSpec(
                            kind=_kind,
                            name=name,
                            factory=factory,
                            plugin=_plugin,
                            description=description,
                            requires=tuple(requires),
                            install_hint=install_hint,
                        )
                    )

                try:
                    self._call_hook(hook_name, impl.plugin, register=register)
                except PLUGIN_FAILURES as exc:  # a plugin's own bug: record it, keep the rest
                    info.error = f"{hook_name} failed: {_describe(exc)}"
                    continue
                for spec in collected:
                    registry.add(spec)  # DuplicateComponentError names both plugins
        return registry

    def add_commands(self, cli: Any) -> None:
        for impl in self.pm.hook.register_commands.get_hookimpls():
            info = self.plugins[impl.plugin_name]
            try:
                self._call_hook("register_commands", impl.plugin, cli=cli)
            except PLUGIN_FAILURES as exc:  # a plugin's own bug: record it, keep the CLI
                info.error = f"register_commands failed: {_describe(exc)}"

    def failures(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.error]

    def describe(self) -> list[dict[str, Any]]:
        """The JSON-able listing behind ``vlmforge plugins --json``."""
        try:
            registry: Registry | None = self.registry
            registry_error = None
        except DuplicateComponentError as exc:
            registry, registry_error = None, str(exc)
        rows = []
        for info in sorted(self.plugins.values(), key=lambda p: p.name):
            components = []
            if registry is not None:
                for spec in registry.all():
                    if spec.plugin != info.name:
                        continue
                    missing = spec.missing_requirements()
                    components.append(
                        {
                            "kind": spec.kind,
                            "name": spec.name,
                            "description": spec.description,
                            "available": not missing,
                            "missing": missing,
                            "install_hint": spec.install_hint if missing else None,
                        }
                    )
            rows.append(
                {
                    "name": info.name,
                    "source": info.source,
                    "distribution": info.distribution,
                    "version": info.version,
                    "location": info.location,
                    "hooks": info.hooks,
                    "components": components,
                    "error": info.error or registry_error,
                }
            )
        return rows


def _wrapper_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """The hooks ``plugin`` implements as wrappers (new or old style)."""
    return sorted(
        caller.name
        for caller in pm.get_hookcallers(plugin) or []
        for impl in caller.get_hookimpls()
        if impl.plugin is plugin and (impl.wrapper or impl.hookwrapper)
    )


def _load_entry_point(ep: EntryPoint) -> ModuleType:
    module: ModuleType = ep.load()
    return module


def _load_file(file: Path) -> ModuleType:
    module_name = f"{PLUGINS_DIR_PACKAGE}.{file.stem}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return (
            f"SystemExit: it called sys.exit({exc.code!r}); a plugin must raise an exception "
            "instead of exiting the process"
        )
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def allowed_from_env() -> set[str] | None:
    value = os.environ.get(PLUGINS_ENV)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def dirs_from_env() -> list[str]:
    value = os.environ.get(PLUGINS_DIR_ENV, "")
    return [d for d in value.split(os.pathsep) if d]


_host: PluginHost | None = None


def get_host(plugins_dirs: Iterable[str | Path] = ()) -> PluginHost:
    """The process-wide plugin host (entry points are loaded once), plus any extra dirs."""
    global _host
    if _host is None:
        _host = PluginHost(dirs_from_env(), allow=allowed_from_env())
    for directory in plugins_dirs:
        _host.add_plugins_dir(directory)
    return _host


def get_registry(plugins_dirs: Iterable[str | Path] = ()) -> Registry:
    return get_host(plugins_dirs).registry


def reset() -> None:
    """Forget the loaded plugins (tests use this after changing the environment)."""
    global _host
    _host = None
