"""The example eval configs for the openai and synth policies load and build their policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policies.conftest import SECRET
from vlmforge.config import load_toml
from vlmforge.plugins import get_registry

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize(
    "filename,policy,key_env",
    [
        ("eval_openai.toml", "openai", "OPENAI_API_KEY"),
        ("eval_synth.toml", "synth", "SYNTH_API_KEY"),
    ],
)
def test_example_config_builds_its_policy(monkeypatch, filename: str, policy: str, key_env: str):
    monkeypatch.setenv(key_env, SECRET)
    monkeypatch.delenv("SYNTH_BASE_URL", raising=False)
    data = load_toml(CONFIGS / filename).data
    assert data["env"]["name"] == "crafter" and data["store"]["name"] == "sqlite"
    section = dict(data["policy"])
    assert section.pop("name") == policy
    built = get_registry().create("policy", policy, section, source=f"{filename} [policy]")
    assert built.config.model == section["model"]
    described = built.describe()
    for key, value in section.items():
        assert described[key] == value, key
