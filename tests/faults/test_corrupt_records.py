"""A corrupt step payload or a missing image is one clear error, or for filter a counted skip.

Issue 17, defect 4 (first bullet): one step payload overwritten with junk and one image row
deleted (with sqlite3, in a store `vlmforge eval` wrote) gave ``zlib.error`` / ``KeyError``
tracebacks in ``traces show``, ``traces frames`` and ``filter``. Each now stops with one line
naming the run, episode, seed and step (exit 1) and writes nothing; ``filter`` with
``on_corrupt = "skip"`` leaves the episode (or the row) out and counts it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import zlib
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.faults.test_foreign_store import RUN, Snapshot, assert_one_line_error, record_store
from vlmforge.wording import plural


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real store: three crafter episodes (seeds 0-2) of 6 steps, random policy."""
    return record_store(tmp_path_factory.mktemp("recorded"), "0-2")


@pytest.fixture
def db(recorded: Path, tmp_path: Path) -> Path:
    path = tmp_path / "traces.db"
    shutil.copy2(recorded, path)
    return path


def _episode(db: Path, seed: int) -> str:
    con = sqlite3.connect(db)
    (episode_id,) = con.execute("SELECT id FROM episode WHERE seed = ?", (seed,)).fetchone()
    con.close()
    return str(episode_id)


def corrupt_payload(db: Path, seed: int, step: int) -> str:
    """Overwrite one step's payload with junk; returns the episode id."""
    episode_id = _episode(db, seed)
    con = sqlite3.connect(db)
    con.execute(
        'UPDATE step SET payload = ? WHERE episode_id = ? AND "index" = ?',
        (b"\x00junk, not zlib\xff" * 4, episode_id, step),
    )
    con.commit()
    con.close()
    return episode_id


def delete_frame(db: Path, seed: int, step: int) -> tuple[str, str, int]:
    """Delete the image row of one step's frame; (episode id, sha256, first step showing it)."""
    episode_id = _episode(db, seed)
    con = sqlite3.connect(db)
    frames = {
        index: json.loads(zlib.decompress(payload))["observation"]["images"][-1]
        for index, payload in con.execute(
            'SELECT "index", payload FROM step WHERE episode_id = ?', (episode_id,)
        )
    }
    sha = frames[step]
    assert con.execute("DELETE FROM image WHERE sha256 = ?", (sha,)).rowcount == 1
    con.commit()
    con.close()
    return episode_id, sha, min(i for i, s in frames.items() if s == sha)


def assert_names(message: str, episode_id: str, seed: int, step: int) -> None:
    assert f"run {RUN}" in message, message
    assert f"episode {episode_id} (seed {seed})" in message, message
    assert f"step {step}" in message, message


# -- traces show ------------------------------------------------------------------------------
@pytest.mark.parametrize("as_json", [False, True])
def test_traces_show_names_the_corrupt_step(db: Path, as_json: bool) -> None:
    episode_id = corrupt_payload(db, seed=0, step=2)
    before = Snapshot(db)
    flags = ["--json"] if as_json else []
    result = run_cli("traces", "show", f"{RUN}:0", *flags, "--trace-db", str(db))

    message = assert_one_line_error(result, "traces.db", 1)
    assert_names(message, episode_id, 0, 2)
    assert "does not decode" in message and "zlib" in message
    assert 'on_corrupt = "skip"' in message  # what to do about it
    assert result.stdout == ""
    ok = run_cli("traces", "show", f"{RUN}:1", "--trace-db", str(db))  # the rest still reads
    assert ok.returncode == 0, ok.stderr
    before.assert_unchanged()


def test_traces_show_names_a_missing_prompt_message(db: Path) -> None:
    episode_id = _episode(db, 1)
    con = sqlite3.connect(db)
    payload = con.execute(
        'SELECT payload FROM step WHERE episode_id = ? AND "index" = 1', (episode_id,)
    ).fetchone()[0]
    refs = [m["$ref"] for m in json.loads(zlib.decompress(payload))["prompt"] if "$ref" in m]
    con.execute("DELETE FROM blob WHERE sha256 = ?", (refs[-1],))
    con.commit()
    con.close()

    result = run_cli("traces", "show", f"{RUN}:1", "--trace-db", str(db))
    message = assert_one_line_error(result, "traces.db", 1)
    assert f"episode {episode_id} (seed 1)" in message and "step " in message
    assert f"prompt message {refs[-1]} is missing" in message


# -- traces frames ----------------------------------------------------------------------------
def test_traces_frames_names_the_step_whose_frame_is_missing(db: Path, tmp_path: Path) -> None:
    episode_id, sha, step = delete_frame(db, seed=1, step=3)
    out = tmp_path / "frames"
    result = run_cli("traces", "frames", f"{RUN}:1", "--out", str(out), "--trace-db", str(db))

    message = assert_one_line_error(result, "traces.db", 1)
    assert_names(message, episode_id, 1, step)
    assert f"frame {sha} is missing" in message
    assert not out.exists()  # nothing half-written: no frames before the missing one either


