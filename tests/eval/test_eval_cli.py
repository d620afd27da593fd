"""``vlmforge eval`` end to end in a real subprocess: crafter + random + sqlite."""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_cli_subprocess
from tests.eval.helpers import open_store
from vlmforge.components import EpisodeQuery

BASE64_RUN = re.compile(r"[A-Za-z0-9+/=]{120,}")


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("eval")
    db, summary, frames = tmp / "X.db", tmp / "S.json", tmp / "frames"
    proc = run_cli_subprocess(  # the eval smoke test: a real `python -m vlmforge eval`
        "eval",
        "--env",
        "crafter",
        "--policy",
        "random",
        "--seeds",
        "0-3",
        "--max-steps",
        "100",
        "--trace-db",
        str(db),
        "--json-summary",
        str(summary),
        "--frames-dir",
        str(frames),
        "--run-name",
        "smoke",
        "--concurrency",
        "2",
        cwd=tmp,
    )
    assert proc.returncode == 0, proc.stderr
    return tmp, db, json.loads(summary.read_text()), frames, proc


def test_prints_episode_lines_and_summary_without_base64(finished) -> None:
    _, _, _, _, proc = finished
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("seed ")]
    assert len(lines) == 4
    assert all(
        re.fullmatch(
            r"seed \d: \d+ steps?, \d+ achievements?, reward -?\d+\.\d, \d+ tool calls?, "
            r"\d+ invalid",
            ln,
        )
        for ln in lines
    ), lines
    assert "Crafter score" in proc.stdout and "BALROG progression" in proc.stdout
    for stream in (proc.stdout, proc.stderr):
        assert "base64" not in stream and not BASE64_RUN.search(stream)


def test_database_holds_every_step_frame_and_reward(finished) -> None:
    _, db, _, frames, _ = finished
    store = open_store(db)
    run = store.get_run("smoke")
    assert run is not None and run.seeds == [0, 1, 2, 3] and run.env_config["max_steps"] == 100
    assert len(run.achievements) == 22 and run.tools and run.system_prompt
    episodes = list(store.episodes([run.id]))
    assert sorted(e.seed for e in episodes) == [0, 1, 2, 3]
    frame_hashes: set[str] = set()
    for episode in episodes:
        assert episode.status.value == "done"
        steps = list(store.steps(episode.id))
        assert [s.index for s in steps] == list(range(episode.steps))
        assert sum(len(s.actions) for s in steps) == episode.env_steps <= 100
        assert sum(s.reward for s in steps) == pytest.approx(episode.total_reward)
        unlocked = [a for s in steps for a in s.achievements]
        assert unlocked == episode.achievements
        assert steps[-1].done and all(not s.done for s in steps[:-1])
        for s in steps:
            assert s.prompt[0].role == "system" and s.prompt[-1].role == "user"
            assert s.prompt[-1].image_hashes() == s.observation.images
            assert s.reply is not None and s.reply.tool_calls == s.tool_calls
            sha = s.observation.images[-1]
            frame_hashes.add(sha)
            png = frames / f"seed_{episode.seed:04d}" / f"step_{s.index:03d}.png"
            assert png.read_bytes() == store.image(sha)
    store.close()
    with sqlite3.connect(db) as con:
        n_images = con.execute("SELECT COUNT(*) FROM image").fetchone()[0]
        n_steps = con.execute("SELECT COUNT(*) FROM step").fetchone()[0]
    assert n_images == len(frame_hashes)  # each distinct frame once
    assert n_steps == sum(e.steps for e in episodes)


def test_summary_matches_the_database(finished) -> None:
    _, db, doc, _, _ = finished
    (summary,) = doc["runs"]
    store = open_store(db)
    episodes = list(store.episodes(query=EpisodeQuery(statuses=["done", "failed"])))
    store.close()
    assert summary["episodes"] == 4 and summary["episodes_by_status"]["done"] == 4
    assert summary["steps"] == sum(e.env_steps for e in episodes)
    assert summary["decisions"] == sum(e.steps for e in episodes)
    uniques = sorted(len(e.achievements) for e in episodes)
    assert summary["unique_achievements_mean"] == pytest.approx(sum(uniques) / 4)
    assert summary["progression_pct"] == pytest.approx(100 * sum(uniques) / 4 / 22)
    assert summary["reward_mean"] == pytest.approx(sum(e.total_reward for e in episodes) / 4)
    for name, rate in summary["success_rates_pct"].items():
        assert rate == pytest.approx(100 * sum(name in e.achievements for e in episodes) / 4)
    assert summary["cost_usd"] == 0.0 and summary["policy"] == "random"
    assert summary["policy_latency_p50_s"] is not None and summary["wall_time_s"] > 0


def test_traces_commands(finished, tmp_path: Path) -> None:
    _, db, _, _, _ = finished
    listed = run_cli("traces", "list", "--trace-db", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert [r["name"] for r in data["runs"]] == ["smoke"] and len(data["episodes"]) == 4
    table = run_cli("traces", "list", "--trace-db", str(db), "--run", "smoke")
    assert "smoke" in table.stdout and "4/4 done" in table.stdout
    other = run_cli("traces", "stats", "--trace-db", str(db), "--run", "nope")
    assert other.returncode == 2 and "no run 'nope'" in other.stderr
    shown = run_cli("traces", "show", "smoke:2", "--trace-db", str(db))
    assert shown.returncode == 0, shown.stderr
    assert "seed 2:" in shown.stdout and not BASE64_RUN.search(shown.stdout)
    as_json = run_cli("traces", "show", data["episodes"][1]["id"], "--trace-db", str(db), "--json")
    shown_steps = json.loads(as_json.stdout)["steps"]
    assert len(shown_steps) == data["episodes"][1]["steps"]
    assert len(shown_steps[0]["observation"]["images"][0]) == 64  # by sha256, never inlined
    assert not BASE64_RUN.search(as_json.stdout)
    stats = run_cli("traces", "stats", "--trace-db", str(db), "--json")
    total = sum(e["env_steps"] for e in data["episodes"])
    assert json.loads(stats.stdout)["runs"][0]["steps"] == total
    episode_id = data["episodes"][0]["id"]
    out = tmp_path / "frames"
    made = run_cli("traces", "frames", episode_id, "--out", str(out), "--trace-db", str(db))
    assert made.returncode == 0, made.stderr
    pngs = sorted(out.glob("step_*.png"))
    assert len(pngs) == data["episodes"][0]["steps"]
    from PIL import Image

    data_pngs = [p.read_bytes() for p in pngs]
    changes = 1 + sum(a != b for a, b in itertools.pairwise(data_pngs))
    with Image.open(out / "episode.gif") as gif:
        assert gif.n_frames == changes  # Pillow merges identical consecutive frames
    missing = run_cli("traces", "show", "nope", "--trace-db", str(db))
    assert missing.returncode != 0 and "no episode 'nope'" in missing.stderr
    no_db = run_cli("traces", "list", "--trace-db", str(tmp_path / "absent.db"))
    assert no_db.returncode != 0 and "does not exist" in no_db.stderr
    assert not (tmp_path / "absent.db").exists()
