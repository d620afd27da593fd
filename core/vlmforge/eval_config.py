"""The ``vlmforge eval`` config file (TOML) and how command-line flags override it.

Layout (every key documented in docs/eval.md and docs/config-reference.md)::

    run_name = "random-baseline"     # optional; default: "<policy>[-<model>]-<UTC time>"
    seeds = "0-9"                    # "0-9", "1,4,7", 7, or a list [0, 1, "5-9"]
    concurrency = 4                  # episodes in flight
    env_workers = 2                  # optional: run the environment in 2 worker processes
    max_steps = 200                  # optional cap on primitive env steps per episode
    tags = ["baseline"]
    frames_dir = "frames"            # optional: DIR/seed_XXXX/step_NNN.png per step
    json_summary = "summary.json"    # optional
    prices = "prices.toml"           # optional: extra per-model prices (USD per 1M tokens)

    [env]                            # name + the environment's own settings
    name = "crafter"

    [policy]                         # one policy ...
    name = "random"

    [[policies]]                     # ... or several, run on the same seeds and compared
    name = "openai"
    label = "gpt-4o-mini"            # optional; names the run and the comparison column
    model = "gpt-4o-mini"

    [store]                          # name + the store's own settings
    name = "sqlite"
    path = "traces.db"

Component settings (everything in ``[env]``, ``[policy]``, ``[store]`` but ``name``/``label``)
are validated by the component's own ``config_model``; errors name the file, line and key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from vlmforge.config import StrictModel, TomlSource, load_toml, merge, validate
from vlmforge.errors import ConfigError
from vlmforge.seeds import checked_seeds, parse_seeds

DEFAULT_STORE = "sqlite"
DEFAULT_TRACE_DB = "traces.db"


class ComponentSection(StrictModel):
    """``name = ...`` plus the component's own settings (checked by the component)."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(..., min_length=1, description="The registered component name.")

    def settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class PolicySection(ComponentSection):
    label: str | None = Field(
        None, min_length=1, description="Names this policy's run and comparison column."
    )


class EvalConfig(StrictModel):
    """The whole ``vlmforge eval`` config."""

    run_name: str | None = Field(None, min_length=1)
    seeds: str | int | list[str | int] = "0-9"
    concurrency: int = Field(1, ge=1, le=4096)
    env_workers: int = Field(
        0,
        ge=0,
        le=256,
        description="Worker processes running the environment (0: in this process, in threads).",
    )
    max_steps: int | None = Field(None, ge=1)
    tags: list[str] = Field(default_factory=list)
    frames_dir: str | None = None
    json_summary: str | None = None
    prices: str | None = None
    env: ComponentSection | None = None
    policy: PolicySection | None = None
    policies: list[PolicySection] | None = None
    store: ComponentSection = Field(
        default_factory=lambda: ComponentSection(name=DEFAULT_STORE, path=DEFAULT_TRACE_DB)
    )

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: Any) -> Any:
        return checked_seeds(value)

    @model_validator(mode="after")
    def _one_policy_form(self) -> EvalConfig:
        if self.policy is not None and self.policies is not None:
            raise ValueError("give either [policy] or [[policies]], not both")
        if self.policies is not None and not self.policies:
            raise ValueError("[[policies]] is empty; add at least one policy")
        return self

    def seed_list(self) -> list[int]:
        return parse_seeds(self.seeds)

    def policy_list(self) -> list[PolicySection]:
        if self.policies is not None:
            return list(self.policies)
        return [self.policy] if self.policy is not None else []


@dataclass
class LoadedEvalConfig:
    """An eval config with where each part came from (for error messages)."""

    config: EvalConfig
    source: TomlSource | None = None
    where: str = "command line"
    overridden: set[str] = field(default_factory=set)  # top-level sections replaced by flags

    def locate(
        self, section: str, index: int | None = None
    ) -> tuple[str, TomlSource | None, tuple]:
        """(where, toml, prefix) for validating a component section's settings."""
        if self.source is None or section in self.overridden:
            return (f"--{section} settings", None, ())
        prefix: tuple = (section,) if index is None else (section, index)
        return (str(self.source.path), self.source, prefix)


def load_eval_config(path: str | None, overrides: dict[str, Any]) -> LoadedEvalConfig:
    """Read ``path`` (optional) and apply command-line ``overrides``.

    ``overrides`` keys: run_name, seeds, concurrency, env_workers, max_steps, frames_dir,
    json_summary, env, env_urls, policy, model, store, trace_db (None = not given).
    """
    source = load_toml(path) if path else None
    data: dict[str, Any] = dict(source.data) if source else {}
    overridden: set[str] = set()
    top = {
        k: overrides.get(k)
        for k in (
            "run_name",
            "seeds",
            "concurrency",
            "env_workers",
            "max_steps",
            "frames_dir",
            "json_summary",
        )
    }
    data = merge(data, top)
    if overrides.get("env"):
        env = data["env"] if isinstance(data.get("env"), dict) else {}
        if env.get("name") != overrides["env"]:
            env = {}
            overridden.add("env")
        data["env"] = {**env, "name": overrides["env"]}
    if overrides.get("env_urls"):  # --env-url (repeatable): the servers of --env remote
        env = data["env"] if isinstance(data.get("env"), dict) else {"name": "remote"}
        if env.get("name") != "remote":
            raise ConfigError(
                f"--env-url is for --env remote (environments served by `vlmforge serve`), "
                f"not --env {env.get('name')}; drop --env-url or use --env remote."
            )
        data["env"] = {**env, "env_urls": list(overrides["env_urls"])}
    if overrides.get("policy"):
        current = data["policy"] if isinstance(data.get("policy"), dict) else {}
        if current.get("name") != overrides["policy"] or "policies" in data:
            current = {}
            overridden.add("policy")
        data.pop("policies", None)
        data["policy"] = {**current, "name": overrides["policy"]}
    if overrides.get("model"):
        if isinstance(data.get("policies"), list):
            for item in data["policies"]:
                if isinstance(item, dict):
                    item["model"] = overrides["model"]
        elif isinstance(data.get("policy"), dict):
            data["policy"]["model"] = overrides["model"]
        else:
            raise ConfigError("--model needs a policy: add --policy NAME or a [policy] table.")
    store = data["store"] if isinstance(data.get("store"), dict) else None
    if overrides.get("store") and (store is None or store.get("name") != overrides["store"]):
        store = {"name": overrides["store"]}
        overridden.add("store")
    if store is None:
        store = {"name": DEFAULT_STORE}
    if overrides.get("trace_db"):
        store = {**store, "path": overrides["trace_db"]}
    elif store.get("name") == DEFAULT_STORE and "path" not in store:
        store = {**store, "path": DEFAULT_TRACE_DB}
    data["store"] = store
    where = str(source.path) if source else "command line"
    config = validate(EvalConfig, data, where, toml=source)
    if config.env is None:
        raise ConfigError(
            f'{where}: no environment. Pass --env NAME or add an [env] table with name = "...".'
        )
    if not config.policy_list():
        raise ConfigError(
            f"{where}: no policy. Pass --policy NAME or add a [policy] table (or [[policies]])."
        )
    return LoadedEvalConfig(config, source, where, overridden)


def resolve_path(value: str | None, base: Path | None = None) -> Path | None:
    """A path from the config: as given (relative to the current directory)."""
    if value is None:
        return None
    return Path(value).expanduser() if base is None else (base / value).expanduser()


__all__ = ["EvalConfig", "LoadedEvalConfig", "load_eval_config", "validate"]
