"""Config validation: every key is checked with an error that names it and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crafter.helpers import make_env
from vlmforge.config import load_toml, validate
from vlmforge.errors import ConfigError
from vlmforge_crafter.config import CrafterConfig

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("env_crafter*.toml"))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_step": 10}, "unknown key 'max_step'. Did you mean 'max_steps'?"),
        ({"max_steps": 0}, "max_steps: Input should be greater than or equal to 1"),
        ({"length": 0}, "length: Input should be greater than or equal to 1"),
        ({"area": [8, 64]}, "each side of area must be between 16 and 1024"),
        ({"area": [64]}, "area"),
        ({"view": [2, 9]}, "view columns must be between 3 and 33"),
        ({"view": [9, 2]}, "view rows must leave at least one map row"),
        ({"image_size": 8}, "image_size: Input should be greater than or equal to 16"),
        ({"image_size": 16, "view": [21, 21]}, "image_size (16) must be at least twice the view"),
        ({"image_size": 17}, "image_size (17) must be at least twice the view size (9 tiles)"),
        ({"observation": "video"}, "observation: Input should be 'text+image'"),
        ({"frame_history": -1}, "frame_history: Input should be greater than or equal to 0"),
        ({"observation": "text_only", "frame_history": 2}, "frame_history needs frames"),
        ({"max_actions_per_call": 0}, "max_actions_per_call: Input should be greater than"),
        ({"fallback_action": "jump"}, "unknown action 'jump'; use one of: noop, move_left"),
        ({"png_compress_level": 10}, "png_compress_level: Input should be less than or equal"),
    ],
)
def test_bad_settings_are_errors_naming_the_key(settings, message):
    with pytest.raises(ConfigError) as info:
        make_env(**settings)
    assert message in str(info.value)
    assert "environment 'crafter'" in str(info.value)


def test_defaults():
    cfg = make_env().config
    assert cfg.model_dump() == {
        "max_steps": 10000,
        "length": 10000,
        "area": (64, 64),
        "view": (9, 9),
        "image_size": 64,
        "observation": "text+image",
        "frame_history": 0,
        "max_actions_per_call": 8,
        "fallback_action": "noop",
        "png_compress_level": 1,
    }
    assert cfg.local_view == (9, 7)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_example_configs_load_and_build(path):
    source = load_toml(path)
    table = dict(source.data["env"])
    assert table.pop("name") == "crafter"
    config = validate(CrafterConfig, table, str(path), toml=source, prefix=("env",))
    episode = make_env(**config.model_dump(mode="json")).start(0)
    obs = episode.reset()
    assert obs.ground_truth["max_steps"] == config.max_steps
    assert len(obs.images) == (0 if config.observation == "text_only" else 1)


def test_three_example_configs_exist():
    assert len(CONFIGS) >= 3
