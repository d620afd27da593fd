"""Every bundled component satisfies its kind's Protocol in vlmforge.components.

At run time: each component is loaded through the registry and its methods are compared with the
Protocol's by ``inspect.signature`` (names, kinds, defaults, async or not), since a
``runtime_checkable`` isinstance check ignores signatures. Under mypy (this file is in
``[tool.mypy] files``): the ``TYPE_CHECKING`` block assigns each bundled factory to its kind's
factory Protocol, so a wrong parameter or return type fails ``python -m mypy``.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import BaseModel

from vlmforge import components
from vlmforge.components import (
    PROTOCOL_FOR_KIND,
    AsyncEnvEpisode,
    AsyncEnvironment,
    EnvEpisode,
    EpisodePolicy,
    TraceStore,
)
from vlmforge.env_workers import EnvBuild, EnvWorkerPool
from vlmforge.plugins import PluginHost
from vlmforge.registry import KINDS, ComponentSpec

if TYPE_CHECKING:
    from vlmforge_crafter.env import CrafterEnvironment
    from vlmforge_exporters.llamafactory import LlamaFactoryExporter
    from vlmforge_exporters.openai_sft import OpenAISFTExporter
    from vlmforge_exporters.trl import TRLExporter
    from vlmforge_filters.episode import (
        MaxSteps,
        MinAchievements,
        MinReward,
        MinSteps,
        Select,
        Status,
    )
    from vlmforge_filters.loops import Loops
    from vlmforge_filters.steps import AchievementWindow, DecisionQuality, HasImage
    from vlmforge_hf.grpo.trainer import GRPOTrainer
    from vlmforge_hf.policy import HFPolicy
    from vlmforge_lora_sft.trainer import FullSFTTrainer, LoraSFTTrainer
    from vlmforge_openai.policy import OpenAIPolicy
    from vlmforge_random.policy import RandomPolicy
    from vlmforge_scripted.policy import ScriptedPolicy
    from vlmforge_serve.remote import RemoteEnvironment
    from vlmforge_sqlite.store import SqliteStore
    from vlmforge_synth.policy import SynthPolicy

    ENVIRONMENTS: list[components.EnvironmentFactory] = [CrafterEnvironment, RemoteEnvironment]
    POLICIES: list[components.PolicyFactory] = [
        RandomPolicy,
        ScriptedPolicy,
        OpenAIPolicy,
        SynthPolicy,
        HFPolicy,
    ]
    STORES: list[components.TraceStoreFactory] = [SqliteStore]
    FILTERS: list[components.FilterFactory] = [
        Select,
        Status,
        MinSteps,
        MaxSteps,
        MinAchievements,
        MinReward,
        Loops,
        DecisionQuality,
        AchievementWindow,
        HasImage,
    ]
    EXPORTERS: list[components.ExporterFactory] = [
        OpenAISFTExporter,
        TRLExporter,
        LlamaFactoryExporter,
    ]
    TRAINERS: list[components.TrainerFactory] = [LoraSFTTrainer, FullSFTTrainer, GRPOTrainer]
    WORKER_POOL: components.AsyncEnvironment = EnvWorkerPool(EnvBuild("crafter", {}), 1)


def _bundled() -> list[ComponentSpec]:
    host = PluginHost()
    return [
        spec
        for kind in KINDS
        for spec in host.registry.all(kind)
        if host.plugins[spec.plugin].distribution == "vlmforge"
    ]


BUNDLED = _bundled()


def protocol_methods(protocol: type) -> dict[str, Any]:
    """The methods a Protocol declares (its own and its Protocol bases'), by name."""
    found: dict[str, Any] = {}
    for klass in reversed(protocol.__mro__):
        if klass is object or not getattr(klass, "_is_protocol", False):
            continue
        for name, member in vars(klass).items():
            if inspect.isfunction(member) and not name.startswith("_"):
                found[name] = member
    return found


def signature_problems(impl: type, protocol: type) -> list[str]:
    """How ``impl``'s methods differ from ``protocol``'s (empty when it conforms)."""
    problems = []
    for name, wanted in protocol_methods(protocol).items():
        got = getattr(impl, name, None)
        if got is None or not callable(got):
            problems.append(f"{impl.__name__}.{name} is missing")
            continue
        if inspect.iscoroutinefunction(wanted) != inspect.iscoroutinefunction(got):
            kind = "async" if inspect.iscoroutinefunction(wanted) else "sync"
            problems.append(f"{impl.__name__}.{name} should be {kind}")
        problems += _parameter_problems(
            f"{impl.__name__}.{name}", inspect.signature(got), inspect.signature(wanted)
        )
    return problems


def _parameter_problems(where: str, got: inspect.Signature, wanted: inspect.Signature) -> list:
    problems = []
    have = list(got.parameters.values())
    for i, param in enumerate(wanted.parameters.values()):
        match = got.parameters.get(param.name)
        if param.kind is param.POSITIONAL_ONLY or (match is None and param.kind is not param.KEYWORD_ONLY):
            match = have[i] if i < len(have) and have[i].kind in _POSITIONAL else None
        if match is None:
            problems.append(f"{where} lacks parameter {param.name!r}")
            continue
        if match.name != param.name and param.kind is not param.POSITIONAL_ONLY:
            problems.append(f"{where}: parameter {i} is {match.name!r}, not {param.name!r}")
        if param.default is not param.empty and match.default is match.empty:
            problems.append(f"{where}: parameter {param.name!r} needs a default")
        if param.kind is param.KEYWORD_ONLY and match.kind not in (
            param.KEYWORD_ONLY,
            param.POSITIONAL_OR_KEYWORD,
        ):
            problems.append(f"{where}: parameter {param.name!r} must be accepted by keyword")
    extra = [p.name for p in have if p.name not in wanted.parameters and p.default is p.empty]
    extra = [n for n in extra if n not in _positional_names(wanted)]
    if extra and not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in have):
        problems.append(f"{where}: extra required parameters {extra}")
    return problems


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _positional_names(sig: inspect.Signature) -> set[str]:
    return {p.name for p in sig.parameters.values() if p.kind in _POSITIONAL}


