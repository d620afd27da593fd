"""Redaction removes the credentials a run uses, and nothing else (issue 17, item 2).

Real Crafter, the real random and openai policies, a real SQLite store, the real filter and
openai-sft exporter; the openai policy talks to the loopback OpenAI-protocol server over HTTP.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.eval.helpers import open_store
from vlmforge.testing.openai_server import OpenAIServer, RecordedRequest, Reply

# A real key that has no known key shape (no sk-, no Bearer): only "the run uses it" finds it.
KEY = "loopback-credential-7f3a9c2e41"


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def _stored(db: Path) -> tuple[str, list[dict[str, object]], list[list[str]], list[str]]:
    """The run's system prompt, tool schemas, each step's actions, each step's reply text."""
    store = open_store(db)
    try:
        (run,) = store.runs()
        steps = [s for e in store.episodes() for s in store.steps(e.id)]
        replies = [s.reply.text() for s in steps if s.reply is not None]
        return run.system_prompt or "", list(run.tools), [s.actions for s in steps], replies
    finally:
        store.close()


def _export(tmp_path: Path, db: Path, env: dict[str, str], *extra: str) -> Path:
    out = tmp_path / "export"
    result = run_cli(
        "filter", "--trace-db", str(db), "--output-dir", str(out), "--val-fraction", "0",
        "--no-progress", *extra, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize(
    ("variable", "value"), [("DEMO_TOKEN", "move_left"), ("DEMO_SECRET", "interact_many")]
)
def test_secret_named_variables_do_not_rewrite_ordinary_data(
    tmp_path: Path, variable: str, value: str
) -> None:
    """The issue's reproductions: `DEMO_TOKEN=move_left vlmforge eval --env crafter --policy
    random ...` and `DEMO_SECRET=interact_many ...` keep actions, prompt, tools and export."""
    env = {variable: value}
    db = tmp_path / "d.db"
    result = run_cli(
        "eval", "--env", "crafter", "--policy", "random", "--seeds", "0-1", "--max-steps", "12",
        "--trace-db", str(db), env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    system_prompt, tools, actions, _ = _stored(db)
    assert "move_left" in system_prompt and "interact_many" in system_prompt
    assert "[redacted]" not in system_prompt
    names = [t["function"]["name"] for t in tools]
    assert names == ["interact_many", "interact"]
    enum = tools[0]["function"]["parameters"]["properties"]["actions"]["items"]["enum"]
    assert "move_left" in enum
    flat = [a for step in actions for a in step]
    assert "move_left" in flat and "[redacted]" not in flat
    assert b"[redacted]" not in _all_bytes(tmp_path)
    out = _export(tmp_path, db, env)
    exported = (out / "train.jsonl").read_text()
    assert "[redacted]" not in exported
    assert '"interact_many"' in exported and "move_left" in exported
    rows = [json.loads(line) for line in exported.splitlines()]
    assert rows and all(r["tools"][0]["function"]["name"] == "interact_many" for r in rows)
    assert all("move_left" in json.dumps(r["tools"]) for r in rows)
    assert all(r["messages"][0] == {"role": "system", "content": system_prompt} for r in rows)


def _reply(request: RecordedRequest) -> Reply:
    # A model (or a provider) that echoes the key in its text: the trace must not keep it.
    return Reply.tool_calls(
        ("interact_many", {"actions": ["move_left", "do"]}), content=f"the key is {KEY}, ok"
    )


def test_the_key_the_run_uses_is_redacted_everywhere(tmp_path: Path) -> None:
    """A key read through api_key_env, with no key shape, is in no byte of the database, the
    export or the output, while DEMO_TOKEN=move_left in the same run rewrites nothing."""
    env = {"LOOPBACK_CRED": KEY, "DEMO_TOKEN": "move_left"}
    db = tmp_path / "llm.db"
    config = tmp_path / "eval.toml"
    with OpenAIServer(_reply, api_key=KEY) as server:
        config.write_text(
            'run_name = "llm"\nseeds = "0"\nmax_steps = 6\n[env]\nname = "crafter"\n'
            f'[policy]\nname = "openai"\nmodel = "m"\nbase_url = "{server.base_url}"\n'
            'api_key_env = "LOOPBACK_CRED"\nmax_retries = 0\n'
        )
        result = run_cli("eval", "--config", str(config), "--trace-db", str(db), env=env)
        sent = server.chat_requests
    assert result.returncode == 0, result.stderr
    assert sent and all(r.bearer == KEY for r in sent)  # the key was used
    system_prompt, tools, actions, replies = _stored(db)
    assert replies and all(r == "the key is [redacted], ok" for r in replies)
    assert all(a == ["move_left", "do"] for a in actions if a)  # data survives beside it
    assert "[redacted]" not in system_prompt and "move_left" in json.dumps(tools)
    out = _export(tmp_path, db, env, "--filter", "status")
    export = _all_bytes(out)
    assert b"move_left" in export and b"interact_many" in export
    shown = run_cli("traces", "show", "--trace-db", str(db), "--json", _first_episode(db), env=env)
    assert shown.returncode == 0, shown.stderr
    everything = _all_bytes(tmp_path).decode("utf-8", "replace") + result.stdout + result.stderr
    everything += shown.stdout + shown.stderr
    assert KEY not in everything and KEY[:12] not in everything


def _first_episode(db: Path) -> str:
    store = open_store(db)
    try:
        return next(iter(store.episodes())).id
    finally:
        store.close()


def test_only_remembered_credentials_and_key_shapes_are_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vlmforge import redaction

    monkeypatch.setenv("DEMO_TOKEN", "move_left")
    monkeypatch.setenv("MY_PROVIDER_KEY", "provider-key-0123")
    redaction.forget_secrets()
    try:
        text = "move_left with provider-key-0123 and sk-abcdefghijklmnop0123 and hf_" + "a" * 34
        assert (
            redaction.redact_text(text)
            == "move_left with provider-key-0123 and [redacted] and [redacted]"
        )
        redaction.remember_config_secrets({"nested": [{"api_key_env": "MY_PROVIDER_KEY"}]})
        redaction.remember_config_secrets({"api_key": "short"})  # under 8 characters: by key only
        assert redaction.redact_text("move_left provider-key-0123 short") == (
            "move_left [redacted] short"
        )
        assert redaction.redact_config({"api_key": "short", "model": "m"}) == {
            "api_key": "[redacted]",
            "model": "m",
        }
    finally:
        redaction.forget_secrets()
