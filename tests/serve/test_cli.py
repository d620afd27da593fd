"""``vlmforge serve`` start-up: settings, errors, example configs."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from vlmforge.config import validate
from vlmforge.errors import ConfigError
from vlmforge.plugins import get_registry
from vlmforge_serve.settings import resolve

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"


def flat(text: str) -> str:
    """Rich wraps long error lines; compare with single spaces."""
    return " ".join(text.split())


def test_example_serve_config_loads() -> None:
    settings, env, env_settings, source = resolve(CONFIGS / "serve_crafter.toml", {}, None)
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.api_key_env == "VLMFORGE_SERVE_KEY"
    assert settings.max_episodes == 256 and settings.idle_timeout == 600
    assert settings.max_body_bytes == 1048576 and settings.log_level == "warning"
    assert env == "crafter" and env_settings == {"image_size": 64, "max_actions_per_call": 8}
    model = get_registry().get("environment", env).config_model()
    validate(model, env_settings, str(source.path), toml=source, prefix=("env",))


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("env_*.toml")))
def test_environment_configs_are_serve_configs(name: str) -> None:
    _, env, env_settings, _ = resolve(CONFIGS / name, {}, None)
    get_registry().create("environment", env, env_settings)


def test_flags_win_over_the_file() -> None:
    settings, env, env_settings, _ = resolve(
        CONFIGS / "serve_crafter.toml", {"port": 9001, "workers": 3, "host": None}, None
    )
    assert (settings.port, settings.workers, settings.host) == (9001, 3, "127.0.0.1")
    _, env, env_settings, _ = resolve(CONFIGS / "serve_crafter.toml", {}, "remote")
    assert env == "remote" and env_settings == {}  # the file's settings were for crafter


def test_settings_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "serve.toml"
    bad.write_text('[serve]\nworkers = 0\nprot = 1\n[env]\nname = "crafter"\n')
    with pytest.raises(ConfigError) as err:
        resolve(bad, {}, None)
    assert "line 2: serve.workers" in str(err.value)
    assert "line 3: unknown key 'serve.prot'. Did you mean 'port'?" in str(err.value)
    with pytest.raises(ConfigError, match="no environment to serve"):
        resolve(None, {}, None)


def test_cli_errors_exit_2_with_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "serve.toml"
    bad.write_text('[env]\nname = "crafter"\nimage_sise = 64\n')
    result = cli("serve", "--config", str(bad))
    assert result.returncode == 2
    assert "line 3: unknown key 'env.image_sise'" in flat(result.stderr)
    assert "Traceback" not in result.stderr

    result = cli("serve", "--env", "crafter", "--api-key-env", "VF_UNSET_KEY_VAR")
    assert result.returncode == 2
    assert "VF_UNSET_KEY_VAR is not set or empty" in flat(result.stderr)


def test_port_in_use_is_a_clear_error(cli) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", "--env", "crafter", "--port", str(port))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Choose another --port" in flat(result.stderr)


def test_example_eval_remote_config_loads() -> None:
    from vlmforge.components_build import build_component
    from vlmforge.eval_config import load_eval_config

    loaded = load_eval_config(str(CONFIGS / "eval_remote.toml"), {})
    env = loaded.config.env
    assert env.name == "remote" and loaded.config.max_steps == 200
    where, toml, prefix = loaded.locate("env")
    # building contacts no server
    remote = build_component(
        get_registry(),
        "environment",
        env.name,
        env.settings(),
        where=where,
        toml=toml,
        prefix=prefix,
    )
    config = remote.config
    assert config.env_urls == ["http://127.0.0.1:8000"] and config.balancing == "least-loaded"
    assert (config.retries, config.backoff_s, config.max_backoff_s) == (3, 0.25, 4.0)
    assert (config.connect_timeout_s, config.timeout_s, config.down_cooldown_s) == (5, 60, 10)
    assert config.env_config == {"image_size": 64} and config.api_key_env is None

    with_flags = load_eval_config(
        str(CONFIGS / "eval_remote.toml"), {"env_urls": ("http://h1:8000", "http://h2:8000")}
    )
    assert with_flags.config.env.settings()["env_urls"] == ["http://h1:8000", "http://h2:8000"]
    assert with_flags.config.env.settings()["balancing"] == "least-loaded"  # the rest is kept
    flags_only = load_eval_config(None, {"env_urls": ("http://h1:8000",), "policy": "random"})
    assert flags_only.config.env.name == "remote"  # --env-url alone implies --env remote


def test_only_loopback_hosts_skip_the_no_key_warning() -> None:
    from vlmforge_serve.command import _is_loopback

    assert all(map(_is_loopback, ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"]))
    assert not any(map(_is_loopback, ["0.0.0.0", "192.168.1.5", "::", "example.org"]))
