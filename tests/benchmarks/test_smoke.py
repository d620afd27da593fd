"""Every benchmark script runs in its smoke mode (``--smoke``: tiny sizes), so none can rot.

Each script is run as its own process, as a user runs it (``python benchmarks/NAME.py``), from
a scratch folder; it must exit 0 and print its result. The numbers of a smoke run mean nothing
and are not checked. A new script in benchmarks/ is picked up here and fails until it has
``--smoke``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("[a-z]*.py"))
NEEDS_TRAIN = {"grpo_iteration.py", "pipeline_demo.py", "train_throughput.py"}
# Scripts whose smoke run is another test's: in another tool's own venv, or already run (and
# its output checked) by a product test; running them twice would only cost suite time.
RUN_ELSEWHERE = {
    "llamafactory_check.py": "runs in LLaMA-Factory's venv (llamafactory_check.sh); "
    "tests/filter/test_llamafactory_target.py runs it where VLMFORGE_LLAMAFACTORY_PYTHON is set",
    "pipeline_demo.py": "tests/train/test_pipeline.py::test_pipeline_runs_every_stage_for_real "
    "runs it with --smoke and checks everything it wrote",
}


def _param(name: str) -> object:
    marks: list[pytest.MarkDecorator] = []
    if name in NEEDS_TRAIN:
        marks = [pytest.mark.slow, pytest.mark.train]
    if name in RUN_ELSEWHERE:
        marks = [pytest.mark.skip(reason=RUN_ELSEWHERE[name])]
    return pytest.param(name, marks=marks, id=name.removesuffix(".py"))


@pytest.mark.parametrize("script", [_param(name) for name in SCRIPTS])
def test_benchmark_runs_in_smoke_mode(script: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    before = sorted(p.name for p in BENCHMARKS.iterdir())
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert '"benchmark"' in done.stdout or "{" in done.stdout, done.stdout[-2000:]
    # a smoke run leaves nothing behind in benchmarks/ (caches, databases, results)
    assert sorted(p.name for p in BENCHMARKS.iterdir()) == before


def test_every_script_is_covered() -> None:
    assert len(SCRIPTS) >= 14 and {"eval_scale.py", "eval_db_size.py"} <= set(SCRIPTS)
