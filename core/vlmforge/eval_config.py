"""The ``vlmforge eval`` config file (TOML) and how command-line flags override it.

Layout (every key documented in docs/eval.md and docs/config-reference.md)::

    run_name = "random-baseline"     # optional; default: "<policy>[-<model>]-<UTC time>"
    seeds = "0-9"                    # "0-9", "1,4,7", 7, or a list [0, 1, "5-9"]
    concurrency = 4                  # episodes in flight
    env_workers = 2                  # optional: run the environment in 2 worker processes
    max_steps = 200                  # optional cap on primitive env steps per episode
    max_decisions = 50               # optional cap on policy decisions (LM turns) per episode
    max_failed_fraction = 0.5        # a run with more failed episodes than this fails (exit 1)
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

    [store]                          # name (default "sqlite") + the store's own settings: the
    name = "sqlite"                  # same [store] table in every command
    path = "traces.db"

Component settings (everything in ``[env]``, ``[policy]``, ``[store]`` but ``name``/``label``)
are validated by the component's own ``config_model``; errors name the file, line and key.

``--env-url URL`` (repeatable) sets ``[env] env_urls``: it is for an environment whose config
model has an ``env_urls`` setting (one served by ``vlmforge serve``); without ``--env`` or an
``[env]`` table, the registered environment that takes ``env_urls`` is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, field_validator, model_validator

from vlmforge.config import (
    DEFAULT_STORE,
    ComponentSection,
    SetOption,
    StoreSection,
    StrictModel,
    TomlSource,
    load_command_config,
    validate,
)
from vlmforge.errors import ConfigError
from vlmforge.fanout.config import RaySection
from vlmforge.seeds import checked_seeds, parse_seeds

DEFAULT_TRACE_DB = "traces.db"
URLS_SETTING = "env_urls"  # the setting --env-url fills in
# A run whose failed episodes are more than this share of its finished ones fails the command
# (exit 1): past it the numbers measure the provider's outages, not the policy.
DEFAULT_MAX_FAILED_FRACTION = 0.5


class PolicySection(ComponentSection):
    label: str | None = Field(
        None, min_length=1, description="Names this policy's run and comparison column."
    )


def _default_store() -> StoreSection:
    return StoreSection.model_validate({"name": DEFAULT_STORE, "path": DEFAULT_TRACE_DB})


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
    max_decisions: int | None = Field(
        None,
        ge=1,
        description="Cap on policy decisions (LM turns) per episode; the episode ends "
        "truncated with termination 'max_decisions'.",
    )
    max_failed_fraction: float = Field(
        DEFAULT_MAX_FAILED_FRACTION,
        ge=0.0,
        le=1.0,
        description="The most a run's failed share of finished episodes may be (else exit 1).",
    )
    tags: list[str] = Field(default_factory=list)
    frames_dir: str | None = None
    json_summary: str | None = None
    prices: str | None = None
    env: ComponentSection | None = None
    policy: PolicySection | None = None
    policies: list[PolicySection] | None = None
    store: StoreSection = Field(default_factory=_default_store)
    ray: RaySection | None = Field(
        None, description="Play the episodes on a Ray cluster (docs/scale.md)."
    )

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, value: Any) -> Any:
        return checked_seeds(value)

    @model_validator(mode="after")
    def _one_policy_form(self) -> EvalConfig:
        if self.policy is not None and self.policies is not None:
            raise ValueError("give either [policy] or [[policies]], not both")
        if self.policies is not None and not self.policies:
            raise ValueError("[[policies]] is empty; add at least one policy")
        if self.ray is not None and self.env_workers:
            raise ValueError(
                "env_workers and [ray] do not combine: with [ray] each actor runs its own "
                "environment; drop env_workers (raise [ray] workers instead)"
            )
        if self.ray is not None and self.concurrency > 1:
            raise ValueError(
                "concurrency and [ray] do not combine: with [ray] each actor plays one episode "
                "at a time; drop concurrency and raise [ray] workers instead"
            )
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
    flags: dict[tuple[str | int, ...], str] = field(default_factory=dict)  # keys set by -o

    def locate(
        self, section: str, index: int | None = None
    ) -> tuple[str, TomlSource | None, tuple[str | int, ...]]:
        """(where, toml, prefix) for validating a component section's settings; a key set by
        ``-o/--set`` is reported as that flag."""
        prefix: tuple[str | int, ...] = (section,) if index is None else (section, index)
        if self.source is None or section in self.overridden:
            where = f"--{section} settings"
            if not any(path[0] == section for path in self.flags):
                return (where, None, ())
            return (where, TomlSource.flags_only(where, self.flags), prefix)
        return (str(self.source.path), self.source, prefix)


FAN_OUT = {"policy": "policies"}  # -o policy.KEY=... reaches every [[policies]] entry

TOP_LEVEL_FLAGS = (
    "run_name",
    "seeds",
    "concurrency",
    "env_workers",
    "max_steps",
    "max_decisions",
    "max_failed_fraction",
    "frames_dir",
    "json_summary",
)


def load_eval_config(
    path: str | None, overrides: dict[str, Any], *, registry: Any = None
) -> LoadedEvalConfig:
    """Read ``path`` (optional) and apply command-line ``overrides``.

    ``overrides`` keys: run_name, seeds, concurrency, env_workers, max_steps, max_decisions,
    max_failed_fraction, frames_dir,
    json_summary, env, env_urls, policy, model, store, trace_db, base_url (None = not given),
    and settings: the ``-o/--set KEY=VALUE`` options (:class:`~vlmforge.config.SetOption`),
    applied last (``policy.KEY`` sets KEY in every ``[[policies]]`` entry when there are
    several).
    ``registry`` (default: the installed plugins) is asked only for ``env_urls``: which
    environments take that setting.
    """
    overridden: set[str] = set()
    _check_seeds_flag(overrides.get("seeds"))

    def prepare(data: dict[str, Any]) -> dict[str, Any]:
        _apply_env_flags(data, overrides, overridden, registry)
        _apply_policy_flags(data, overrides, overridden)
        _apply_store_flags(data, overrides, overridden)
        return data

    top = {k: overrides.get(k) for k in TOP_LEVEL_FLAGS}
    settings = list(overrides.get("settings") or ())
    if overrides.get("base_url"):  # --base-url URL: policy.base_url of every policy
        settings.insert(0, SetOption(("policy", "base_url"), overrides["base_url"], "--base-url"))
    loaded = load_command_config(
        EvalConfig, path, top, prepare=prepare, settings=settings, fan_out=FAN_OUT
    )
    config, where = loaded.config, loaded.where
    if config.env is None:
        raise ConfigError(
            f'{where}: no environment. Pass --env NAME or add an [env] table with name = "...".'
        )
    if not config.policy_list():
        raise ConfigError(
            f"{where}: no policy. Pass --policy NAME or add a [policy] table (or [[policies]])."
        )
    return LoadedEvalConfig(config, loaded.source, where, overridden, loaded.flags)


def _check_seeds_flag(value: Any) -> None:
    """A bad ``--seeds`` is reported as the flag's error (not as the file's ``seeds`` key)."""
    if value is None:
        return
    try:
        parse_seeds(value)
    except ConfigError as exc:
        raise ConfigError(f"--seeds {value}: {str(exc).removeprefix('seeds: ')}") from None


def _table(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = data.get(key)
    return value if isinstance(value, dict) else None


def _apply_env_flags(
    data: dict[str, Any], overrides: dict[str, Any], overridden: set[str], registry: Any
) -> None:
    if overrides.get("env"):
        env = _table(data, "env") or {}
        if env.get("name") != overrides["env"]:
            env = {}
            overridden.add("env")
        data["env"] = {**env, "name": overrides["env"]}
    if overrides.get("env_urls"):  # --env-url (repeatable): the servers of a served env
        env = _table(data, "env") or {}
        env = {**env, "name": _env_taking_urls(env.get("name"), registry)}
        data["env"] = {**env, URLS_SETTING: list(overrides["env_urls"])}


def _env_taking_urls(name: Any, registry: Any) -> str:
    """``name`` if that environment takes ``env_urls``; with no name, the one that does."""
    from vlmforge.components_build import accepts_setting

    if registry is None:
        from vlmforge.plugins import get_registry

        registry = get_registry()
    if (
        isinstance(name, str)
        and name
        and accepts_setting(registry, "environment", name, URLS_SETTING)
    ):
        return name
    takers = [
        spec.name
        for spec in registry.all("environment")
        if spec.available and accepts_setting(registry, "environment", spec.name, URLS_SETTING)
    ]
    if not name and len(takers) == 1:
        return takers[0]
    known = " or ".join(f"--env {t}" for t in takers) or "an environment that takes env_urls"
    if not name:
        raise ConfigError(f"--env-url needs the environment it is for: pass {known}.")
    raise ConfigError(
        f"--env-url is for {known} (environments served by `vlmforge serve`), not --env {name}; "
        f"drop --env-url or use {known}."
    )


def _apply_policy_flags(
    data: dict[str, Any], overrides: dict[str, Any], overridden: set[str]
) -> None:
    if overrides.get("policy"):
        current = _table(data, "policy") or {}
        if current.get("name") != overrides["policy"] or "policies" in data:
            current = {}
            overridden.add("policy")
        data.pop("policies", None)
        data["policy"] = {**current, "name": overrides["policy"]}
    if overrides.get("model"):
        policies = data.get("policies")
        policy = _table(data, "policy")
        if isinstance(policies, list):
            for item in policies:
                if isinstance(item, dict):
                    item["model"] = overrides["model"]
        elif policy is not None:
            policy["model"] = overrides["model"]
        else:
            raise ConfigError("--model needs a policy: add --policy NAME or a [policy] table.")


def _apply_store_flags(
    data: dict[str, Any], overrides: dict[str, Any], overridden: set[str]
) -> None:
    store = _table(data, "store")
    named = store.get("name", DEFAULT_STORE) if store is not None else None
    if overrides.get("store") and named != overrides["store"]:
        store = {"name": overrides["store"]}
        overridden.add("store")
    if store is None:
        store = {"name": DEFAULT_STORE}
    if overrides.get("trace_db"):
        store = {**store, "path": overrides["trace_db"]}
    elif store.get("name", DEFAULT_STORE) == DEFAULT_STORE and "path" not in store:
        store = {**store, "path": DEFAULT_TRACE_DB}
    data["store"] = store


__all__ = [
    "ComponentSection",
    "EvalConfig",
    "LoadedEvalConfig",
    "PolicySection",
    "load_eval_config",
    "validate",
]
