"""Eval config files: every example loads, every key is honoured, errors point at file/line/key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from vlmforge.components_build import build_component
from vlmforge.config import StrictModel
from vlmforge.errors import ConfigError
from vlmforge.eval_config import load_eval_config
from vlmforge.plugins import get_registry
from vlmforge.registry import ComponentSpec, Registry

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("eval_*.toml"))


def _flags(**kw):
    keys = (
        "run_name",
        "seeds",
        "concurrency",
        "env_workers",
        "max_steps",
        "frames_dir",
        "json_summary",
        "env",
        "policy",
        "model",
        "store",
        "trace_db",
    )
    return {k: kw.get(k) for k in keys}


def _oneline(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_example_configs_load_and_build(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000")
    monkeypatch.setenv("SYNTH_API_KEY", "sk-test-not-a-real-key-000000")  # eval_synth.toml
    loaded = load_eval_config(str(path), _flags())
    registry = get_registry()
    cfg = loaded.config
    assert cfg.seed_list()
    build_component(registry, "environment", cfg.env.name, cfg.env.settings(), where=str(path))
    for section in cfg.policy_list():
        build_component(registry, "policy", section.name, section.settings(), where=str(path))
    store_model = registry.get("store", cfg.store.name).config_model()
    store_model.model_validate(cfg.store.settings())


def test_prices_example_loads() -> None:
    from vlmforge.pricing import estimate_cost, load_prices

    prices = load_prices(Path(__file__).parents[2] / "configs" / "prices.toml")
    assert estimate_cost("qwen2.5-vl-7b-local", 1000, 10, prices) == 0.0
    assert estimate_cost("gpt-4o-mini-2024-07-18", 1_000_000, 0, prices) == pytest.approx(0.15)
    assert estimate_cost("some-unknown-model", 10, 10, prices) is None
    assert estimate_cost(None, None, None, prices) == 0.0


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "eval.toml"
    path.write_text(text)
    return path


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'seeds = "0-9"\nconcurrency = 2\nenv_workers = 3\n[env]\nname = "crafter"\n'
        'image_size = 32\n[policy]\nname = "random"\nactions_per_call = 2\n',
    )
    loaded = load_eval_config(
        str(path), _flags(seeds="3,5", concurrency=4, trace_db="x.db", max_steps=9, run_name="r")
    )
    cfg = loaded.config
    assert cfg.seed_list() == [3, 5] and cfg.concurrency == 4 and cfg.max_steps == 9
    assert cfg.store.settings() == {"path": "x.db"} and cfg.run_name == "r"
    assert cfg.env_workers == 3
    assert load_eval_config(str(path), _flags(env_workers=0)).config.env_workers == 0
    assert cfg.env.settings() == {"image_size": 32}
    assert cfg.policy.settings() == {"actions_per_call": 2}
    # --policy with another name replaces the table (its settings belong to the old policy)
    other = load_eval_config(str(path), _flags(policy="openai", model="gpt-4o")).config
    assert other.policy.name == "openai" and other.policy.settings() == {"model": "gpt-4o"}


def test_store_name_defaults_to_sqlite(tmp_path: Path) -> None:
    path = _write(
        tmp_path, '[env]\nname="crafter"\n[policy]\nname="random"\n[store]\npath="x.db"\n'
    )
    store = load_eval_config(str(path), _flags()).config.store
    assert (store.name, store.settings()) == ("sqlite", {"path": "x.db"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'concurrncy = 2\n[env]\nname="crafter"\n[policy]\nname="random"\n',
            ["eval.toml, line 1", "unknown key 'concurrncy'", "Did you mean 'concurrency'"],
        ),
        (
            'seeds = "5-1"\n[env]\nname="crafter"\n[policy]\nname="random"\n',
            ["eval.toml, line 1", "seeds", "reversed"],
        ),
        (
            '[env]\nname="crafter"\n[policy]\nname="random"\n[[policies]]\nname="random"\n',
            ["either [policy] or [[policies]]"],
        ),
        ('[policy]\nname="random"\n', ["no environment", "--env NAME"]),
        ('[env]\nname="crafter"\n', ["no policy", "--policy NAME"]),
        (
            '[env]\nname="crafter"\n[policy]\nname="random"\n[store]\nname=""\n',
            ["eval.toml, line 6", "store.name", "at least 1 character"],
        ),
    ],
)
def test_config_errors_name_file_line_and_key(tmp_path: Path, text: str, expected: list[str]):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_eval_config(str(path), _flags())
    for part in expected:
        assert part in str(err.value)


def test_component_setting_errors_point_into_the_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[env]\nname = "crafter"\nimage_size = "big"\n\n'
        '[[policies]]\nname = "random"\n\n[[policies]]\nname = "random"\nlabel = "b"\n'
        "actions_per_cal = 3\n",
    )
    proc = run_cli("eval", "--config", str(path), "--trace-db", str(tmp_path / "t.db"))
    err = _oneline(proc.stderr)
    assert proc.returncode == 2 and "eval.toml, line 3: env.image_size" in err, err
    path.write_text(path.read_text().replace('image_size = "big"', "image_size = 32"))
    proc = run_cli("eval", "--config", str(path), "--trace-db", str(tmp_path / "t.db"))
    err = _oneline(proc.stderr)
    assert proc.returncode == 2, err
    assert "eval.toml, line 11: unknown key 'policies.1.actions_per_cal'" in err
    assert "Did you mean 'actions_per_call'" in err
    assert not (tmp_path / "t.db").exists()  # nothing written before the config is valid


def test_cli_errors(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    proc = run_cli("eval", "--env", "crafterr", "--policy", "random", "--trace-db", db)
    assert proc.returncode == 2 and "Did you mean 'crafter'" in _oneline(proc.stderr)
    proc = run_cli("eval", "--env", "crafter", "--policy", "random", "--resume", "--trace-db", db)
    assert proc.returncode == 2 and "--resume needs the run's name" in _oneline(proc.stderr)
    proc = run_cli(
        "eval", "--env", "crafter", "--policy", "random", "--model", "x", "--trace-db", db
    )
    assert proc.returncode == 2 and "unknown key 'model'" in _oneline(proc.stderr)
    proc = run_cli("eval", "--config", str(tmp_path / "missing.toml"))
    assert proc.returncode == 2 and "not found" in proc.stderr
    proc = run_cli(
        "eval",
        "--env",
        "crafter",
        "--policy",
        "random",
        "--seeds",
        "0",
        "--concurrency",
        "0",
        "--trace-db",
        db,
    )
    assert proc.returncode == 2 and "concurrency" in proc.stderr


class _UrlsConfig(StrictModel):
    env_urls: list[str]


class _LabEnv:
    """An in-house environment reached over the network: it takes ``env_urls``."""

    config_model = _UrlsConfig


def _lab_registry() -> Registry:
    registry = Registry()
    registry.add(get_registry().get("environment", "crafter"))
    registry.add(ComponentSpec(kind="environment", name="lab", factory=_LabEnv, plugin="lab"))
    return registry


def test_env_url_fills_env_urls_of_the_environment_that_takes_it() -> None:
    registry = _lab_registry()
    urls = ("http://h1:8000", "http://h2:8000")
    named = load_eval_config(
        None, {"env": "lab", "env_urls": urls, "policy": "random"}, registry=registry
    )
    assert named.config.env is not None and named.config.env.name == "lab"
    assert named.config.env.settings() == {"env_urls": list(urls)}
    # no --env: the one installed environment that takes env_urls (no name is built in)
    alone = load_eval_config(None, {"env_urls": urls[:1], "policy": "random"}, registry=registry)
    assert alone.config.env is not None and alone.config.env.name == "lab"
    with pytest.raises(ConfigError, match=r"--env-url is for --env lab .*not --env crafter"):
        load_eval_config(
            None, {"env": "crafter", "env_urls": urls, "policy": "random"}, registry=registry
        )
