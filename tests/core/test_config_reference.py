"""docs/config-reference.md lists every key the eval, filter and train configs accept.

The keys are read from the pydantic models themselves (nested tables included), so a new key
without a line in the reference fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from vlmforge.config import ComponentSection, _model_in
from vlmforge.dataset.config import FilterConfig
from vlmforge.eval_config import EvalConfig, PolicySection
from vlmforge.plugins import get_registry

REFERENCE = Path(__file__).parents[2] / "docs" / "config-reference.md"


def _sections() -> dict[str, str]:
    """``## heading`` -> the text under it."""
    text = REFERENCE.read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.M)
    return {part.splitlines()[0]: part for part in parts[1:]}


def _section(start: str) -> str:
    found = [body for title, body in _sections().items() if title.startswith(start)]
    assert len(found) == 1, f"no single section '{start}' in {REFERENCE}"
    return found[0]


def _keys(model: type[BaseModel]) -> set[str]:
    """Every accepted key of ``model`` and of the tables it nests (a component section's own
    keys, e.g. ``name``, but not the component's settings: those are the component's)."""
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        if field.exclude:  # refused old forms
            continue
        keys.add(field.alias or name)
        nested = _model_in(field.annotation)
        if nested is not None:
            keys |= _keys(nested)
    return keys


def _documented(section: str, key: str) -> bool:
    return any(f"`{form}`" in section for form in (key, f"[{key}]", f"[[{key}]]"))


@pytest.mark.parametrize(
    ("heading", "model"),
    [
        ("`vlmforge eval`", EvalConfig),
        ("`vlmforge eval`", PolicySection),
        ("`vlmforge filter`", FilterConfig),
    ],
)
def test_command_keys_are_listed(heading: str, model: type[BaseModel]) -> None:
    section = _section(heading)
    missing = sorted(k for k in _keys(model) if not _documented(section, k))
    assert not missing, f"{REFERENCE} section {heading} does not list: {', '.join(missing)}"


def test_the_component_section_keys_are_listed() -> None:
    section = _section("`[store]`: the same table")
    assert all(_documented(section, k) for k in _keys(ComponentSection))


def test_train_keys_are_listed() -> None:
    section = _section("`vlmforge train`")
    assert _documented(section, "trainer")
    registry = get_registry()
    for name in registry.names("trainer"):
        spec = registry.get("trainer", name)
        if not spec.available:
            continue
        model = spec.config_model()
        assert model is not None, name
        missing = sorted(k for k in model.model_fields if not _documented(section, k))
        assert not missing, f"trainer {name}: {REFERENCE} does not list {', '.join(missing)}"


def test_the_test_sees_a_missing_key() -> None:
    class Extra(EvalConfig):
        a_key_nobody_documented: int = 0

    section = _section("`vlmforge eval`")
    assert not _documented(section, "a_key_nobody_documented")
    assert "a_key_nobody_documented" in _keys(Extra)
