"""``vlmforge view`` on the command line: usage and config errors (exit 2, one clear line),
and ``--export``: one self-contained HTML file that names no URL to fetch."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

Cli = Callable[..., CompletedProcess[str]]
EXPORT = ["--export", "r.html", "llm"]


def test_export_is_one_self_contained_file(report: Path, store: object) -> None:
    html = report.read_text(encoding="utf-8")
    # nothing to fetch: no external script, stylesheet, image or link
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(?!data:)', html)
    assert "/static/" not in html.split("<script>", 1)[0]
    assert re.findall(r"https?://[^\s\"'<>]+", html) == ["http://www.w3.org/2000/svg"]
    steps = [s for e in store.episodes() for s in store.steps(e.id)]  # type: ignore[attr-defined]
    frames = {s.observation.images[-1] for s in steps}
    for sha in frames:
        assert f'"{sha}":"iVBOR' in html  # every frame embedded as base64 PNG
    assert html.count("</script>") == 2  # the data block and the script, nothing escaped out


def test_export_replaces_an_earlier_report_only_when_complete(
    cli: Cli, view_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.html"
    out.write_text("earlier")
    result = cli("view", "--trace-db", str(view_db), "--export", str(out), "nope")
    assert result.returncode == 2 and "no run 'nope'" in result.stderr
    assert out.read_text() == "earlier" and list(tmp_path.iterdir()) == [out]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["llm"], "RUN arguments (llm) are for --export"),
        (["--export", "r.html"], "--export needs the runs"),
        # with --export a command that wrongly started would finish rather than serve
        (["--trace-db", "missing.db", *EXPORT], "trace database 'missing.db' does not exist"),
        (["--filter-config", "nope.toml", *EXPORT], "--filter-config nope.toml: no such file"),
        (["--train-dir", ".", *EXPORT], "neither loss_curve.json (SFT) nor reward_curve.json"),
        (["--store", "nope", *EXPORT], "unknown store 'nope' (--store). Known store names"),
    ],
)
def test_usage_errors_exit_2_with_the_fix(
    cli: Cli, view_db: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    db = [] if "--trace-db" in args else ["--trace-db", str(view_db)]
    result = cli("view", *db, *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_bad_filter_config_names_file_line_and_key(
    cli: Cli, view_db: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "f.toml"
    bad.write_text('[[filters]]\nname = "status"\nno_such_key = 1\n')
    result = cli("view", "--trace-db", str(view_db), "--filter-config", str(bad), *EXPORT)
    assert result.returncode == 2, result.stderr
    assert str(bad) in result.stderr and "no_such_key" in result.stderr
    assert "line 3" in result.stderr


def test_a_taken_port_is_a_clear_error(cli_subprocess: Cli, view_db: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = cli_subprocess("view", "--trace-db", str(view_db), "--port", str(port), timeout=60)
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_no_secret_reaches_the_report(report: Path) -> None:
    # the llm run was recorded with this key in VLMFORGE_TEST_OPENAI_KEY (tests/filter/builders)
    assert "sk-test-secret-42" not in report.read_text(encoding="utf-8")


def test_a_file_that_is_not_a_store_is_refused_unchanged(cli: Cli, tmp_path: Path) -> None:
    import hashlib
    import sqlite3

    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    con.execute("INSERT INTO notes (body) VALUES ('keep me')")
    con.commit()
    con.close()
    before = hashlib.sha256(other.read_bytes()).hexdigest(), other.stat().st_mtime_ns
    result = cli("view", "--trace-db", str(other), *EXPORT, cwd=tmp_path)
    assert result.returncode != 0 and str(other) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert (hashlib.sha256(other.read_bytes()).hexdigest(), other.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_prices_give_the_steps_their_cost(cli: Cli, view_db: Path, tmp_path: Path) -> None:
    """--prices: the llm run's model gets a price, and each step's cost is its tokens at it."""
    import json

    prices = tmp_path / "prices.toml"
    prices.write_text('[models."test-model"]\ninput_per_mtok = 2.0\noutput_per_mtok = 8.0\n')
    out = tmp_path / "r.html"
    result = cli("view", "--trace-db", str(view_db), "--prices", str(prices), "--export",
                 str(out), "llm")  # fmt: skip
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    blob = page.split('<script id="vlmforge-data" type="application/json">', 1)[1]
    data = json.loads(blob.split("</script>", 1)[0])  # script text is not HTML-decoded
    steps = list(data["step"].values())
    assert steps
    for step in steps:
        usage = step["lm_call"]["usage"] if step["lm_call"] else None
        if usage is None or usage["prompt_tokens"] is None:
            assert step["cost_usd"] is None
            continue
        expected = (usage["prompt_tokens"] * 2.0 + usage["completion_tokens"] * 8.0) / 1e6
        assert step["cost_usd"] == pytest.approx(expected)
    assert data["runs"]["runs"][0]["summary"]["cost_usd"] > 0


def test_a_corrupt_step_stops_the_export_naming_it(cli: Cli, view_db: Path, tmp_path: Path) -> None:
    import shutil
    import sqlite3

    db = tmp_path / "t.db"
    shutil.copy2(view_db, db)
    con = sqlite3.connect(db)
    (episode_id,) = con.execute(
        "SELECT e.id FROM episode e JOIN run r ON e.run_id = r.id "
        "WHERE r.name = 'llm' AND e.seed = 0"
    ).fetchone()
    con.execute(
        'UPDATE step SET payload = ? WHERE episode_id = ? AND "index" = 4', (b"junk", episode_id)
    )
    con.commit()
    con.close()
    out = tmp_path / "r.html"
    result = cli("view", "--trace-db", str(db), "--export", str(out), "llm")
    assert result.returncode == 1, result.stderr
    assert f"episode {episode_id}" in result.stderr and "step 4" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()
