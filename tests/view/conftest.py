"""Shared by the viewer tests, built once per session: a real trace database (the openai policy
against the loopback OpenAI-protocol server, and the random policy, on the same Crafter seeds),
a filter config, a training output folder, the viewer in a real subprocess, and one headless
Chromium (Debian's chromium + chromedriver) driving it.

Screenshots go to ``VLMFORGE_VIEW_ARTIFACTS`` (default: ``artifacts/`` in pytest's temporary
folder); docs/images/ holds the ones docs/view.md shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.filter.builders import record_llm_eval, record_random_eval
from tests.view.chromium import CHROMEDRIVER, CHROMIUM, start_chromium


@pytest.fixture(scope="session")
def view_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs ``llm`` (openai policy, seeds 0-2, 12 decisions; seed 2 fails) and ``random``
    (seeds 0-2, 12 steps), real Crafter, one SQLite file."""
    db = tmp_path_factory.mktemp("view") / "traces.db"
    record_llm_eval(db)
    record_random_eval(db, seeds="0-2", max_steps=12)
    return db


@pytest.fixture(scope="session")
def filter_config(view_db: Path) -> Path:
    path = view_db.parent / "filter.toml"
    path.write_text(
        'output_dir = "never-written"\n\n[[filters]]\nname = "status"\n\n'
        '[[filters]]\nname = "decision-quality"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="session")
def train_dir(view_db: Path) -> Path:
    """An output folder in the trainers' documented formats (loss_curve.json of `lora-sft`,
    reward_curve.json of `grpo`): the viewer's input, drawn point for point."""
    out = view_db.parent / "train-out"
    out.mkdir()
    loss = {
        "train": [{"step": s, "loss": 2.0 / s, "learning_rate": 1e-4} for s in range(1, 9)],
        "eval": [{"step": 4, "eval_loss": 0.9}, {"step": 8, "eval_loss": 0.5}],
    }
    (out / "loss_curve.json").write_text(json.dumps(loss), encoding="utf-8")
    iterations = [
        {"iteration": i, "reward_mean": 0.5 * i, "reward_min": 0.0, "reward_max": i + 1.0}
        for i in range(5)
    ]
    (out / "reward_curve.json").write_text(json.dumps({"iterations": iterations}), encoding="utf-8")
    (out / "metadata.json").write_text(json.dumps({"trainer": "lora-sft"}), encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def report(view_db: Path, train_dir: Path) -> Path:
    """`vlmforge view --export report.html llm random`."""
    from tests.conftest import run_cli

    out = view_db.parent / "report.html"
    result = run_cli(
        "view", "--trace-db", str(view_db), "--train-dir", str(train_dir),
        "--export", str(out), "llm", "random",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    return out


class Viewer:
    """``vlmforge view`` in a subprocess, and the URL it printed."""

    def __init__(self, args: list[str]):
        env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vlmforge", "view", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if " on http://" not in line:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise AssertionError(f"vlmforge view did not start: {line!r} {err}")
        self.url = line.split(" on ", 1)[1].split()[0].rstrip("/")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def db_fingerprint(view_db: Path) -> dict[str, Any]:
    """The database's files before the viewer ran (the read-only check compares)."""
    return _fingerprint(view_db)


def _fingerprint(db: Path) -> dict[str, Any]:
    import hashlib

    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(db.parent.glob(db.name + "*"))
    }


@pytest.fixture(scope="session")
def viewer(
    view_db: Path, filter_config: Path, train_dir: Path, db_fingerprint: dict[str, Any]
) -> Iterator[Viewer]:
    server = Viewer(
        [
            "--trace-db",
            str(view_db),
            "--filter-config",
            str(filter_config),
            "--train-dir",
            str(train_dir),
        ]
    )
    yield server
    server.stop()
    assert server.proc.returncode == 0  # SIGTERM: a clean stop, the store closed first


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("VLMFORGE_VIEW_ARTIFACTS")
    out = Path(given) if given else tmp_path_factory.getbasetemp() / "artifacts"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for every browser test (a fresh profile; the network is closed)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    if not CHROMEDRIVER.exists():
        pytest.fail(
            f"{CHROMIUM} is there but {CHROMEDRIVER} is not: apt-get install -y chromium-driver"
        )
    profile = tempfile.TemporaryDirectory(prefix="vlmforge-view-chromium-")
    driver = start_chromium(profile.name, browser_log=True)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        profile.cleanup()


def latest_episode(store: Any, run_name: str, seed: int) -> Any:
    run = store.get_run(run_name)
    return [e for e in store.episodes([run.id]) if e.seed == seed][-1]


@pytest.fixture(scope="session")
def store(view_db: Path) -> Iterator[Any]:
    """The fixture database opened read-only, for the tests' expectations."""
    from vlmforge.plugins import get_registry
    from vlmforge.store_read import open_store_for_reading

    opened = open_store_for_reading(
        get_registry(), "sqlite", {"path": str(view_db)}, where="test", missing="missing"
    )
    yield opened
    opened.close()
