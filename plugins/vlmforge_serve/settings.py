"""Settings of ``vlmforge serve``: a TOML file (``--config``) with ``[serve]`` and ``[env]`` tables,
overridden by command-line flags.

.. code-block:: toml

    [serve]
    host = "127.0.0.1"
    port = 8000
    workers = 1
    api_key_env = "VLMFORGE_SERVE_KEY"
    max_episodes = 256
    idle_timeout = 600
    max_body_bytes = 1048576

    [env]             # the same table an eval config has: name + the environment's settings
    name = "crafter"
    image_size = 64   # validated against the environment's config_model

An environment config such as ``configs/env_crafter.toml`` is therefore a valid serve config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from vlmforge.config import ComponentSection, StrictModel, TomlSource, load_command_config
from vlmforge.errors import ConfigError
from vlmforge_serve.levels import LogLevel
from vlmforge_serve.wire import DEFAULT_MAX_BODY_BYTES


class ServeSettings(StrictModel):
    """The ``[serve]`` table."""

    host: str = Field("127.0.0.1", description="Bind address. 0.0.0.0 exposes the server.")
    port: int = Field(8000, ge=0, le=65535, description="First port (0: any free port).")
    workers: int = Field(
        1, ge=1, le=64, description="Worker processes; worker i listens on port + i."
    )
    api_key_env: str | None = Field(
        None, description="Name of the environment variable holding the API key."
    )
    max_episodes: int = Field(256, ge=1, description="Episodes alive at once, per worker.")
    idle_timeout: float = Field(
        600.0, gt=0, description="Seconds after which an untouched episode is closed."
    )
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES, ge=1024, description="Larger request bodies get a 413."
    )
    log_level: LogLevel = Field(
        "warning", description="uvicorn's log level (info and below add the access log)."
    )


class EnvSection(ComponentSection):
    """The ``[env]`` table: ``name`` plus the environment's own settings (``name`` may come from
    ``--env`` instead)."""

    name: str | None = Field(None, description="The environment to serve (--env).")  # type: ignore[assignment]


class ServeFile(StrictModel):
    serve: ServeSettings = Field(default_factory=lambda: ServeSettings())
    env: EnvSection = Field(default_factory=lambda: EnvSection())


def resolve(
    config_file: str | Path | None, serve_flags: dict[str, Any], env_name: str | None
) -> tuple[ServeSettings, str, dict[str, Any], TomlSource | None]:
    """Settings from the file (if any) with non-None flags on top.

    Returns (serve settings, env name, env settings, the parsed file for error messages).
    """
    flags = {k: v for k, v in serve_flags.items() if v is not None}

    def choose_env(data: dict[str, Any]) -> dict[str, Any]:
        table = data.get("env")
        file_env: dict[str, Any] = table if isinstance(table, dict) else {}
        if env_name and file_env.get("name") not in (None, env_name):
            file_env = {}  # --env names another environment: the file's settings are for the other
        data["env"] = {**file_env, **({"name": env_name} if env_name else {})}
        return data

    loaded = load_command_config(ServeFile, config_file, {"serve": flags}, prepare=choose_env)
    parsed, source, where = loaded.config, loaded.source, loaded.where
    if not parsed.env.name:
        raise ConfigError(
            "no environment to serve: pass --env NAME (see `vlmforge plugins`) or set "
            f"[env] name in {where}."
        )
    return parsed.serve, parsed.env.name, parsed.env.settings(), source
