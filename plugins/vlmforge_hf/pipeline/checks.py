"""Every stage of a pipeline file checked before the first stage runs.

Each stage's table is validated as its command will read it (``eval``: the eval config and its
environment, policies and store; ``filter``: the filter config, every filter, the exporter and the
store; ``model``: the base model's folder; ``train``: the trainer and its settings; ``rl``: the
grpo config, its environment, ``hf`` policy and store; ``heldout``: every row's policy), with the
wired paths filled in by placeholders. Components are looked up and their settings validated by
their own config models; nothing is built, loaded or written. Errors name the pipeline file, the
line and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlmforge.components_build import check_settings, lookup
from vlmforge.config import DEFAULT_STORE, TomlSource, validate
from vlmforge.errors import ConfigError
from vlmforge_hf.model_path import model_location
from vlmforge_hf.pipeline.stages import (
    RL_TRAINER,
    PipelineConfig,
    heldout_config,
    rl_config,
    trainer_name,
)

HERE = Path("WORKDIR")  # placeholder of the work directory in wired paths
Prefix = tuple[str | int, ...]


def check_stages(
    config: PipelineConfig, source: TomlSource | None, where: str, registry: Any = None
) -> None:
    """Validate every stage in ``config.stages`` (ConfigError at the first problem)."""
    if registry is None:
        from vlmforge.plugins import get_registry

        registry = get_registry()
    checker = _Checker(config, source, where, registry)
    for stage in config.stages:
        getattr(checker, stage)()


@dataclass
class _Checker:
    config: PipelineConfig
    toml: TomlSource | None
    where: str
    registry: Any

    # -- helpers ---------------------------------------------------------------------------
    def place(self, key: Prefix) -> str:
        """``"p.toml, line 7: train.trainer"`` (the file without a line if not found)."""
        dotted = ".".join(str(part) for part in key)
        line = self.toml.line_of(key) if self.toml is not None else None
        return f"{self.where}, line {line}: {dotted}" if line else f"{self.where}: {dotted}"

    def component(self, kind: str, section: dict[str, Any], prefix: Prefix) -> None:
        """A ``name`` + settings table (the name defaulting as its command defaults it)."""
        name = section.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{self.place((*prefix, 'name'))}: a {kind} name is required.")
        settings = {k: v for k, v in section.items() if k not in ("name", "label")}
        self.settings(kind, name, settings, prefix)

    def settings(self, kind: str, name: str, settings: dict[str, Any], prefix: Prefix) -> None:
        check_settings(
            self.registry, kind, name, settings, where=self.where, toml=self.toml, prefix=prefix
        )

    def model_config(self, section: str, data: dict[str, Any]) -> Any:
        """``data`` validated by the config model of the trainer the section names."""
        if section == "rl":
            name, key, prefix = RL_TRAINER, "trainer", ("rl",)
        else:
            name, key, prefix = trainer_name(self.config), "trainer", ("train",)
        spec = lookup(self.registry, "trainer", name, toml=self.toml, prefix=prefix, key=key)
        model = getattr(spec.load(), "config_model", None)
        if model is None:
            raise ConfigError(f"{self.place((*prefix, key))}: trainer '{name}' has no settings.")
        return validate(model, data, self.where, toml=self.toml, prefix=prefix)

    # -- the stages --------------------------------------------------------------------------
    def eval(self) -> None:
        from vlmforge.eval_config import EvalConfig

        cfg = validate(EvalConfig, self.config.eval, self.where, toml=self.toml, prefix=("eval",))
        if cfg.env is None:
            raise ConfigError(
                f'{self.place(("eval",))}: no [eval.env] table; add one with name = "crafter" '
                "(the environment of every eval of the pipeline)."
            )
        self.component("environment", self.config.eval["env"], ("eval", "env"))
        if cfg.policies is not None:
            for i, entry in enumerate(self.config.eval["policies"]):
                self.component("policy", entry, ("eval", "policies", i))
        elif cfg.policy is not None:
            self.component("policy", self.config.eval["policy"], ("eval", "policy"))
        else:
            raise ConfigError(
                f"{self.place(('eval',))}: no [eval.policy] table; add the policy that plays "
                "the training seeds (the held-out teacher row too)."
            )
        store = cfg.store.settings()
        if cfg.store.name == DEFAULT_STORE:
            store.setdefault("path", str(HERE / "traces.db"))
        self.settings("store", cfg.store.name, store, ("eval", "store"))

    def filter(self) -> None:
        from vlmforge.dataset.config import FilterConfig
        from vlmforge.store_read import reader_settings

        data = self.config.filter
        cfg = validate(FilterConfig, data, self.where, toml=self.toml, prefix=("filter",))
        for i, entry in enumerate(cfg.filters):
            self.settings("filter", entry.name, entry.settings(), ("filter", "filters", i))
        lookup(
            self.registry, "exporter", cfg.exporter, toml=self.toml, prefix=("filter",),
            key="exporter",
        )  # fmt: skip
        options = cfg.exporter_options
        self.settings("exporter", cfg.exporter, options, ("filter", "exporter_options"))
        prefix: Prefix = ("filter", "store")
        spec = lookup(self.registry, "store", cfg.store.name, toml=self.toml, prefix=prefix)
        settings = {**cfg.store.settings(), "path": str(HERE / "traces.db")}
        store = reader_settings(spec.load(), settings, streaming=True)
        self.settings("store", cfg.store.name, store, prefix)

    def model(self) -> None:
        model = self.config.model
        if model.path is None and model.tiny_family is None:
            raise ConfigError(
                f"{self.place(('model',))}: the model stage needs tiny_family or path."
            )
        self.model_path()

    def model_path(self) -> None:
        """``[model] path``, the base model of every later stage, must be there."""
        if self.config.model.path is None:
            return
        try:
            model_location(self.config.model.path, what="model")
        except ConfigError as exc:
            raise ConfigError(f"{self.place(('model', 'path'))}: {exc}") from None

    def train(self) -> None:
        self.model_path()
        settings = {k: v for k, v in self.config.train.items() if k != "trainer"}
        wired = {"model": "MODEL", "dataset": "DATA", "output_dir": "OUT"}
        self.model_config("train", {**settings, **wired})

    def rl(self) -> None:
        from vlmforge_hf.config import HFPolicyConfig

        self.model_path()
        data = rl_config(self.config, HERE, HERE / "model", HERE / "train")
        data.pop("trainer")
        cfg = self.model_config("rl", data)
        env_prefix: Prefix = ("rl", "env") if "env" in self.config.rl else ("eval", "env")
        self.component("environment", dict(cfg.env), env_prefix)
        validate(
            HFPolicyConfig, {"model": "MODEL", **cfg.policy}, self.where, toml=self.toml,
            prefix=("rl", "policy"),
        )  # fmt: skip
        self.settings("store", cfg.store.name, cfg.store_settings(), ("rl", "store"))
        spec = self.registry.get("trainer", RL_TRAINER)
        try:
            spec.load()(cfg)  # the trainer's own checks (decoding, top_p); builds nothing
        except ConfigError as exc:
            raise ConfigError(f"{self.place(('rl',))}: {exc}") from None

    def heldout(self) -> None:
        self.model_path()
        data = heldout_config(self.config, HERE, HERE / "model", HERE / "train")
        env_prefix: Prefix = ("eval", "env")
        self.component("environment", data["env"], env_prefix)
        for policy in data["policies"]:
            label = policy["label"]
            prefix: Prefix = {
                "random": ("heldout", "random"),
                "teacher": ("eval", "policy"),
            }.get(label, ("heldout", "hf"))
            try:
                self.component("policy", policy, prefix)
            except ConfigError as exc:
                raise ConfigError(f"heldout row '{label}': {exc}") from None
