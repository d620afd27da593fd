"""``vlmforge filter`` from the command line: config keys, overrides, errors, custom filters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.filter.run import read_jsonl
from vlmforge.config import load_toml, validate
from vlmforge.dataset.config import FilterConfig
from vlmforge.dataset.pipeline import build_exporter, build_filters
from vlmforge.plugins import get_registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli():
    """The CLI (in-process), with a console wide enough that messages are not wrapped."""
    from tests.conftest import run_cli

    def run(*args: str, env: dict[str, str] | None = None):
        return run_cli(*args, env={"COLUMNS": "1000", **(env or {})})

    return run


def _episodes(path: Path) -> set[str]:
    return {r["metadata"]["episode"] for r in read_jsonl(path)}


def test_every_config_key_from_a_file(crafted_db, tmp_path, cli):
    out = tmp_path / "out"
    cfg = tmp_path / "filter.toml"
    cfg.write_text(
        f"""
trace_dbs = ["{crafted_db}"]
output_dir = "{out}"
exporter = "openai-sft"
val_fraction = 0.25
seed = 4
stratify = true
shuffle = false
dedupe = false
overwrite = false
progress = false

[store]
name = "sqlite"
busy_timeout_s = 5.0

[[filters]]
name = "status"
keep = ["done", "failed"]

[[filters]]
name = "min-steps"
min_steps = 3

[rows]
mode = "step"
max_images = 10
max_sequence_length = 4000
chars_per_token = 3.5
image_tokens = 64
overflow = "split"
assistant = "verbatim"
include_tools = false
tool_results = true