def _returned_class(factory: type, method: str) -> type:
    """The class a method's return annotation names (resolved in the plugin's module)."""
    hints = typing.get_type_hints(getattr(factory, method))
    returned = hints["return"]
    assert inspect.isclass(returned), f"{factory.__name__}.{method} returns {returned!r}"
    return returned


def test_every_kind_has_bundled_components():
    assert {spec.kind for spec in BUNDLED} == set(KINDS)
    assert len(BUNDLED) >= 20


@pytest.mark.parametrize("spec", BUNDLED, ids=lambda s: f"{s.kind}:{s.name}")
def test_bundled_component_satisfies_its_protocol(spec: ComponentSpec) -> None:
    factory = spec.load()
    model = getattr(factory, "config_model", None)
    assert model is None or (inspect.isclass(model) and issubclass(model, BaseModel))
    if model is not None:
        inspect.signature(factory).bind(object())  # factory(config)
    else:
        inspect.signature(factory).bind()  # factory()
    assert inspect.isclass(factory), f"{spec.name}: bundled factories are classes"
    assert signature_problems(factory, PROTOCOL_FOR_KIND[spec.kind]) == []


@pytest.mark.parametrize(
    ("kind", "method", "protocol"),
    [("environment", "start", EnvEpisode), ("policy", "start_episode", EpisodePolicy)],
)
def test_what_components_return_satisfies_its_protocol(
    kind: str, method: str, protocol: type
) -> None:
    for spec in (s for s in BUNDLED if s.kind == kind):
        returned = _returned_class(spec.load(), method)
        assert signature_problems(returned, protocol) == [], spec.name


def test_env_worker_pool_is_an_async_environment():
    assert EnvWorkerPool.async_calls is True
    assert signature_problems(EnvWorkerPool, AsyncEnvironment) == []
    assert signature_problems(_returned_class(EnvWorkerPool, "astart"), AsyncEnvEpisode) == []


def test_bundled_store_says_where_it_lives(tmp_path: Path):
    store = PluginHost().registry.create("store", "sqlite", {"path": str(tmp_path / "t.db")})
    try:
        assert signature_problems(type(store), TraceStore) == []
        assert store.where == str(tmp_path / "t.db")
    finally:
        store.close()


class _Episode:
    def reset(self) -> None: ...
    def step(self, calls: list) -> None: ...
    async def close(self) -> None: ...


def test_the_check_finds_wrong_names_missing_methods_and_async_mismatches():
    problems = signature_problems(_Episode, EnvEpisode)
    assert "_Episode.step: parameter 1 is 'calls', not 'tool_calls'" in problems
    assert "_Episode.close should be sync" in problems
    assert "_Episode.reset" not in " ".join(problems)
    assert signature_problems(_Episode, AsyncEnvEpisode)[-3:] == [
        "_Episode.areset is missing",
        "_Episode.astep is missing",
        "_Episode.aclose is missing",
    ]
