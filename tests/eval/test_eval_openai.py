"""The openai policy through ``vlmforge eval`` against the loopback OpenAI server (real HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.eval.helpers import open_store
from tests.eval.test_eval_cli import BASE64_RUN
from vlmforge.prompting import to_openai
from vlmforge.testing.openai_server import OpenAIServer, Reply

KEY = "sk-loopback-test-SECRET-0123456789abcdef"


def _config(tmp_path: Path, base_url: str, *, seeds: str = "0-1", extra: str = "") -> Path:
    path = tmp_path / "eval.toml"
    path.write_text(
        f'run_name = "llm"\nseeds = "{seeds}"\nconcurrency = 2\nmax_steps = 12\n{extra}\n'
        '[env]\nname = "crafter"\n\n'
        f'[policy]\nname = "openai"\nmodel = "test-model"\nbase_url = "{base_url}"\n'
        'api_key_env = "LOOPBACK_API_KEY"\nmax_retries = 0\nuse_vision = true\n'
    )
    return path


def _act(request) -> Reply:
    return Reply.tool_call(
        "interact_many",
        {"actions": ["move_left", "do", "noop"]},
        usage={"prompt_tokens": 120, "completion_tokens": 9, "total_tokens": 129},
    )


def test_llm_eval_records_calls_and_never_stores_the_key(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."test-model"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n')
    with OpenAIServer(_act, api_key=KEY) as server:
        config = _config(tmp_path, server.base_url, extra=f'prices = "{prices}"')
        db = tmp_path / "llm.db"
        proc = run_cli(
            "eval",
            "--config",
            str(config),
            "--trace-db",
            str(db),
            "--json-summary",
            str(tmp_path / "s.json"),
            env={"LOOPBACK_API_KEY": KEY},
        )
        assert proc.returncode == 0, proc.stderr
        sent = server.chat_requests
    assert sent and all(r.bearer == KEY for r in sent)  # the key was used...
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert KEY.encode() not in raw  # ...and is nowhere in the database, WAL or summary
    assert KEY not in proc.stdout + proc.stderr
    assert "base64" not in proc.stdout and not BASE64_RUN.search(proc.stdout)
    (summary,) = json.loads((tmp_path / "s.json").read_text())["runs"]
    store = open_store(db)
    episodes = list(store.episodes())
    steps = [s for e in episodes for s in store.steps(e.id)]
    # every request the server received is a stored prompt, verbatim (images as data URLs)
    stored = {json.dumps(to_openai(s.prompt, store.image), sort_keys=True) for s in steps}
    assert all(json.dumps(r.json["messages"], sort_keys=True) in stored for r in sent)
    store.close()
    assert len(steps) == len(sent) == summary["decisions"]
    assert summary["prompt_tokens"] == 120 * len(steps)
    assert summary["completion_tokens"] == 9 * len(steps)
    assert summary["cost_usd"] == (120 * 1.0 + 9 * 2.0) * len(steps) / 1e6
    assert all(s.lm_call is not None and s.lm_call.model == "test-model" for s in steps)
    assert all(s.actions == ["move_left", "do", "noop"] for s in steps if not s.done)
    stats = run_cli("traces", "stats", "--trace-db", str(db), "--prices", str(prices), "--json")
    assert json.loads(stats.stdout)["runs"][0]["cost_usd"] == summary["cost_usd"]
    unpriced = run_cli("traces", "stats", "--trace-db", str(db), "--json")
    assert json.loads(unpriced.stdout)["runs"][0]["cost_usd"] is None  # unknown, not a guess
    first = sent[0].json["messages"]
    assert any(p.get("type") == "image_url" for p in first[-1]["content"])


def test_policy_error_fails_one_episode_and_the_run_goes_on(tmp_path: Path) -> None:
    replies = [Reply.error(400, "bad request for this episode")]
    with OpenAIServer(replies, default=_act(None)) as server:
        config = _config(tmp_path, server.base_url)
        path = config.read_text().replace("concurrency = 2", "concurrency = 1")
        config.write_text(path)
        db = tmp_path / "f.db"
        proc = run_cli(
            "eval", "--config", str(config), "--trace-db", str(db), env={"LOOPBACK_API_KEY": KEY}
        )
    assert proc.returncode == 0, proc.stderr
    assert "seed 0: 0 steps" in proc.stdout and "[failed: policy error" in proc.stdout
    store = open_store(db)
    by_seed = {e.seed: e for e in store.episodes()}
    assert by_seed[0].status.value == "failed" and by_seed[1].status.value == "done"
    (failed_step,) = store.steps(by_seed[0].id)  # the failed call is recorded, not invented
    assert failed_step.actions == [] and failed_step.lm_call.error and not failed_step.tool_calls
    assert failed_step.lm_call.attempts[0].status == 400
    store.close()


def test_bad_key_stops_the_whole_run_at_once(tmp_path: Path) -> None:
    with OpenAIServer(_act, api_key="sk-the-right-key-000000000000") as server:
        config = _config(tmp_path, server.base_url, seeds="0-9")
        db = tmp_path / "x.db"
        proc = run_cli(
            "eval", "--config", str(config), "--trace-db", str(db), env={"LOOPBACK_API_KEY": KEY}
        )
        n_requests = len(server.chat_requests)
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 1, proc.stderr
    assert "stopped the run 'llm'" in err and "--resume --run-name llm" in err
    assert "episodes were not started" in err
    assert n_requests <= 2  # the two episodes in flight; none of the other eight started
    store = open_store(db)
    episodes = list(store.episodes())
    store.close()
    assert len(episodes) <= 2 and all(e.status.value == "interrupted" for e in episodes)
    assert KEY not in proc.stderr


def test_concurrency_is_the_number_of_decisions_in_flight(tmp_path: Path) -> None:
    """6 episodes at concurrency 3 against a server that answers after 0.5 s: the server sees
    exactly 3 requests in flight at its busiest (episodes overlap, and no more than asked)."""
    latency = 0.5

    def one_action(request) -> Reply:
        return Reply.tool_call("interact", {"action": "noop"})

    with OpenAIServer(one_action, latency_s=latency, api_key=KEY) as server:
        config = _config(tmp_path, server.base_url, seeds="0-5")
        text = config.read_text().replace("concurrency = 2", "concurrency = 3")
        config.write_text(text.replace("max_steps = 12", "max_steps = 4"))
        proc = run_cli(
            "eval",
            "--config",
            str(config),
            "--trace-db",
            str(tmp_path / "c.db"),
            env={"LOOPBACK_API_KEY": KEY},
        )
        assert proc.returncode == 0, proc.stderr
        arrivals = [r.received_at for r in server.chat_requests]
    assert len(arrivals) == 6 * 4
    # a request is in flight from its arrival until its reply, which leaves >= latency later
    in_flight = [sum(1 for u in arrivals if u <= t < u + latency) for t in arrivals]
    assert max(in_flight) == 3
