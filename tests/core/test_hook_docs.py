"""Every hookspec is documented in docs/hooks.md with its exact signature."""

import inspect
from pathlib import Path

from vlmforge import hookspecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"


def _hookspecs():
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if hasattr(fn, "vlmforge_spec"):
            yield name, fn


def _signature(name, fn) -> str:
    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{name}({params}) -> {sig.return_annotation}"


def test_there_are_hooks_for_every_kind():
    names = {name for name, _ in _hookspecs()}
    assert names == {
        "register_environments",
        "register_policies",
        "register_stores",
        "register_filters",
        "register_exporters",
        "register_trainers",
        "register_commands",
    }


def test_every_hookspec_is_documented_with_its_exact_signature():
    text = DOC.read_text()
    for name, fn in _hookspecs():
        signature = _signature(name, fn)
        assert f"### `{signature}`" in text, f"docs/hooks.md lacks a heading for {signature}"


def test_every_hookspec_has_a_docstring_saying_when_it_is_called():
    for name, fn in _hookspecs():
        assert fn.__doc__ and "Called" in fn.__doc__, name
