"""Benchmark (c): database bytes per LLM call and per env step against the frames' PNG bytes.

Runs ``vlmforge eval`` with the openai policy against the loopback server (no latency; replies
carry a sentence of text and one tool call, history of the last 3 calls on, 64 px frames), then
compares the SQLite file (after a WAL checkpoint) with what it must hold at least:

- frames: the PNG bytes of the frame of every step (what a naive store would write per step);
- text: the observation text and the reply text (content + tool-call arguments) of every step.

Target: DB bytes within 1.5x of (frames + text). The reference pipeline stored 36.9 KB per LLM
call for 64 px frames. Run: ``.venv/bin/python benchmarks/eval_db_size.py``.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import add_smoke_flag, report
from eval_openai import HERE, run_eval

REFERENCE_BYTES_PER_CALL = 36.9 * 1024


def measure(db: Path) -> dict:
    sys.path.insert(0, str(HERE.parent / "plugins"))
    from vlmforge_sqlite.store import SqliteStore, SqliteStoreConfig

    store = SqliteStore(SqliteStoreConfig(path=str(db)))
    calls = env_steps = frame_bytes = text_bytes = 0
    sizes: dict[str, int] = {}
    for episode in store.episodes():
        env_steps += episode.env_steps
        for step in store.steps(episode.id):
            calls += step.lm_call is not None
            for sha in step.observation.images[-1:]:
                size = sizes.get(sha)
                if size is None:
                    size = sizes[sha] = len(store.image(sha))
                frame_bytes += size
            text = (step.observation.text or "") + (step.reply.text() if step.reply else "")
            text += "".join(c.function.arguments for c in step.tool_calls)
            text_bytes += len(text.encode("utf-8"))
    store.close()  # checkpoints the WAL into the file
    with sqlite3.connect(db) as con:
        tables = dict(con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
    db_bytes = db.stat().st_size
    return {
        "llm_calls": calls,
        "env_steps": env_steps,
        "db_bytes": db_bytes,
        "frame_png_bytes": frame_bytes,
        "distinct_frame_png_bytes": sum(sizes.values()),
        "text_bytes": text_bytes,
        "db_bytes_per_llm_call": db_bytes / calls,
        "db_bytes_per_env_step": db_bytes / env_steps,
        "frame_png_bytes_per_step": frame_bytes / calls,
        "ratio_db_to_frames_plus_text": db_bytes / (frame_bytes + text_bytes),
        "reference_bytes_per_llm_call": REFERENCE_BYTES_PER_CALL,
        "bytes_by_table": tables,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--max-steps", type=int, default=150)
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        args.episodes, args.max_steps = 1, 5
    server = subprocess.Popen(
        [sys.executable, str(HERE / "_loopback_server.py"), "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    base_url = server.stdout.readline().strip()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_eval(
                base_url,
                Path(tmp),
                "size",
                episodes=args.episodes,
                concurrency=8,
                max_steps=args.max_steps,
            )
            result = measure(Path(tmp) / "size.db")
    finally:
        server.stdin.close()
        server.wait(10)
    result["target_ratio"] = 1.5
    report(
        "eval_db_size",
        result,
        [
            ("LLM calls / env steps", f"{result['llm_calls']} / {result['env_steps']}"),
            ("DB bytes per LLM call", f"{result['db_bytes_per_llm_call']:.0f}"),
            ("DB bytes per env step", f"{result['db_bytes_per_env_step']:.0f}"),
            ("frame PNG bytes per step", f"{result['frame_png_bytes_per_step']:.0f}"),
            ("text bytes per step", f"{result['text_bytes'] / result['llm_calls']:.0f}"),
            (
                "DB / (frames + text) (target <= 1.5)",
                f"{result['ratio_db_to_frames_plus_text']:.2f}",
            ),
            ("reference pipeline bytes per LLM call", f"{REFERENCE_BYTES_PER_CALL:.0f}"),
        ],
    )


if __name__ == "__main__":
    main()
