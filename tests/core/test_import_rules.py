"""The dependency rules between the core, the bundled plugins and the CLI, checked on the source.

- The core (``core/vlmforge``) never imports a plugin (``vlmforge_*``).
- A plugin imports only the core (``vlmforge``, ``vlmforge.*``) and its own package, never another
  plugin; the ``"module:attr"`` strings it registers name its own modules too.
- Library modules never import ``vlmforge.cli``: everything in the core but ``vlmforge/cli/`` and
  ``__main__.py``, and every plugin module but those that define CLI commands (a function
  decorated with ``click.command``/``click.group``/``<group>.command``).

Every ``.py`` file is parsed with :mod:`ast`; imports inside functions count the same as those at
the top. A failure lists each offending ``file:line: what it imports``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core" / "vlmforge"
PLUGINS = ROOT / "plugins"
CLI = "vlmforge.cli"
_REGISTERED = re.compile(r"^(vlmforge_\w+)(\.\w+)*:\w+$")  # "vlmforge_x.module:Class"

# Known violations owned by other slices of issue 16, each to be deleted when fixed. Keep the
# rule strict: add nothing here without a comment saying who removes it.
ALLOWED: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str  # the dotted module imported (for ``from a import b``: ``a`` and ``a.b``)

    def allowed(self) -> bool:
        where = str(self.path.relative_to(ROOT))
        return any(path == where and within(self.module, m) for path, m in ALLOWED)


def module_name(path: Path) -> str:
    """``core/vlmforge/a/b.py`` -> ``vlmforge.a.b``; ``plugins/vlmforge_x/__init__.py`` ->
    ``vlmforge_x``."""
    base = CORE.parent if path.is_relative_to(CORE) else PLUGINS
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(path: Path, level: int, module: str | None) -> str:
    """The absolute name of a relative import (``from .x import y`` in ``path``)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _dynamic_target(call: ast.Call) -> str | None:
    """The constant start of ``__import__("...")`` / ``importlib.import_module(f"...")``."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if name not in ("__import__", "import_module") or not call.args:
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values:
        first = arg.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value.rstrip(".")
    return None


def imports(path: Path) -> Iterator[Import]:
    """Every module ``path`` imports, statically or by a constant name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(path, node.level, node.module) if node.level else node.module or ""
            for alias in node.names:  # ``from a import b``: a.b, a module or a name in a
                name = base if alias.name == "*" else f"{base}.{alias.name}"
                yield Import(path, node.lineno, name)
        elif isinstance(node, ast.Call) and (target := _dynamic_target(node)):
            yield Import(path, node.lineno, target)


def registered_modules(path: Path) -> Iterator[Import]:
    """The modules named by ``"module:attr"`` strings (components registered lazily)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if _REGISTERED.match(node.value):
            yield Import(path, node.lineno, node.value.split(":")[0])


def defines_commands(path: Path) -> bool:
    """Whether the module defines a click command or group (a CLI module, not a library one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(target, ast.Attribute) and target.attr in ("command", "group"):
                    return True
    return False


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def core_files() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def plugin_files() -> list[Path]:
    return sorted(p for p in PLUGINS.glob("vlmforge_*/**/*.py"))


def report(found: list[Import], rule: str) -> str:
    """One line per import statement: ``file:line: imports a.b, a.c``."""
    lines: dict[tuple[Path, int], list[str]] = {}
    for item in found:
        lines.setdefault((item.path, item.line), []).append(item.module)
    return f"{rule}:\n" + "\n".join(
        f"  {path.relative_to(ROOT)}:{line}: imports {', '.join(modules)}"
        for (path, line), modules in lines.items()
    )


def test_the_files_are_found() -> None:
    assert len(core_files()) > 30 and (CORE / "cli" / "__init__.py") in core_files()
    packages = {p.relative_to(PLUGINS).parts[0] for p in plugin_files()}
    assert {"vlmforge_hf", "vlmforge_sqlite", "vlmforge_crafter"} <= packages


def test_the_core_never_imports_a_plugin() -> None:
    found = [
        item
        for path in core_files()
        for item in [*imports(path), *registered_modules(path)]
        if item.module.startswith("vlmforge_") and not item.allowed()
    ]
    assert not found, report(found, "the core imports a plugin (vlmforge_*)")


def test_a_plugin_imports_only_the_core_and_itself() -> None:
    found = []
    for path in plugin_files():
        own = path.relative_to(PLUGINS).parts[0]
        for item in [*imports(path), *registered_modules(path)]:
            top = item.module.split(".")[0]
            if top.startswith("vlmforge_") and top != own and not item.allowed():
                found.append(item)
    assert not found, report(found, "a plugin imports another plugin (only vlmforge.* and itself)")


def test_library_modules_never_import_the_cli() -> None:
    library = [
        path
        for path in core_files()
        if not path.is_relative_to(CORE / "cli") and path.name != "__main__.py"
    ]
    library += [path for path in plugin_files() if not defines_commands(path)]
    found = [
        item
        for path in library
        for item in imports(path)
        if within(item.module, CLI) and not item.allowed()
    ]
    assert not found, report(found, f"a library module imports {CLI}")


def test_every_allowed_violation_still_exists() -> None:
    """An entry whose import is gone must be deleted, so the list only shrinks."""
    for where, module in sorted(ALLOWED):
        path = ROOT / where
        assert path.exists() and any(within(i.module, module) for i in imports(path)), (
            f"ALLOWED has ({where!r}, {module!r}) but {where} no longer imports {module}: "
            "delete the entry"
        )


def test_the_checker_sees_every_form_of_import(tmp_path: Path) -> None:
    """The rules would catch a violation written any of these ways."""
    fake = tmp_path / "module.py"
    fake.write_text(
        "import vlmforge_sqlite.store\n"
        "from vlmforge import cli\n"
        "def f():\n"
        "    from vlmforge_openai.policy import OpenAIPolicy\n"
        "    __import__(f'vlmforge.cli.{f}')\n"
        "X = 'vlmforge_crafter.env:CrafterEnv'\n",
        encoding="utf-8",
    )
    found = [(i.line, i.module) for i in imports(fake)]
    assert (1, "vlmforge_sqlite.store") in found and (2, "vlmforge.cli") in found
    assert (4, "vlmforge_openai.policy.OpenAIPolicy") in found and (5, "vlmforge.cli") in found
    assert [(i.line, i.module) for i in registered_modules(fake)] == [(6, "vlmforge_crafter.env")]
    stages = PLUGINS / "vlmforge_hf" / "pipeline" / "stages.py"
    assert _resolve(stages, 1, None) == "vlmforge_hf.pipeline"  # from . import x
    assert _resolve(stages, 2, "rendering") == "vlmforge_hf.rendering"  # from ..rendering import
    assert module_name(CORE / "cli" / "__init__.py") == "vlmforge.cli"
    assert defines_commands(PLUGINS / "vlmforge_hf" / "pipeline" / "command.py")
    assert not defines_commands(stages)
