from pathlib import Path

import pytest
from pydantic import Field

from vlmforge.config import (
    ComponentSection,
    StoreSection,
    StrictModel,
    load_command_config,
    load_model,
    load_toml,
    merge,
    validate,
)
from vlmforge.errors import ConfigError


class Inner(StrictModel):
    temperature: float = Field(0.0, ge=0, le=2)
    model: str = "m"


class Outer(StrictModel):
    seeds: str = "0"
    concurrency: int = 1
    policy: Inner = Inner()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_load_model_with_overrides(tmp_path):
    path = write(tmp_path, 'seeds = "0-3"\nconcurrency = 2\n[policy]\nmodel = "a"\n')
    cfg = load_model(Outer, path, {"concurrency": 8, "policy": {"temperature": 0.5}, "seeds": None})
    assert cfg.seeds == "0-3"  # None override ignored
    assert cfg.concurrency == 8  # flag wins
    assert cfg.policy.model == "a" and cfg.policy.temperature == 0.5


def test_unknown_key_names_file_line_and_suggestion(tmp_path):
    path = write(tmp_path, 'seeds = "0"\n\n[policy]\nmodel = "a"\ntemprature = 0.3\n')
    with pytest.raises(ConfigError) as exc:
        load_model(Outer, path)
    msg = str(exc.value)
    assert f"{path}, line 5" in msg
    assert "unknown key 'policy.temprature'" in msg
    assert "Did you mean 'temperature'?" in msg
    assert "Known keys here: model, temperature" in msg


def test_wrong_type_names_key_and_value(tmp_path):
    path = write(tmp_path, 'concurrency = "many"\n')
    with pytest.raises(ConfigError, match=r"line 1: concurrency: .*integer.*'many'"):
        load_model(Outer, path)


def test_out_of_range_value(tmp_path):
    path = write(tmp_path, "[policy]\ntemperature = 9\n")
    with pytest.raises(ConfigError, match=r"line 2: policy.temperature: .*less than or equal to 2"):
        load_model(Outer, path)


def test_bad_toml_names_file_and_line(tmp_path):
    path = write(tmp_path, 'seeds = "0"\nconcurrency = = 3\n')
    with pytest.raises(ConfigError, match=r"c.toml: invalid TOML: .*line 2"):
        load_toml(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_toml(tmp_path / "nope.toml")


def test_validate_without_file_uses_where():
    with pytest.raises(ConfigError, match=r"--policy-opt: unknown key 'x'"):
        validate(Inner, {"x": 1}, "--policy-opt")


def test_merge_is_deep_and_skips_none():
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}, "d": None}) == {"a": {"b": 3, "c": 2}}


class Command(StrictModel):
    seeds: str = "0"
    env: ComponentSection | None = None
    store: StoreSection = StoreSection()


def test_load_command_config_file_prepare_then_flags(tmp_path):
    path = write(tmp_path, 'seeds = "0-3"\n[env]\nname = "crafter"\nsize = 64\n')

    def prepare(data):
        assert data["seeds"] == "0-3"  # the file, before the flags
        data["env"] = {**data["env"], "size": 32}
        return data

    loaded = load_command_config(Command, path, {"seeds": "5", "store": None}, prepare=prepare)
    assert loaded.source is not None and loaded.where == str(path)
    config = loaded.config
    assert config.seeds == "5" and config.env is not None
    assert (config.env.name, config.env.settings()) == ("crafter", {"size": 32})
    assert (config.store.name, config.store.settings()) == ("sqlite", {})
    again = load_command_config(Command, load_toml(path))  # an already-read file
    assert again.config.seeds == "0-3" and again.source is not None


def test_load_command_config_errors_name_the_source(tmp_path):
    path = write(tmp_path, '[env]\nname = ""\n\n[sotre]\nname = "x"\n')
    with pytest.raises(ConfigError) as exc:
        load_command_config(Command, path)
    msg = str(exc.value)
    assert f"{path}, line 2: env.name" in msg
    assert f"{path}, line 4: unknown key 'sotre'. Did you mean 'store'?" in msg
    with pytest.raises(ConfigError, match=r"^invalid config:\n  my flags: seeds: "):
        load_command_config(Command, None, {"seeds": 3}, where="my flags")
