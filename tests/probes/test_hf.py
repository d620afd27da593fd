"""The local ``hf`` policy answers probes with enum-constrained decisions, recorded in the store;
the probe-oracle's run exports as perception-QA rows whose target is the exact answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.probes.conftest import open_store
from vlmforge_crafter.probes.catalog import ALL_ANSWERS

pytest.importorskip("trl")  # the [train] extra

pytestmark = [pytest.mark.train, pytest.mark.slow]
Cli = Callable[..., CompletedProcess[str]]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vlmforge_hf.tiny import build_tiny

    out = tmp_path_factory.mktemp("probe-tiny") / "qwen2-vl"
    build_tiny("qwen2-vl", out)
    return out


def test_hf_probe_run_is_recorded_with_valid_answers(
    cli: Cli, source_db: Path, tiny: Path, tmp_path: Path
) -> None:
    # score ranks the enum's answers by likelihood: valid by construction (as "constrained" is;
    # left out here for time, it runs the same enum through a grammar)
    decoding = "score"
    out, summary = tmp_path / "hf.db", tmp_path / "hf.json"
    config = tmp_path / "probe.toml"
    config.write_text(
        f'run_name = "hf"\nconcurrency = 4\n[probes]\nframes = 2\ntypes = ["daylight", "food"]\n'
        f'[policy]\nname = "hf"\nmodel = "{tiny}"\ndecoding = "{decoding}"\ntemperature = 0.0\n'
        'max_new_tokens = 48\nhistory = "none"\n'
    )
    result = cli("probe", "--config", str(config), "--trace-db", str(source_db),
                 "--out-db", str(out), "--json-summary", str(summary))  # fmt: skip
    assert result.returncode == 0, result.stderr
    (report,) = json.loads(summary.read_text())["reports"]
    assert report["policy"] == "hf" and report["overall"]["n"] == 4
    assert report["overall"]["invalid"] == 0  # valid by construction
    store = open_store(out)
    try:
        steps = [s for t in store.traces() for s in t.steps]
        assert len(steps) == 4
        for step in steps:
            assert step.lm_call is not None and step.lm_call.model == str(tiny)
            (call,) = step.tool_calls
            assert json.loads(call.function.arguments)["answer"] in ALL_ANSWERS
            assert step.info["given"] in ALL_ANSWERS
            assert step.reward == float(step.info["given"] == step.info["answer"])
    finally:
        store.close()


def test_oracle_run_exports_perception_rows(cli: Cli, source_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "oracle.db"
    result = cli("probe", "--trace-db", str(source_db), "--policy", "probe-oracle", "--frames",
                 "3", "--types", "cow_count,daylight", "--out-db", str(db))  # fmt: skip
    assert result.returncode == 0, result.stderr
    export = tmp_path / "export"
    result = cli("filter", "--trace-db", str(db), "--exporter", "trl", "--output-dir",
                 str(export), "--val-fraction", "0", "--no-progress")  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (export / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    store = open_store(db)
    try:
        answers = {
            s.observation.ground_truth["probe"]["question"]: set() for t in store.traces()
            for s in t.steps
        }  # fmt: skip
        for t in store.traces():
            for s in t.steps:
                answers[s.observation.ground_truth["probe"]["question"]].add(s.info["answer"])
    finally:
        store.close()
    for row in rows:
        question = row["prompt"][-1]["content"][0]["text"]
        target = row["completion"][0]["content"][0]["text"]
        assert len(row["images"]) == 1
        given = json.loads(target.split("<tool_call>")[1].split("</tool_call>")[0])
        assert given["arguments"]["answer"] in answers[question]
