"""Reading openai-sft / trl exports: images decoded, targets rendered as the template does,
bad rows reported with file:line or skipped and counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("trl")

from vlmforge.errors import VlmforgeError
from vlmforge.toolcalls import parse_tool_calls_from_text
from vlmforge_hf.sft.data import BadRowError, read_dataset


def test_reads_real_openai_sft_export(export_dir: Path, tiny_model: Path) -> None:
    from vlmforge_hf.processor import load_processor
    from vlmforge_hf.sft.trainer import to_rows

    path = export_dir / "openai-sft" / "train.jsonl"
    raw = [json.loads(line) for line in path.read_text().splitlines()]
    examples, stats = read_dataset(path)
    assert stats.rows == stats.examples == len(raw) > 5 and stats.skipped == 0
    assert len(stats.sha256) == 64
    ex = examples[0]
    assert ex.images and ex.images[0].size == (64, 64) and ex.images[0].mode == "RGB"
    assert ex.tools and ex.tools[0]["function"]["name"] in ("interact_many", "interact")
    rows = to_rows(load_processor(tiny_model), examples)
    for row, original in zip(rows, raw, strict=True):
        # the target is the Qwen tool-call text, which the hf policy's parser reads back exactly
        assert row["completion"].startswith("<tool_call>\n{")
        assert row["completion"].endswith("</tool_call><|im_end|>\n")
        parsed = parse_tool_calls_from_text(row["completion"])
        call = original["messages"][-1]["tool_calls"][0]["function"]
        assert [(c.function.name, json.loads(c.function.arguments)) for c in parsed] == [
            (call["name"], json.loads(call["arguments"]))
        ]
        assert row["prompt"].endswith("<|im_start|>assistant\n")
        assert "<tools>" in row["prompt"] and row["prompt"].count("<|image_pad|>") == 1


def test_reads_real_trl_export(export_dir: Path) -> None:
    examples, stats = read_dataset(export_dir / "trl" / "train.jsonl", fmt="trl")
    assert stats.examples > 5
    assert all(len(ex.images) == 1 and ex.images[0].size == (64, 64) for ex in examples)
    assert all(parse_tool_calls_from_text(ex.target["content"]) for ex in examples)


def _rows(export_dir: Path) -> list[str]:
    return (export_dir / "openai-sft" / "train.jsonl").read_text().splitlines()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: "{not json", "not valid JSON"),
        (lambda r: json.dumps(r | {"messages": r["messages"][:-1]}), "last message must be"),
        (lambda r: r_set_args(r, "{bad"), "arguments are not valid JSON"),
        (lambda r: r_set_image(r, "https://example.com/a.png"), "not a base64 data URL"),
        (lambda r: r_set_image(r, "data:image/png;base64,AAAA"), "do not decode"),
        (lambda r: json.dumps([1, 2]), "must be a JSON object"),
    ],
)
def test_bad_row_names_file_and_line(tmp_path: Path, export_dir: Path, mutate, message) -> None:
    lines = _rows(export_dir)[:4]
    lines[2] = mutate(json.loads(lines[2]))
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadRowError) as err:
        read_dataset(path)
    assert f"{path}:3:" in str(err.value) and message in str(err.value)
    _, stats = read_dataset(path, skip_bad_rows=True)
    assert (stats.rows, stats.examples, stats.skipped) == (4, 3, 1)
    assert message in stats.skipped_reasons[0]


def r_set_args(row: dict, args: str) -> str:
    row["messages"][-1]["tool_calls"][0]["function"]["arguments"] = args
    return json.dumps(row)


def r_set_image(row: dict, url: str) -> str:
    for part in row["messages"][-2]["content"]:
        if part["type"] == "image_url":
            part["image_url"]["url"] = url
    return json.dumps(row)


def test_trl_image_count_mismatch_and_missing_file(tmp_path: Path, export_dir: Path) -> None:
    lines = (export_dir / "trl" / "train.jsonl").read_text().splitlines()[:3]
    row = json.loads(lines[0])
    row["images"] = row["images"] * 2
    missing = json.loads(lines[1])
    missing["images"] = ["images/nope.png"]
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps(missing) + "\n" + lines[2] + "\n")
    (tmp_path / "images").symlink_to(export_dir / "trl" / "images")
    _, stats = read_dataset(path, skip_bad_rows=True)
    assert (stats.examples, stats.skipped) == (1, 2)
    assert "1 image placeholders but 2 images" in stats.skipped_reasons[0]
    assert f"{path}:2:" in stats.skipped_reasons[1] and "nope.png" in stats.skipped_reasons[1]


def test_missing_or_empty_dataset(tmp_path: Path) -> None:
    with pytest.raises(VlmforgeError, match="not found"):
        read_dataset(tmp_path / "nope.jsonl")
    (tmp_path / "bad.jsonl").write_text("{}\n")
    with pytest.raises(VlmforgeError, match="no usable rows"):
        read_dataset(tmp_path / "bad.jsonl", skip_bad_rows=True)