def test_traces_frames_names_the_corrupt_step(db: Path, tmp_path: Path) -> None:
    episode_id = corrupt_payload(db, seed=2, step=4)
    out = tmp_path / "frames"
    result = run_cli("traces", "frames", f"{RUN}:2", "--out", str(out), "--trace-db", str(db))
    assert_names(assert_one_line_error(result, "traces.db", 1), episode_id, 2, 4)
    assert not out.exists()


# -- filter -----------------------------------------------------------------------------------
def _filter(db: Path, out: Path, tmp_path: Path, on_corrupt: str | None = None) -> object:
    args = ["filter", "--trace-db", str(db), "--output-dir", str(out), "--no-progress"]
    if on_corrupt is not None:
        config = tmp_path / "filter.toml"
        config.write_text(f'on_corrupt = "{on_corrupt}"\n[[filters]]\nname = "status"\n')
        args += ["--config", str(config)]
    return run_cli(*args)


@pytest.mark.parametrize("on_corrupt", [None, "stop"])
def test_filter_stops_at_a_corrupt_step_and_writes_nothing(
    db: Path, tmp_path: Path, on_corrupt: str | None
) -> None:
    episode_id = corrupt_payload(db, seed=1, step=0)
    before = Snapshot(db)
    out = tmp_path / "export"
    result = _filter(db, out, tmp_path, on_corrupt)

    message = assert_one_line_error(result, "traces.db", 1)
    assert_names(message, episode_id, 1, 0)
    assert 'on_corrupt = "skip"' in message
    assert not out.exists() or list(out.iterdir()) == []
    before.assert_unchanged()


def test_filter_stops_at_a_missing_image_and_writes_nothing(db: Path, tmp_path: Path) -> None:
    episode_id, sha, _ = delete_frame(db, seed=0, step=2)
    out = tmp_path / "export"
    result = _filter(db, out, tmp_path)

    message = assert_one_line_error(result, "traces.db", 1)
    assert f"run {RUN}, episode {episode_id} (seed 0), step" in message
    assert f"image {sha} is missing" in message and 'on_corrupt = "skip"' in message
    assert not out.exists() or list(out.iterdir()) == []


def test_filter_skips_and_counts_a_corrupt_episode(db: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    assert _filter(db, clean, tmp_path, "skip").returncode == 0
    clean_stats = json.loads((clean / "filter_stats.json").read_text())
    episode_id = corrupt_payload(db, seed=1, step=3)
    out = tmp_path / "export"

    result = _filter(db, out, tmp_path, "skip")

    assert result.returncode == 0, result.stderr
    stats = json.loads((out / "filter_stats.json").read_text())
    assert stats["corrupt"]["skipped_episodes"] == 1
    assert stats["corrupt"]["skipped_rows"] == 0
    assert episode_id in stats["corrupt"]["errors"][0]
    assert stats["kept"]["episodes"] == 2 == clean_stats["kept"]["episodes"] - 1
    assert stats["train"]["episodes"] + stats["val"]["episodes"] == 2
    table = " ".join(result.stdout.split())
    assert "corrupt (skipped)" in table and "1 episode, 0 rows" in table
    assert clean_stats["corrupt"] == {"skipped_episodes": 0, "skipped_rows": 0, "errors": []}


def test_filter_skips_and_counts_the_rows_of_a_missing_image(db: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    assert _filter(db, clean, tmp_path, "skip").returncode == 0
    clean_stats = json.loads((clean / "filter_stats.json").read_text())
    _, sha, _ = delete_frame(db, seed=2, step=1)
    out = tmp_path / "export"

    result = _filter(db, out, tmp_path, "skip")

    assert result.returncode == 0, result.stderr
    stats = json.loads((out / "filter_stats.json").read_text())
    skipped = stats["corrupt"]["skipped_rows"]
    assert skipped >= 1 and stats["corrupt"]["skipped_episodes"] == 0
    assert sha in stats["corrupt"]["errors"][0]
    written = stats["train"]["rows"] + stats["val"]["rows"]
    assert written == clean_stats["train"]["rows"] + clean_stats["val"]["rows"] - skipped
    exported = (out / "train.jsonl").read_text() + (out / "val.jsonl").read_text()
    assert len(exported.splitlines()) == written
    assert f"0 episodes, {plural(skipped, 'row')}" in " ".join(result.stdout.split())


def test_on_corrupt_is_checked(db: Path, tmp_path: Path) -> None:
    result = _filter(db, tmp_path / "export", tmp_path, "ignore")
    message = assert_one_line_error(result, "on_corrupt", 2)
    assert "filter.toml" in message
