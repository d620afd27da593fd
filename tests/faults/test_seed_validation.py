"""Seeds out of range or of the wrong type are refused before anything is written (issue 17, 4).

``--seeds 99999999999999999999`` used to fail deep in the store with ``OverflowError`` after the
run record was created, so the rerun said "already exists"; ``seeds = true`` in TOML ran seed 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from vlmforge.errors import ConfigError
from vlmforge.eval_config import EvalConfig
from vlmforge.seeds import parse_seeds

MAX_SEED = 2**32 - 1  # the documented range: 0 to 2**32 - 1 (numpy RandomState)
BASE = ("eval", "--env", "crafter", "--policy", "random", "--max-steps", "3")


def _eval(tmp_path: Path, *args: str):
    return run_cli(*BASE, "--trace-db", str(tmp_path / "t.db"), *args, cwd=tmp_path)


def test_a_seed_too_large_names_the_flag_the_range_and_writes_no_run(tmp_path: Path) -> None:
    proc = _eval(tmp_path, "--seeds", "99999999999999999999", "--run-name", "big")
    assert proc.returncode == 2, proc.stderr
    err = " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr and "OverflowError" not in proc.stderr
    assert "--seeds 99999999999999999999" in err and "too large" in err
    assert f"0 to {MAX_SEED} (2**32 - 1)" in err
    assert not (tmp_path / "t.db").exists()  # no store, no empty run left behind
    again = _eval(tmp_path, "--seeds", "0", "--run-name", "big")
    assert again.returncode == 0, again.stderr  # the name is free: nothing was recorded


def test_the_largest_seed_plays_and_one_past_it_is_refused(tmp_path: Path) -> None:
    ok = _eval(tmp_path, "--seeds", str(MAX_SEED), "--run-name", "top")
    assert ok.returncode == 0, ok.stderr
    past = _eval(tmp_path, "--seeds", f"{MAX_SEED - 1}-{MAX_SEED + 1}", "--run-name", "past")
    assert past.returncode == 2 and f"seed {MAX_SEED + 1} is too large" in past.stderr


def test_toml_seeds_true_is_refused_with_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "eval.toml"
    config.write_text(
        'run_name = "b"\nseeds = true\n[env]\nname = "crafter"\n[policy]\nname = "random"\n'
    )
    proc = run_cli(
        "eval", "--config", str(config), "--trace-db", str(tmp_path / "t.db"), cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = " ".join(proc.stderr.split())
    assert f"{config}, line 2: seeds" in err and "got True" in err
    assert not (tmp_path / "t.db").exists()


@pytest.mark.parametrize(
    "seeds", [True, False, [0, True], 2**32, [2**40], "0-4294967296", 1.0, {"a": 1}]
)
def test_the_config_model_refuses_bools_floats_and_large_seeds(seeds: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        EvalConfig.model_validate({"seeds": seeds})


def test_the_range_is_checked_without_expanding_it() -> None:
    with pytest.raises(ConfigError, match="too large"):
        parse_seeds("0-99999999999999999999")  # would be 10**20 seeds: refused at once
    assert parse_seeds([0, f"{MAX_SEED}"]) == [0, MAX_SEED]


def test_every_run_is_checked_before_the_first_is_written(tmp_path: Path) -> None:
    """Comparing two policies whose second run name is taken: refused before the first run
    plays (it used to play the first run, then fail on the second)."""
    db = tmp_path / "t.db"
    first = run_cli(*BASE, "--seeds", "0", "--trace-db", str(db), "--run-name", "cmp-b")
    assert first.returncode == 0, first.stderr
    config = tmp_path / "cmp.toml"
    config.write_text(
        'run_name = "cmp"\nseeds = "0-1"\nmax_steps = 3\n[env]\nname = "crafter"\n'
        '[[policies]]\nname = "random"\nlabel = "a"\n[[policies]]\nname = "random"\nlabel = "b"\n'
    )
    proc = run_cli("eval", "--config", str(config), "--trace-db", str(db), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "a run named 'cmp-b' already exists" in " ".join(proc.stderr.split())
    listed = run_cli("traces", "list", "--trace-db", str(db), "--json")
    assert "cmp-a" not in listed.stdout and "cmp-b" in listed.stdout


def test_unusable_output_paths_are_refused_before_the_run_is_written(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    for flag, value in (("--frames-dir", "afile"), ("--json-summary", "adir")):
        proc = _eval(tmp_path, "--seeds", "0", "--run-name", "out", flag, value)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr and f"({flag})" in proc.stderr
    listed = run_cli("traces", "list", "--trace-db", str(tmp_path / "t.db"), "--json")
    assert '"out"' not in listed.stdout  # the name is still free
