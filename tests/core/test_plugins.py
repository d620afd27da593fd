"""The plugin manager: entry points, VLMFORGE_PLUGINS, --plugins-dir, failures, duplicates."""

import json
import sys

import pytest

from tests.conftest import FIXTURES
from vlmforge import plugins
from vlmforge.components import EpisodeTrace
from vlmforge.errors import (
    ComponentUnavailableError,
    ConfigError,
    DuplicateComponentError,
    UnknownComponentError,
)
from vlmforge.plugins import PluginHost
from vlmforge.trace import Episode, Run


def test_bundled_plugins_register_through_entry_points():
    host = PluginHost()
    assert host.plugins["random"].source == "entry-point"
    assert host.plugins["random"].distribution == "vlmforge"
    spec = host.registry.get("policy", "random")
    assert spec.plugin == "random"
    assert spec.available


def test_allow_list_restricts_entry_points():
    assert PluginHost(allow=set()).plugins == {}
    assert PluginHost(allow={"random"}).registry.names("policy") == ["random"]


def test_env_var_restricts_loading(monkeypatch):
    monkeypatch.setenv(plugins.PLUGINS_ENV, "")
    assert plugins.get_host().plugins == {}
    plugins.reset()
    monkeypatch.setenv(plugins.PLUGINS_ENV, "random, nonexistent")
    assert list(plugins.get_host().plugins) == ["random"]


def test_plugins_dir_loads_in_house_files():
    host = PluginHost([FIXTURES / "plugins_dir"])
    info = host.plugins["inhouse_filter"]
    assert info.source == "plugins-dir" and info.error is None
    assert info.hooks == ["register_filters"]
    spec = host.registry.get("filter", "inhouse-long-episodes")
    assert spec.plugin == "inhouse_filter"


def test_plugins_dir_from_env(monkeypatch):
    monkeypatch.setenv(plugins.PLUGINS_DIR_ENV, str(FIXTURES / "plugins_dir"))
    assert "inhouse-long-episodes" in plugins.get_registry().names("filter")


def test_missing_plugins_dir_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        PluginHost([tmp_path / "nope"])


def test_broken_plugin_is_reported_and_others_still_load():
    host = PluginHost([FIXTURES / "broken_plugins_dir"])
    broken = host.plugins["broken"]
    assert "ModuleNotFoundError" in broken.error
    assert "vlmforge_this_module_does_not_exist" in broken.error
    assert host.registry.get("policy", "random")  # the rest works
    assert [p.name for p in host.failures()] == ["broken"]


def test_duplicate_names_are_an_error_naming_both_plugins():
    host = PluginHost([FIXTURES / "clash_plugins_dir"])
    with pytest.raises(DuplicateComponentError) as exc:
        host.registry  # noqa: B018
    assert "'random'" in str(exc.value) and "'clash'" in str(exc.value)


def test_unavailable_component_lists_install_hint():
    host = PluginHost([FIXTURES / "plugins_dir"])
    spec = host.registry.get("trainer", "needs-extra")
    assert not spec.available
    row = next(p for p in host.describe() if p["name"] == "needs_extra")
    assert row["components"][0]["available"] is False
    assert row["components"][0]["install_hint"] == "pip install vlmforge-not-installed-anywhere"
    with pytest.raises(ComponentUnavailableError, match="pip install vlmforge-not-installed"):
        spec.create({})


def test_unknown_name_suggests_the_closest():
    registry = PluginHost().registry
    with pytest.raises(UnknownComponentError) as exc:
        registry.get("policy", "randon")
    msg = str(exc.value)
    assert "unknown policy 'randon' (--policy)" in msg
    assert "Did you mean 'random'?" in msg
    assert "Known policy names:" in msg and "random" in msg


def test_create_validates_config_against_component_model():
    registry = PluginHost().registry
    policy = registry.create("policy", "random", {"actions_per_call": 3})
    assert policy.config.actions_per_call == 3
    with pytest.raises(ConfigError, match=r"cfg.toml \[policy\]: unknown key 'actions'"):
        registry.create("policy", "random", {"actions": 3}, source="cfg.toml [policy]")


def test_function_filter_takes_no_settings():
    registry = PluginHost([FIXTURES / "plugins_dir"]).registry
    f = registry.create("filter", "inhouse-long-episodes")
    run = Run(id="r", name="r", vlmforge_version="0", env_name="e", policy_name="p")
    long = EpisodeTrace(run, Episode(id="a", run_id="r", seed=0, steps=10), [])
    short = EpisodeTrace(run, Episode(id="b", run_id="r", seed=1, steps=9), [])
    assert f.apply(long) is long
    assert f.apply(short) is None
    with pytest.raises(ConfigError, match="takes no settings"):
        registry.create("filter", "inhouse-long-episodes", {"min": 3})


def test_cli_plugins_json_lists_components_by_kind(cli):
    result = cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert {"kind": "policy", "name": "random"}.items() <= rows["random"]["components"][0].items()
    assert rows["random"]["version"]


def test_cli_reports_broken_plugin_and_still_runs(cli):
    result = cli("plugins", "--json", "--plugins-dir", str(FIXTURES / "broken_plugins_dir"))
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert "ModuleNotFoundError" in rows["broken"]["error"]
    table = cli("plugins", env={"VLMFORGE_PLUGINS_DIR": str(FIXTURES / "broken_plugins_dir")})
    assert table.returncode == 0
    assert "broken" in table.stdout and "random" in table.stdout


def test_hook_wrapper_is_rejected_with_a_clear_error_and_others_still_load():
    host = PluginHost([FIXTURES / "wrapper_plugins_dir"])
    info = host.plugins["wrapping"]
    assert "hook wrappers are not supported (register_filters)" in info.error
    assert "Use a plain @hookimpl" in info.error
    registry = host.registry
    assert "wrapping-policy" not in registry.names("policy")  # the whole plugin is skipped
    assert registry.get("policy", "random")
    assert info.module is None
    assert host.pm.get_plugin("wrapping") is None
    assert sys.modules["vlmforge_plugins_dir.wrapping"].CALLS == []  # neither hook ran
    old_style = host.plugins["old_style_wrapping"].error
    assert "hook wrappers are not supported (register_commands)" in old_style
    assert [p.name for p in host.failures()] == ["old_style_wrapping", "wrapping"]


def test_hooks_are_called_through_pluggy_one_plugin_at_a_time():
    host = PluginHost([FIXTURES / "plugins_dir"])
    calls: list[tuple[str, list[str]]] = []

    def before(hook_name: str, impls: list, kwargs: dict) -> None:
        calls.append((hook_name, [impl.plugin_name for impl in impls]))

    undo = host.pm.add_hookcall_monitoring(before, lambda *args: None)
    try:
        host.registry  # noqa: B018
    finally:
        undo()
    filters = [impls for name, impls in calls if name == "register_filters"]
    assert ["inhouse_filter"] in filters and ["filters"] in filters
    assert all(len(impls) == 1 for _, impls in calls)
