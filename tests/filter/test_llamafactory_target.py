"""The llamafactory export keeps what the assistant said before its tool calls, and loads with
LLaMA-Factory's own data loader.

LLaMA-Factory cannot share a venv with ``vlmforge[train]`` (it pins trl <= 0.24, transformers
<= 5.6, datasets <= 4.0 and needs torchvision and torchaudio), so its loader runs in a separate
venv (``benchmarks/llamafactory_check.sh`` builds one): the last test runs only where
``VLMFORGE_LLAMAFACTORY_PYTHON`` names that venv's python.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.filter.builders import CraftedTraces
from tests.filter.run import export, read_jsonl

ROOT = Path(__file__).resolve().parents[2]
LF_PYTHON = os.environ.get("VLMFORGE_LLAMAFACTORY_PYTHON")
# LLaMA-Factory 0.9.5's FunctionFormatter: the first <tool_call>...</tool_call> holds the JSON,
# the text around it is kept as the assistant's words
TOOL_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)


@pytest.fixture(scope="module")
def said_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Episodes whose every reply says something, then calls the tool."""
    path = tmp_path_factory.mktemp("said") / "said.db"
    traces = CraftedTraces(path)
    actions = ["move_left", "do", "noop", "move_up"]
    for e in range(3):
        steps = [{"reply": "said", "action": actions[(i + e) % 4], "frame": 700 + 10 * e + i}
                 for i in range(4)]  # fmt: skip
        traces.episode(f"said-{e}", steps, seed=20 + e)
    traces.close()
    return path


def test_llamafactory_keeps_the_text_before_tool_calls(said_db, tmp_path):
    out = tmp_path / "lf"
    export([said_db], out, exporter="llamafactory", val_fraction=0.0, rows={"mode": "episode"})
    rows = read_jsonl(out / "train.jsonl")
    turns = [t for r in rows for t in r["conversations"] if t["from"] == "function_call"]
    assert len(turns) == 12  # every reply of the 3 episodes
    for turn in turns:
        match = TOOL_CALL.search(turn["value"])
        assert match, turn
        said = turn["value"].replace(match.group(0), "").strip()
        assert said.startswith("I see said-") and said.endswith(".")
        call = json.loads(match.group(1))
        assert call["name"] == "interact_many" and said.endswith(
            f"{call['arguments']['actions'][0]}."
        )
    export([said_db], tmp_path / "trl", exporter="trl", val_fraction=0.0)
    texts = [
        r["completion"][0]["content"][0]["text"] for r in read_jsonl(tmp_path / "trl/train.jsonl")
    ]
    assert all(t.startswith("I see said-") for t in texts)  # trl keeps it too


@pytest.mark.skipif(
    not LF_PYTHON, reason="set VLMFORGE_LLAMAFACTORY_PYTHON to a LLaMA-Factory venv"
)
def test_llamafactory_own_loader_reads_the_export(said_db, tmp_path):
    from vlmforge_hf.tiny import build_tiny

    tiny = tmp_path / "tiny"
    build_tiny("qwen2-vl", tiny, vocab_size=512)
    out = tmp_path / "lf"
    export([said_db], out, exporter="llamafactory", val_fraction=0.0, rows={"mode": "episode"})
    result = subprocess.run(
        [str(LF_PYTHON), str(ROOT / "benchmarks/llamafactory_check.py"), "--model", str(tiny),
         "--export", str(out), "--json", str(tmp_path / "lf.json")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "lf.json").read_text())
    assert report["rows"] == 3 and report["images"] == 12
    assert report["assistant_texts_kept"] == 12
    assert sys.executable != LF_PYTHON
