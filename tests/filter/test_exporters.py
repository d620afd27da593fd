"""Exported files: OpenAI format rules, datasets.load_dataset, TRL and LLaMA-Factory layouts."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from tests.filter.openai_format import validate_example, validate_file
from tests.filter.run import export, read_jsonl

datasets = pytest.importorskip("datasets")


def test_openai_sft_rows_pass_the_format_rules(random_db, crafted_db, tmp_path):
    stats = export([random_db, crafted_db], tmp_path / "out", filters=[{"name": "status"}])
    assert stats.train_rows >= 10
    assert validate_file(tmp_path / "out/train.jsonl") == []
    for row in read_jsonl(tmp_path / "out/val.jsonl"):
        assert validate_example(row) == []
    ds = datasets.load_dataset(
        "json",
        data_files={
            "train": str(tmp_path / "out/train.jsonl"),
            "val": str(tmp_path / "out/val.jsonl"),
        },
    )
    assert ds["train"].num_rows == stats.train_rows and ds["val"].num_rows == stats.val_rows
    assert set(ds["train"].column_names) == {"messages", "tools", "metadata"}


def test_the_validator_rejects_what_openai_rejects():
    ok = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    }
    assert validate_example(ok) == []
    bad_args = json.loads(json.dumps(ok))
    bad_args["messages"][1]["tool_calls"][0]["function"]["arguments"] = {}
    assert "arguments must be a JSON string" in " ".join(validate_example(bad_args))
    img_in_assistant = json.loads(json.dumps(ok))
    img_in_assistant["messages"][1]["content"] = [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    ]
    assert validate_example(img_in_assistant)
    eleven = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}] * 11,
            },
            {"role": "assistant", "content": "a"},
        ]
    }
    assert "at most 10" in " ".join(validate_example(eleven))
    ends_with_user = {"messages": [{"role": "user", "content": "x"}]}
    assert validate_example(ends_with_user)
    bad_png = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}}
                ],
            },
            {"role": "assistant", "content": "a"},
        ]
    }
    assert "does not decode" in " ".join(validate_example(bad_png))


def test_openai_sft_options(crafted_db, tmp_path):
    export(
        [crafted_db],
        tmp_path / "out",
        val_fraction=0.0,
        exporter_options={"detail": "low", "metadata": False, "text_parts": True},
    )
    rows = read_jsonl(tmp_path / "out/train.jsonl")
    for row in rows:
        assert "metadata" not in row
        assert validate_example(row) == []
        for m in row["messages"]:
            assert m["content"] is None or isinstance(m["content"], list)
            for p in m["content"] or []:
                if p["type"] == "image_url":
                    assert p["image_url"]["detail"] == "low"


def test_trl_export_loads_for_sft(random_db, crafted_db, tmp_path):
    stats = export([random_db, crafted_db], tmp_path / "out", exporter="trl", val_fraction=0.25)
    out = tmp_path / "out"
    ds = datasets.load_dataset(
        "json", data_files={"train": str(out / "train.jsonl"), "val": str(out / "val.jsonl")}
    )
    assert ds["train"].num_rows == stats.train_rows and ds["val"].num_rows == stats.val_rows
    assert {"prompt", "completion", "images", "metadata"} <= set(ds["train"].column_names)
    for row in ds["train"]:
        placeholders = sum(1 for m in row["prompt"] for p in m["content"] if p["type"] == "image")
        assert placeholders == len(row["images"])
        for rel in row["images"]:
            data = (out / rel).read_bytes()
            assert rel == f"images/{hashlib.sha256(data).hexdigest()}.png"
        (completion,) = row["completion"]
        assert completion["role"] == "assistant"
        text = completion["content"][0]["text"]
        assert text.startswith("<tool_call>") or "<tool_call>" in text
        json.loads(row["metadata"])
    # images cast to PIL through datasets' Image feature, as a trainer does
    cast = ds["train"].map(lambda r: {"images": [str(out / p) for p in r["images"]]})
    cast = cast.cast_column("images", datasets.Sequence(datasets.Image()))
    with_images = [r for r in cast if r["images"]]
    assert with_images and with_images[0]["images"][0].size[0] > 0


def test_trl_options_and_episode_rows(crafted_db, tmp_path):
    export(
        [crafted_db],
        tmp_path / "out",
        exporter="trl",
        val_fraction=0.0,
        filters=[{"name": "select", "seeds": [1]}],
        rows={"mode": "episode", "max_images": 6},
        exporter_options={
            "tool_call_format": "json",
            "image_dir": "frames",
            "absolute_paths": True,
        },
    )
    rows = read_jsonl(tmp_path / "out/train.jsonl")
    assert len(rows) == 2
    for row in rows:
        assert set(row) == {"messages", "images", "metadata"}
        assert all(p.startswith(str(tmp_path)) and "/frames/" in p for p in row["images"])
        assert all(Path(p).is_file() and ".vlmforge-filter-" not in p for p in row["images"])
        asst = [m for m in row["messages"] if m["role"] == "assistant"]
        assert json.loads(asst[0]["content"][0]["text"])[0]["name"] == "interact_many"
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "out/train.jsonl"), split="train")
    assert ds.num_rows == 2


def test_llamafactory_export(crafted_db, tmp_path):
    stats = export(
        [crafted_db],
        tmp_path / "out",
        exporter="llamafactory",
        val_fraction=0.2,
        exporter_options={"dataset_prefix": "crafter", "metadata": True},
    )
    out = tmp_path / "out"
    info = json.loads((out / "dataset_info.json").read_text())
    assert set(info) == {"crafter_train", "crafter_val"}
    assert info["crafter_train"]["formatting"] == "sharegpt"
    assert info["crafter_train"]["file_name"] == "train.jsonl"
    rows = read_jsonl(out / "train.jsonl")
    assert len(rows) == stats.train_rows
    for row in rows:
        tokens = sum(t["value"].count("<image>") for t in row["conversations"])
        assert tokens == len(row["images"])
        for p in row["images"]:
            assert (out / p).is_file()
        froms = [t["from"] for t in row["conversations"]]
        assert froms[0] == "human" and froms[-1] in ("function_call", "gpt")
        assert all(f in ("human",) for f in froms[0::2])
        assert row["system"] == "You play Crafter. Call interact_many."
        assert json.loads(row["tools"])[0]["name"] == "interact_many"
        assert "metadata" in row
    calls = [
        json.loads(t["value"])
        for r in rows
        for t in r["conversations"]
        if t["from"] == "function_call"
    ]
    assert calls and all(
        c["name"] == "interact_many" and "actions" in c["arguments"] for c in calls
    )
    ds = datasets.load_dataset("json", data_files=str(out / "train.jsonl"), split="train")
    assert ds.num_rows == stats.train_rows


def test_png_bytes_round_trip(crafted_db, tmp_path):
    export([crafted_db], tmp_path / "out", val_fraction=0.0, exporter="llamafactory")
    names = {p.name for p in (tmp_path / "out/images").iterdir()}
    rows = read_jsonl(tmp_path / "out/train.jsonl")
    assert names == {p.split("/")[-1] for r in rows for p in r["images"]}
    export([crafted_db], tmp_path / "o2", val_fraction=0.0)
    urls = [
        p["image_url"]["url"]
        for r in read_jsonl(tmp_path / "o2/train.jsonl")
        for m in r["messages"]
        if isinstance(m["content"], list)
        for p in m["content"]
        if p["type"] == "image_url"
    ]
    shas = {hashlib.sha256(base64.b64decode(u.split(",", 1)[1])).hexdigest() + ".png" for u in urls}
    assert shas == names


def test_openai_sft_warns_about_too_few_examples(crafted_db, tmp_path, cli):
    out = tmp_path / "out"
    cfg = tmp_path / "f.toml"
    cfg.write_text('[[filters]]\nname = "select"\nseeds = [8]\n')
    result = cli(
        "filter", "--config", str(cfg), "--trace-db", str(crafted_db), "--output-dir", str(out),
        "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    stats = json.loads((out / "filter_stats.json").read_text())
    assert stats["train"]["rows"] < 10
    (warning,) = stats["exports"]["train"]["warnings"]
    assert "at least 10" in warning
    assert "warning (train)" in result.stdout
