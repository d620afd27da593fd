"""``vlmforge traces gc`` and ``vlmforge traces rm``: frames and prompt messages stored once by
hash are collected when no step uses them any more; removing a run leaves every other run
exactly as it was. A real SQLite file, real crafter, the openai policy over real HTTP on
127.0.0.1, the CLI in-process."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.eval.helpers import make_run, open_store
from vlmforge.testing.openai_server import OpenAIServer, Reply
from vlmforge.trace import Episode

KEY = "sk-loopback-cleanup-0123456789abcdef"
CLI = Callable[..., Any]


def _config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "eval.toml"
    path.write_text(
        'run_name = "llm"\nseeds = "0"\nconcurrency = 1\nmax_steps = 40\n'
        '[env]\nname = "crafter"\n\n'
        f'[policy]\nname = "openai"\nmodel = "test-model"\nbase_url = "{base_url}"\n'
        'api_key_env = "LOOPBACK_API_KEY"\nmax_retries = 0\nuse_vision = true\nhistory = "turns"\n'
    )
    return path


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as con:
        return {
            t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
            for t in ("run", "episode", "step", "achievement", "image", "blob")
        }


def _referenced(db: Path) -> tuple[set[str], set[str]]:
    """(image shas, blob shas) the stored steps use, read independently of the store."""
    images: set[str] = set()
    blobs: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("type") == "image" and "sha256" in value:
                images.add(value["sha256"])
            if "$ref" in value:
                blobs.add(value["$ref"])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    with sqlite3.connect(db) as con:
        for (payload,) in con.execute("SELECT payload FROM step"):
            data = json.loads(zlib.decompress(payload))
            images.update(data["observation"]["images"])
            walk(data)
        for sha in sorted(blobs):
            (data,) = con.execute("SELECT data FROM blob WHERE sha256 = ?", (sha,)).fetchone()
            walk(json.loads(zlib.decompress(data)))
    return images, blobs


def _replayed_db(tmp_path: Path, cli: CLI) -> Path:
    """A run whose only episode was interrupted after 6 steps (the key was revoked: a fatal
    401) and replayed by --resume, moving the other way: the first attempt's frames and
    history messages are no longer used by any step."""
    db = tmp_path / "r.db"
    calls = {"n": 0, "phase": 1}

    def reply(request: Any) -> Reply:
        calls["n"] += 1
        if calls["phase"] == 1:
            if calls["n"] > 6:
                return Reply.auth_error()
            return Reply.tool_call("interact_many", {"actions": ["move_left", "move_up"]})
        return Reply.tool_call("interact_many", {"actions": ["move_right", "move_down"]})

    with OpenAIServer(reply) as server:
        config = _config(tmp_path, server.base_url)
        args = ("eval", "--config", str(config), "--trace-db", str(db))
        env = {"LOOPBACK_API_KEY": KEY}
        first = cli(*args, env=env)
        assert first.returncode == 1, first.stderr
        store = open_store(db)
        (episode,) = store.episodes()
        assert episode.status.value == "interrupted" and episode.steps >= 6
        store.close()
        calls["phase"] = 2
        again = cli(*args, "--resume", env=env)
        assert again.returncode == 0, again.stderr
    return db


def test_gc_collects_what_a_replayed_episode_left_behind(tmp_path: Path, cli: CLI) -> None:
    db = _replayed_db(tmp_path, cli)
    images, blobs = _referenced(db)
    with sqlite3.connect(db) as con:
        stored_images = {r[0] for r in con.execute("SELECT sha256 FROM image")}
        stored_blobs = {r[0] for r in con.execute("SELECT sha256 FROM blob")}
        orphan_bytes = sum(
            len(data)
            for sha, data in con.execute("SELECT sha256, png FROM image").fetchall()
            + con.execute("SELECT sha256, data FROM blob").fetchall()
            if sha not in images | blobs
        )
    orphans = (len(stored_images - images), len(stored_blobs - blobs))
    assert orphans[0] > 0 and orphans[1] > 0  # the defect: nothing removes these
    assert images <= stored_images and blobs <= stored_blobs
    before = _counts(db)
    listed = cli("traces", "list", "--trace-db", str(db), "--json").stdout

    dry = cli("traces", "gc", "--trace-db", str(db), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert (report["images"], report["messages"], report["dry_run"]) == (*orphans, True)
    assert report["bytes_freed"] == orphan_bytes
    assert _counts(db) == before  # a dry run removes nothing

    done = cli("traces", "gc", "--trace-db", str(db))
    assert done.returncode == 0, done.stderr
    assert f"removed {orphans[0]} images, {orphans[1]} prompt message" in done.stdout
    after = _counts(db)
    assert after["image"] == len(images) and after["blob"] == len(blobs)
    assert {k: v for k, v in after.items() if k not in ("image", "blob")} == {
        k: v for k, v in before.items() if k not in ("image", "blob")
    }
    assert _referenced(db) == (images, blobs)
    # every read still works: the listing is unchanged, every frame of the episode is there
    assert cli("traces", "list", "--trace-db", str(db), "--json").stdout == listed
    frames = cli("traces", "frames", "llm:0", "--trace-db", str(db), "--out", str(tmp_path / "f"))
    assert frames.returncode == 0, frames.stderr
    again = cli("traces", "gc", "--trace-db", str(db), "--json")
    assert json.loads(again.stdout)["images"] == 0 and _counts(db) == after


def _three_runs(tmp_path: Path, cli: CLI) -> Path:
    db = tmp_path / "t.db"
    for name, seeds in (("a", "0-1"), ("b", "1-2"), ("c", "3")):
        proc = cli(
            "eval", "--env", "crafter", "--policy", "random", "--seeds", seeds,
            "--max-steps", "25", "--run-name", name, "--trace-db", str(db),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    return db


def _read_back(db: Path, cli: CLI, runs: list[str]) -> dict[str, str]:
    """What the read commands print for ``runs``, and every frame they use, as text."""
    out: dict[str, str] = {}
    store = open_store(db)
    try:
        for name in runs:
            run = store.get_run(name)
            assert run is not None
            out[f"list {name}"] = cli(
                "traces", "list", "--run", name, "--trace-db", str(db), "--json"
            ).stdout
            for e in store.episodes([run.id]):
                out[f"show {e.id}"] = cli(
                    "traces", "show", e.id, "--trace-db", str(db), "--json"
                ).stdout
                for s in store.steps(e.id):
                    for sha in s.observation.images:
                        out[f"image {sha}"] = hashlib.sha256(store.image(sha)).hexdigest()
    finally:
        store.close()
    return out


def test_rm_removes_one_run_and_leaves_the_others_exactly_as_they_were(
    tmp_path: Path, cli: CLI
) -> None:
    db = _three_runs(tmp_path, cli)
    others = _read_back(db, cli, ["b", "c"])
    before = _counts(db)
    proc = cli("traces", "rm", "a", "--trace-db", str(db), "--json")
    assert proc.returncode == 0, proc.stderr
    removed = json.loads(proc.stdout)
    assert (removed["run_name"], removed["runs"], removed["episodes"]) == ("a", 1, 2)
    after = _counts(db)
    assert after["run"] == 2 and after["episode"] == before["episode"] - 2
    assert removed["steps"] == before["step"] - after["step"] > 0
    assert removed["images"] == before["image"] - after["image"] > 0  # seed 0's own frames
    assert removed["bytes_freed"] > 0
    assert _read_back(db, cli, ["b", "c"]) == others  # byte for byte
    images, blobs = _referenced(db)
    # nothing is left that no step uses, and nothing a step uses is missing
    assert (after["image"], after["blob"]) == (len(images), len(blobs))
    listing = cli("traces", "list", "--trace-db", str(db))
    assert listing.returncode == 0 and " a " not in listing.stdout and "b" in listing.stdout
    gone = cli("traces", "rm", "a", "--trace-db", str(db))
    assert gone.returncode == 2 and "no run 'a'" in gone.stderr


def test_rm_refuses_a_run_a_live_process_plays_unless_forced(tmp_path: Path, cli: CLI) -> None:
    db = tmp_path / "live.db"
    store = open_store(db)
    store.create_run(make_run(name="busy"))
    assert store.claim_episode(Episode(id="e0", run_id="run1", seed=0))  # this process: alive
    store.close()
    refused = cli("traces", "rm", "busy", "--trace-db", str(db))
    assert refused.returncode == 1
    message = " ".join(refused.stderr.split())
    assert "run 'busy'" in message and "running" in message and "--force" in message
    assert "Traceback" not in refused.stderr
    assert _counts(db)["episode"] == 1 and _counts(db)["run"] == 1  # nothing removed
    forced = cli("traces", "rm", "busy", "--trace-db", str(db), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "removed run 'busy'" in forced.stdout and "1 episode" in forced.stdout
    assert _counts(db)["run"] == 0


@pytest.mark.parametrize("command", [("gc",), ("rm", "x")])
def test_cleanup_commands_never_create_a_database(tmp_path: Path, cli: CLI, command) -> None:
    db = tmp_path / "missing.db"
    proc = cli("traces", *command, "--trace-db", str(db))
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert not db.exists()


def test_rm_and_gc_while_an_eval_writes_keep_every_frame_it_uses(tmp_path: Path, cli: CLI) -> None:
    """Run ``b`` replays run ``a``'s seeds in another process (the random policy: the same
    frames, which ``b`` finds stored already). Removing ``a`` and collecting garbage over and
    over while ``b`` writes never takes a frame ``b``'s steps use."""
    import os
    import subprocess
    import sys

    db = tmp_path / "w.db"
    seeds = ("--seeds", "0-3", "--concurrency", "2", "--trace-db", str(db))
    first = cli("eval", "--env", "crafter", "--policy", "random", *seeds, "--run-name", "a",
                "--max-steps", "60")  # fmt: skip
    assert first.returncode == 0, first.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    writer = subprocess.Popen(
        [sys.executable, "-m", "vlmforge", "eval", "--env", "crafter", "--policy", "random",
         *seeds, "--run-name", "b", "--max-steps", "200"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    removed = cli("traces", "rm", "a", "--trace-db", str(db))
    assert removed.returncode == 0, removed.stderr
    rounds = 0
    while writer.poll() is None or rounds < 2:
        proc = cli("traces", "gc", "--trace-db", str(db))
        assert proc.returncode == 0, proc.stderr
        rounds += 1
    _, err = writer.communicate()
    assert writer.returncode == 0, err
    images, _ = _referenced(db)
    with sqlite3.connect(db) as con:
        stored = {r[0] for r in con.execute("SELECT sha256 FROM image")}
    assert images and images == stored  # every frame a step uses is there, and only those
    store = open_store(db)
    run = store.get_run("b")
    assert run is not None and sorted(e.seed for e in store.episodes([run.id])) == [0, 1, 2, 3]
    store.close()


def test_the_sqlite_store_implements_supports_cleanup() -> None:
    from vlmforge.components import SupportsCleanup
    from vlmforge.conformance import signature_problems
    from vlmforge_sqlite.store import SqliteStore

    assert signature_problems(SqliteStore, SupportsCleanup) == []


def test_an_eval_whose_run_is_removed_by_force_stops_with_a_clear_error(
    tmp_path: Path, cli: CLI
) -> None:
    import os
    import subprocess
    import sys
    import time

    db = tmp_path / "f.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    writer = subprocess.Popen(
        [sys.executable, "-m", "vlmforge", "eval", "--env", "crafter", "--policy", "random",
         "--seeds", "0-99", "--max-steps", "10000", "--trace-db", str(db), "--run-name", "long"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert writer.poll() is None, writer.communicate()
        try:
            with sqlite3.connect(db, timeout=5) as con:
                if con.execute("SELECT COUNT(*) FROM step").fetchone()[0] >= 10:
                    break
        except sqlite3.OperationalError:
            pass  # not created yet
        time.sleep(0.05)
    refused = cli("traces", "rm", "long", "--trace-db", str(db))
    assert refused.returncode == 1 and "--force" in refused.stderr
    forced = cli("traces", "rm", "long", "--trace-db", str(db), "--force")
    assert forced.returncode == 0, forced.stderr
    _, err = writer.communicate(timeout=60)
    assert writer.returncode == 1, err
    assert "Traceback" not in err
    assert "no longer in" in " ".join(err.split()) and "traces rm" in err
    assert _counts(db)["run"] == 0
