"""``vlmforge train`` conventions: --no-progress, report_to (tensorboard when installed, a clear
error when not), a missing dataset is a config error (exit 2)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytest.importorskip("trl")


def _args(tiny_model: Path, export_dir: Path, out: Path) -> list[str]:
    return [
        "train", "--trainer", "lora-sft", "--model", str(tiny_model),
        "--dataset", str(export_dir / "openai-sft" / "train.jsonl"), "--output-dir", str(out),
        "--max-steps", "2", "-o", "batch_size=2", "-o", "max_pixels=12544", "-o", "lora.r=4",
    ]  # fmt: skip


def test_no_progress_and_tensorboard_events(tiny_model, export_dir, tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "out"
    proc = run_cli(
        *_args(tiny_model, export_dir, out), "--no-progress", "-o", 'report_to=["tensorboard"]'
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "steps/s" not in proc.stderr  # no progress bar
    assert json.loads((out / "train_config.json").read_text())["progress"] is False
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    logged = [(e.step, e.value) for e in events.Scalars("train/loss")]
    curve = json.loads((out / "loss_curve.json").read_text())["train"]
    assert [s for s, _ in logged] == [p["step"] for p in curve] == [1, 2]
    assert [v for _, v in logged] == pytest.approx([p["loss"] for p in curve], rel=1e-5)


def test_report_to_without_the_package_is_a_config_error(
    tiny_model, export_dir, tmp_path, monkeypatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if it were not installed
    out = tmp_path / "out"
    proc = run_cli(*_args(tiny_model, export_dir, out), "-o", 'report_to=["tensorboard"]')
    assert proc.returncode == 2, proc.stderr
    assert "report_to 'tensorboard' needs the tensorboard package" in proc.stderr
    assert "pip install tensorboard" in proc.stderr and not out.exists()
    unknown = run_cli(*_args(tiny_model, export_dir, out), "-o", 'report_to=["wandb"]')
    assert unknown.returncode == 2 and "report_to.0" in unknown.stderr


def test_a_missing_dataset_exits_2(tiny_model, tmp_path) -> None:
    proc = run_cli(
        "train", "--trainer", "lora-sft", "--model", str(tiny_model),
        "--dataset", str(tmp_path / "nope.jsonl"), "--output-dir", str(tmp_path / "o"),
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "nope.jsonl' not found" in proc.stderr
