"""A custom filter or exporter that raises is named, with its plugin and the episode or row it
failed on, in one error: exit 1, no traceback, nothing exported (issue 17, item 4).

The filter and exporter come from a real ``--plugins-dir`` plugin; the traces from a real eval
(Crafter + the random policy + SQLite).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.eval.helpers import open_store
from tests.filter.builders import record_random_eval

PLUGIN = '''"""Components that fail on purpose (a plugins-dir plugin)."""

from vlmforge.hookspecs import hookimpl


class Explodes:
    def apply(self, item):
        if item.episode.seed == 1:
            raise ValueError(f"cannot judge {len(item.steps)} steps")
        return item


class Fragile:
    def __init__(self):
        raise OSError("model file for the judge is missing")


class BrokenExporter:
    def __init__(self):
        self.rows = 0

    def open(self, output_dir, split):
        self.path = output_dir / f"{split}.jsonl"
        self.file = self.path.open("w")

    def write(self, example):
        self.rows += 1
        if self.rows == 3:
            raise RuntimeError("disk quota of the exporter")
        self.file.write("{}\\n")

    def close(self):
        self.file.close()
        return {"rows": self.rows}


@hookimpl
def register_filters(register):
    register("explodes", Explodes, description="raises on seed 1")
    register("fragile", Fragile, description="raises when built")


@hookimpl
def register_exporters(register):
    register("broken-sft", BrokenExporter, description="raises on its third row")
'''


def _line_of(text: str) -> int:
    return next(i for i, line in enumerate(PLUGIN.splitlines(), 1) if text in line)


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("traces") / "t.db"
    record_random_eval(db, "0-2", 4)
    return db


def _plugins(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "exploding.py").write_text(PLUGIN)
    return folder


def _filter(tmp_path: Path, db: Path, *args: str):
    out = tmp_path / "out"
    return out, run_cli(
        "filter", "--trace-db", str(db), "--output-dir", str(out), "--val-fraction", "0",
        "--no-progress", "--plugins-dir", str(_plugins(tmp_path)), *args,
    )  # fmt: skip


def _seed_one(db: Path) -> str:
    store = open_store(db)
    try:
        return next(e.id for e in store.episodes() if e.seed == 1)
    finally:
        store.close()


def test_a_filter_that_raises_is_named_with_its_plugin_and_episode(
    tmp_path: Path, traces: Path
) -> None:
    out, result = _filter(tmp_path, traces, "--filter", "explodes")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    err = " ".join(result.stderr.split())
    assert (
        f"filter 'explodes' (plugin 'exploding') failed on episode {_seed_one(traces)} "
        "(run 'random', seed 1): ValueError: cannot judge 4 steps "
        f"(raised at exploding.py:{_line_of('raise ValueError')})"
    ) in err
    assert "leave it out" in err and "Nothing was exported" in err
    assert len(result.stderr.strip().splitlines()) <= 6  # one screen
    assert not (out / "train.jsonl").exists() and not list(out.glob(".vlmforge-filter-*"))


def test_an_exporter_that_raises_is_named_with_its_plugin_and_row(
    tmp_path: Path, traces: Path
) -> None:
    out, result = _filter(tmp_path, traces, "--exporter", "broken-sft", "--seed", "0")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    err = " ".join(result.stderr.split())
    assert "exporter 'broken-sft' (plugin 'exploding') failed on a train row of episode " in err
    assert "(run 'random', seed " in err and ", step " in err
    line = _line_of("raise RuntimeError")
    assert f"RuntimeError: disk quota of the exporter (raised at exploding.py:{line})" in err
    assert "choose another one (--exporter / exporter)" in err
    assert not (out / "train.jsonl").exists() and not list(out.glob(".vlmforge-filter-*"))


def test_an_earlier_export_is_untouched_when_the_exporter_fails(
    tmp_path: Path, traces: Path
) -> None:
    out = tmp_path / "out"
    first = run_cli(
        "filter", "--trace-db", str(traces), "--output-dir", str(out), "--no-progress",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    _, result = _filter(tmp_path, traces, "--exporter", "broken-sft", "--overwrite")
    assert result.returncode == 1 and "exporter 'broken-sft'" in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_filter_whose_constructor_raises_is_named(tmp_path: Path, traces: Path) -> None:
    out, result = _filter(tmp_path, traces, "--filter", "status", "--filter", "fragile")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    err = " ".join(result.stderr.split())
    assert (
        "filter 'fragile' (plugin 'exploding') failed while being built: OSError: model file "
        f"for the judge is missing (raised at exploding.py:{_line_of('raise OSError')})"
    ) in err
    assert not out.exists()