[exporter_options]
detail = "high"
metadata = true
text_parts = false
"""
    )
    result = cli("filter", "--config", str(cfg), "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats == json.loads((out / "filter_stats.json").read_text())
    assert [f["name"] for f in stats["filters"]] == ["status", "min-steps"]
    assert stats["filters"][0]["episodes_dropped"] == 1  # interrupted
    assert stats["filters"][1]["episodes_dropped"] == 1  # short (2 steps)
    assert stats["dedupe"]["removed"] == 0
    assert stats["settings"]["seed"] == 4 and stats["settings"]["stratify"] is True
    assert "filtering episodes" not in result.stderr  # progress = false
    train, val = read_jsonl(out / "train.jsonl"), read_jsonl(out / "val.jsonl")
    assert stats["val"]["episodes"] == round(8 * 0.25)
    assert not {r["metadata"]["episode"] for r in train} & {r["metadata"]["episode"] for r in val}
    good = [r["metadata"]["step"] for r in train + val if r["metadata"]["episode"] == "good"]
    assert good == list(range(12))  # shuffle = false
    row = train[0]
    assert "tools" not in row
    assert all(
        p["image_url"]["detail"] == "high"
        for m in row["messages"]
        if isinstance(m["content"], list)
        for p in m["content"]
        if p["type"] == "image_url"
    )


def test_flags_override_the_file(crafted_db, random_db, tmp_path, cli):
    cfg = tmp_path / "f.toml"
    cfg.write_text(
        'trace_dbs = ["does-not-exist.db"]\nexporter = "trl"\nval_fraction = 0.5\n'
        '[[filters]]\nname = "min-steps"\nmin_steps = 10\n'
    )
    out = tmp_path / "out"
    result = cli(
        "filter", "--config", str(cfg), "--trace-db", str(crafted_db),
        "--trace-db", str(random_db), "--store", "sqlite", "--exporter", "llamafactory",
        "--output-dir", str(out), "--val-fraction", "0.2", "--seed", "9",
        "--filter", "status", "--filter", "min-steps", "--no-progress", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["sources"] == [str(crafted_db), str(random_db)]
    assert stats["exporter"] == "llamafactory" and (out / "dataset_info.json").is_file()
    assert [f["name"] for f in stats["filters"]] == ["status", "min-steps"]
    # min-steps keeps its settings from the file
    assert stats["settings"]["filters"][1] == {"name": "min-steps", "min_steps": 10}
    assert stats["settings"]["val_fraction"] == 0.2 and stats["settings"]["seed"] == 9
    kept = stats["train"]["episodes"] + stats["val"]["episodes"]
    assert stats["val"]["episodes"] == round(kept * 0.2)


def test_table_and_progress(crafted_db, tmp_path, cli):
    result = cli("filter", "--trace-db", str(crafted_db), "--output-dir", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    for stage in ("input", "filter status", "rows", "dedupe", "train", "validation"):
        assert stage in result.stdout
    assert "filtering episodes" in result.stderr and "writing rows" in result.stderr


def test_unknown_keys_name_file_line_and_key(crafted_db, tmp_path, cli):
    cases = {
        "seeed = 1\n": ("line 1", "unknown key 'seeed'", "seed"),
        '[rows]\nmode = "step"\nmax_image = 3\n': ("line 3", "rows.max_image", "max_images"),
        '[[filters]]\nname = "status"\n\n[[filters]]\nname = "min-steps"\nmin_step = 2\n': (
            "line 6",
            "filters.1.min_step",
            "min_steps",
        ),
        '[exporter_options]\ndetial = "low"\n': ("line 2", "exporter_options.detial", "detail"),
        '[rows]\nmode = "steps"\n': ("line 2", "rows.mode", "'step' or 'episode'"),
    }
    for body, expected in cases.items():
        cfg = tmp_path / "bad.toml"
        cfg.write_text(body)
        result = cli(
            "filter", "--config", str(cfg), "--trace-db", str(crafted_db),
            "--output-dir", str(tmp_path / "never"),
        )  # fmt: skip
        assert result.returncode == 2, (body, result.stderr)
        for piece in (str(cfg), *expected):
            assert piece in result.stderr, (body, result.stderr)
        assert not (tmp_path / "never" / "train.jsonl").exists()


def test_input_errors(crafted_db, tmp_path, cli):
    result = cli("filter", "--output-dir", str(tmp_path / "o"))
    assert result.returncode == 2 and "--trace-db" in result.stderr
    result = cli("filter", "--trace-db", str(tmp_path / "missing.db"))
    assert result.returncode == 2 and "missing.db' does not exist" in result.stderr
    result = cli("filter", "--trace-db", str(crafted_db), "--filter", "min-step")
    assert result.returncode == 2 and "Did you mean 'min-steps'" in result.stderr
    result = cli("filter", "--trace-db", str(crafted_db), "--exporter", "openai")
    assert result.returncode == 2 and "openai-sft" in result.stderr
    result = cli("filter", "--trace-db", str(crafted_db), "--val-fraction", "1.0")
    assert result.returncode == 2 and "val_fraction" in result.stderr
    cfg = tmp_path / "s.toml"
    cfg.write_text("[store]\nbusy_timeout_s = -1\n")
    result = cli("filter", "--config", str(cfg), "--trace-db", str(crafted_db))
    assert result.returncode == 2 and "line 2: store.busy_timeout_s" in result.stderr


def test_an_existing_export_is_never_clobbered(crafted_db, tmp_path, cli):
    out = tmp_path / "out"
    args = ["filter", "--trace-db", str(crafted_db), "--output-dir", str(out), "--no-progress"]
    assert cli(*args).returncode == 0
    before = (out / "train.jsonl").read_bytes()
    again = cli(*args, "--seed", "5")
    assert again.returncode == 2 and "--overwrite" in again.stderr
    assert (out / "train.jsonl").read_bytes() == before
    replaced = cli(*args, "--seed", "5", "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert (out / "train.jsonl").read_bytes() != before
    assert sorted(p.name for p in out.iterdir()) == [
        "filter_stats.json",
        "train.jsonl",
        "val.jsonl",
    ]


def test_plugins_dir_filters_from_the_cli(crafted_db, tmp_path, cli):
    # a plain function (tests/fixtures/plugins_dir) and a class with settings
    out = tmp_path / "fn"
    result = cli(
        "filter", "--trace-db", str(crafted_db), "--output-dir", str(out), "--val-fraction", "0",
        "--plugins-dir", str(FIXTURES / "plugins_dir"), "--filter", "inhouse-long-episodes",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _episodes(out / "train.jsonl") == {"good", "loop-actions", "loop-state"}

    cfg = tmp_path / "f.toml"
    cfg.write_text('[[filters]]\nname = "drop-action"\naction = "do"\nmin_left = 11\n')
    out = tmp_path / "cls"
    result = cli(
        "filter", "--config", str(cfg), "--trace-db", str(crafted_db), "--output-dir", str(out),
        "--val-fraction", "0", "--plugins-dir", str(FIXTURES / "filter_plugins_dir"), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(out / "train.jsonl")
    # only episodes with >= 11 steps left without "do": loop-actions (15 - 1); good has 10
    assert {r["metadata"]["episode"] for r in rows} == {"loop-actions"}
    assert len(rows) == 14
    assert all(
        '"do"' not in r["messages"][-1]["tool_calls"][0]["function"]["arguments"] for r in rows
    )
    cfg.write_text('[[filters]]\nname = "drop-action"\nmin_left = 0\n')
    result = cli(
        "filter", "--config", str(cfg), "--trace-db", str(crafted_db),
        "--output-dir", str(tmp_path / "x"), "--plugins-dir", str(FIXTURES / "filter_plugins_dir"),
    )  # fmt: skip
    assert result.returncode == 2
    assert f"{cfg}, line 3: filters.0.min_left" in result.stderr


@pytest.mark.slow
def test_third_party_filter_package_from_the_cli(crafted_db, tmp_path, cli_subprocess):
    target = tmp_path / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(FIXTURES / "vlmforge-example-filter")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr
    cfg = tmp_path / "f.toml"
    cfg.write_text('[[filters]]\nname = "example-min-reward"\nthreshold = 2.0\n')
    out = tmp_path / "out"
    result = cli_subprocess(  # a real process: the package is found on its PYTHONPATH
        "filter", "--config", str(cfg), "--trace-db", str(crafted_db), "--output-dir", str(out),
        "--val-fraction", "0", env={"PYTHONPATH": str(target)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _episodes(out / "train.jsonl") == {"good"}


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("filter_*.toml")), ids=str)
def test_example_configs_load(path):
    source = load_toml(path)
    cfg = validate(FilterConfig, source.data, str(path), toml=source)
    registry = get_registry()
    assert len(build_filters(cfg, registry, source)) == len(cfg.filters)
    build_exporter(cfg, registry, source)


def test_there_are_example_configs():
    assert len(list((ROOT / "configs").glob("filter_*.toml"))) >= 3
