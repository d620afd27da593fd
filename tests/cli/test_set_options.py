"""``-o/--set KEY=VALUE`` and ``--base-url``: component settings from the command line, checked
like the TOML file's keys (unknown keys with a suggestion, bad values named), errors naming the
flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.eval.helpers import open_store
from vlmforge.config import parse_set_option
from vlmforge.errors import ConfigError
from vlmforge.eval_config import load_eval_config
from vlmforge.testing.openai_server import OpenAIServer, Reply

KEY = "sk-loopback-set-SECRET-0123456789abcdef"
TOML = (
    'seeds = "0"\nmax_steps = 3\n[env]\nname = "crafter"\nimage_size = 64\n\n'
    '[policy]\nname = "openai"\nmodel = "test-model"\nbase_url = "http://127.0.0.1:9/v1"\n'
    'api_key_env = "LOOPBACK_API_KEY"\nmax_retries = 0\nuse_vision = true\n'
)


def _config(tmp_path: Path, text: str = TOML) -> Path:
    path = tmp_path / "eval.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("env.image_size=128", ("env", "image_size"), 128),
        (
            "policy.base_url=http://localhost:8000/v1",
            ("policy", "base_url"),
            "http://localhost:8000/v1",
        ),
        ("policy.temperature=0.5", ("policy", "temperature"), 0.5),
        ("policy.use_vision=false", ("policy", "use_vision"), False),
        ('tags=["a", "b"]', ("tags",), ["a", "b"]),
        ('policy.model="gpt-4o"', ("policy", "model"), "gpt-4o"),
        ("policy.extra_body.top_k=5", ("policy", "extra_body", "top_k"), 5),
    ],
)
def test_values_are_read_as_toml_values_else_text(text, path, value) -> None:
    option = parse_set_option(text)
    assert option.path == path and option.value == value


@pytest.mark.parametrize("text", ["policy.base_url", "=1", "policy..x=1", "policy.a b=1"])
def test_malformed_options_are_usage_errors(text) -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE") as err:
        parse_set_option(text)
    assert err.value.exit_code == 2


def test_options_win_over_the_file_and_reach_every_policy(tmp_path) -> None:
    many = TOML.replace("[policy]", "[[policies]]") + '\n[[policies]]\nname = "random"\n'
    settings = [parse_set_option("policy.label=x"), parse_set_option("env.image_size=96")]
    loaded = load_eval_config(str(_config(tmp_path, many)), {"settings": settings})
    assert [p.label for p in loaded.config.policy_list()] == ["x", "x"]
    assert loaded.config.env is not None and loaded.config.env.settings()["image_size"] == 96
    assert (tmp_path / "eval.toml").read_text() == many  # the file is never rewritten


def test_a_bad_top_level_value_names_the_flag(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"--set max_steps: max_steps: Input should be a valid"):
        load_eval_config(str(_config(tmp_path)), {"settings": [parse_set_option("max_steps=x")]})


def test_base_url_and_set_drive_a_real_eval(tmp_path) -> None:
    """The file points at a dead port; --base-url sends the run to the loopback server and
    -o sets the crafter frame size that the recorded image then has."""
    reply = Reply.tool_call("interact_many", {"actions": ["noop"]})
    with OpenAIServer(lambda req: reply, api_key=KEY) as server:
        db = tmp_path / "t.db"
        proc = run_cli(
            "eval",
            "--config",
            str(_config(tmp_path)),
            "--trace-db",
            str(db),
            "--base-url",
            server.base_url,
            "-o",
            "env.image_size=32",
            "--set",
            "policy.temperature=0.3",
            "--json-summary",
            str(tmp_path / "s.json"),
            env={"LOOPBACK_API_KEY": KEY},
        )
        sent = server.chat_requests
    assert proc.returncode == 0, proc.stderr
    assert sent and all(r.json["temperature"] == 0.3 for r in sent)
    store = open_store(db)
    (run,) = store.runs()
    store.close()
    assert run.env_config["image_size"] == 32
    assert run.policy_config["resolved"]["base_url"] == server.base_url

    assert json.loads((tmp_path / "s.json").read_text())["runs"][0]["episodes"] == 1


def test_unknown_component_key_names_the_flag_and_suggests(tmp_path) -> None:
    proc = run_cli(
        "eval",
        "--config",
        str(_config(tmp_path)),
        "-o",
        "policy.temprature=0.2",
        env={"LOOPBACK_API_KEY": KEY},
    )
    assert proc.returncode == 2, proc.stderr
    assert "--set policy.temprature: unknown key 'policy.temprature'" in proc.stderr
    assert "Did you mean 'temperature'?" in proc.stderr


def test_bad_component_value_names_the_flag_without_a_file(tmp_path) -> None:
    proc = run_cli("eval", "--env", "crafter", "--policy", "random", "-o", "env.image_size=4")
    assert proc.returncode == 2, proc.stderr
    assert "--set env.image_size: env.image_size:" in proc.stderr
    assert "greater than or equal to 16" in proc.stderr


def test_malformed_option_exits_2_on_the_command_line(tmp_path) -> None:
    proc = run_cli("eval", "--env", "crafter", "--policy", "random", "-o", "env.image_size")
    assert proc.returncode == 2 and "expected KEY=VALUE" in proc.stderr


def test_train_set_options_are_checked_by_the_trainer_config(tmp_path) -> None:
    proc = run_cli("train", "--trainer", "lora-sft", "-o", "lora.rr=8", "-o", "max_steps=1")
    assert proc.returncode == 2, proc.stderr
    assert "--set lora.rr: unknown key 'lora.rr'" in proc.stderr
    assert "Did you mean 'r'?" in proc.stderr
