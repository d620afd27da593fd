"""Shared fixtures for the train tests: a real export and a tiny model, built once per session.

The export is REAL: Crafter episodes played by the random policy through `vlmforge eval` into a
SQLite store, then exported by the ``openai-sft`` and ``trl`` exporters through `vlmforge filter`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("trl")  # the [train] extra

from tests.conftest import run_cli
from tests.filter.builders import record_random_eval


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``openai-sft/{train,val}.jsonl`` and ``trl/{train,val}.jsonl`` from real Crafter traces."""
    root = tmp_path_factory.mktemp("export")
    db = root / "traces.db"
    record_random_eval(db, seeds="0-2", max_steps=24)
    for exporter in ("openai-sft", "trl"):
        result = run_cli(
            "filter",
            "--trace-db",
            str(db),
            "--exporter",
            exporter,
            "--output-dir",
            str(root / exporter),
            "--val-fraction",
            "0.34",
            "--no-progress",
        )
        assert result.returncode == 0, result.stderr
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, export_dir: Path) -> Path:
    """A tiny qwen2-vl whose tokenizer also learned the export's text (short sequences)."""
    from vlmforge_hf.tiny import build_tiny

    out = tmp_path_factory.mktemp("tiny") / "qwen2-vl"
    build_tiny("qwen2-vl", out, corpus=[export_dir / "openai-sft" / "train.jsonl"])
    return out
