"""`vlmforge probe --policy openai` against a loopback server speaking the OpenAI protocol, through
the real `openai` client: what the model is sent, what is recorded, and no key in the store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

from tests.probes.conftest import open_store
from vlmforge.testing.replies import RecordedRequest, Reply

Cli = Callable[..., CompletedProcess[str]]
KEY = "sk-probe-test-0123456789abcdefghij"


def _answer(request: RecordedRequest) -> Reply:
    """`day` to the daylight question, a text reply (no tool call) to the others."""
    user = request.json["messages"][-1]["content"]
    text = " ".join(p["text"] for p in user if p["type"] == "text")
    if "day or night" in text:
        return Reply.tool_call("answer", {"answer": "day"})
    return Reply.text("I cannot tell.")


def test_openai_probe_run(cli: Cli, openai_server: Any, source_db: Path, tmp_path: Path) -> None:
    srv = openai_server(_answer)
    config = tmp_path / "probe.toml"
    config.write_text(
        '[probes]\nframes = 3\ntypes = ["daylight", "health"]\n'
        f'[policy]\nname = "openai"\nmodel = "test-model"\nbase_url = "{srv.base_url}"\n'
        'api_key_env = "PROBE_TEST_KEY"\nmax_retries = 0\nuse_vision = true\n'
    )
    out, summary = tmp_path / "probes.db", tmp_path / "r.json"
    result = cli("probe", "--config", str(config), "--trace-db", str(source_db), "--out-db",
                 str(out), "--json-summary", str(summary), env={"PROBE_TEST_KEY": KEY})  # fmt: skip
    assert result.returncode == 0, result.stderr
    requests = srv.chat_requests
    assert len(requests) == 6
    for request in requests:
        body = request.json
        assert body["tools"][0]["function"]["name"] == "answer"
        parts = body["messages"][-1]["content"]
        assert [p["type"] for p in parts] == ["text", "image_url"]  # the question, the frame
        assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    (report,) = json.loads(summary.read_text())["reports"]
    assert report["policy_sees_frames"] is True
    rows = {r["type"]: r for r in report["types"]}
    day_share = rows["daylight"]["answers"].get("day", 0) / 3
    assert rows["daylight"]["accuracy"] == day_share  # scored against the exact answers
    assert rows["health"]["correct"] == 0 and rows["health"]["invalid"] == 3
    store = open_store(out)
    try:
        steps = [s for t in store.traces() for s in t.steps]
        assert {s.reply.text() for s in steps if s.reply and not s.tool_calls} == {"I cannot tell."}
        assert all(s.lm_call is not None and s.lm_call.model == "test-model" for s in steps)
    finally:
        store.close()
    for path in tmp_path.glob("probes.db*"):
        assert KEY.encode() not in path.read_bytes()


def test_a_text_only_model_is_flagged(
    cli: Cli, openai_server: Any, source_db: Path, tmp_path: Path
) -> None:
    srv = openai_server(_answer)
    config = tmp_path / "probe.toml"
    config.write_text(
        '[probes]\nframes = 1\ntypes = ["daylight"]\n'
        f'[policy]\nname = "openai"\nmodel = "test-model"\nbase_url = "{srv.base_url}"\n'
        'api_key_env = "PROBE_TEST_KEY"\n'
    )
    result = cli("probe", "--config", str(config), "--trace-db", str(source_db), "--out-db",
                 str(tmp_path / "p.db"), env={"PROBE_TEST_KEY": KEY})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "does not see the frames" in result.stderr
