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

from vlmforge import components
from vlmforge.components import (
    AsyncEnvEpisode,
    AsyncEnvironment,
    EnvEpisode,
    EpisodePolicy,
    TraceStore,
)
from vlmforge.conformance import factory_problems, signature_problems
from vlmforge.env_workers import EnvBuild, EnvWorkerPool
from vlmforge.plugins import PluginHost
from vlmforge.registry import KINDS, ComponentSpec

if TYPE_CHECKING:
    from vlmforge_crafter.env import CrafterEnvironment
    from vlmforge_crafter.probes.answerers import OracleAnswerer, RandomAnswerer
    from vlmforge_crafter.probes.env import ProbeEnvironment
    from vlmforge_crafter.teacher.policy import ScriptedPolicy
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
    from vlmforge_hf.sft.trainer import FullSFTTrainer, LoraSFTTrainer
    from vlmforge_openai.policy import OpenAIPolicy
    from vlmforge_openai.synth import SynthPolicy
    from vlmforge_postgres.store import PostgresStore
    from vlmforge_random.policy import RandomPolicy
    from vlmforge_serve.remote import RemoteEnvironment
    from vlmforge_sqlite.store import SqliteStore

    ENVIRONMENTS: list[components.EnvironmentFactory] = [
        CrafterEnvironment,
        RemoteEnvironment,
        ProbeEnvironment,
    ]
    POLICIES: list[components.PolicyFactory] = [
        RandomPolicy,
        ScriptedPolicy,
        OpenAIPolicy,
        SynthPolicy,
        HFPolicy,
        OracleAnswerer,
        RandomAnswerer,
    ]
    STORES: list[components.TraceStoreFactory] = [SqliteStore, PostgresStore]
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
    assert inspect.isclass(factory), f"{spec.name}: bundled factories are classes"
    assert factory_problems(factory, spec.kind) == []


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
    def reset(self, seed: int) -> None: ...
    def step(self, calls: list) -> None: ...
    async def close(self) -> None: ...


class _Store:
    def episodes(self, run_ids: list | None = None, query: Any = None) -> None: ...
    def record_step(self, step: Any, images: Any) -> None: ...


def test_the_check_finds_wrong_names_missing_methods_and_async_mismatches():
    problems = signature_problems(_Episode, EnvEpisode)
    assert "_Episode.step: parameter 1 is 'calls', not 'tool_calls'" in problems
    assert "_Episode.close should be sync" in problems
    assert "_Episode.reset: extra required parameters ['seed']" in problems
    assert len(problems) == 3
    assert signature_problems(_Episode, AsyncEnvEpisode)[-3:] == [
        "_Episode.areset is missing",
        "_Episode.astep is missing",
        "_Episode.aclose is missing",
    ]
    store = signature_problems(_Store, TraceStore)
    assert "_Store.record_step lacks parameter 'episode' (positional or keyword)" in store
    assert "_Store.episodes: parameter 'run_ids' needs a default" not in store
    assert "_Store.runs is missing" in store


REPO = Path(__file__).resolve().parents[2]
_TYPED_PLUGIN = """
from vlmforge.components import PolicyFactory
from vlmforge.hookspecs import hookimpl
from vlmforge.registry import Register
from vlmforge_random.policy import RandomPolicy, RandomPolicyConfig


@hookimpl
def register_policies(register: Register[PolicyFactory]) -> None:
    register("ok", RandomPolicy)
    register("wrong", RandomPolicyConfig)
"""


@pytest.mark.slow
def test_mypy_checks_a_typed_register_call_against_the_factory_protocol(tmp_path: Path):
    api = pytest.importorskip("mypy.api")
    plugin = tmp_path / "typed_plugin.py"
    plugin.write_text(_TYPED_PLUGIN)
    config = str(REPO / "pyproject.toml")
    cache = str(tmp_path / "cache")
    out, err, status = api.run(["--config-file", config, "--cache-dir", cache, str(plugin)])
    assert status == 1, out + err
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 1, out
    assert 'typed_plugin.py:11: error: Argument 2 to "__call__" of "Register"' in errors[0]
    assert "type[RandomPolicyConfig]" in errors[0]


class _NeedsTwo:
    config_model = None

    def __init__(self, a: int, b: int) -> None: ...


def _keep(item: Any) -> bool:
    return True


def test_factory_problems_checks_config_model_and_how_the_factory_is_called():
    assert factory_problems(_keep, "filter") == []  # a plain function filter
    assert factory_problems(_NeedsTwo, "filter")[0].startswith("_NeedsTwo() is not a valid call")
    _NeedsTwo.config_model = dict  # type: ignore[assignment]
    try:
        assert factory_problems(_NeedsTwo, "filter") == [
            "_NeedsTwo.config_model is <class 'dict'>, not a pydantic model class"
        ]
    finally:
        _NeedsTwo.config_model = None
    assert "_Episode.apply is missing" in factory_problems(_Episode, "filter")
