"""Bad configs fail at once, naming the file, the line and the key (issue 17, item 7).

- a ``[store]`` table without ``name`` is the sqlite store in every command that has one (eval,
  filter, the grpo train config, the pipeline's stages);
- an unknown component name written in a config file is reported at its file and line, not as
  the flag (``(--filter)``) the user never typed;
- ``vlmforge pipeline`` checks every stage's config before the first stage runs: a typo in
  ``[train]`` or ``[rl]`` fails with file:line and no stage output exists.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vlmforge.config import load_command_config
from vlmforge.plugins import get_registry

EVAL = """seeds = "0-1"
max_steps = 3
[env]
name = "crafter"
image_size = 32
[policy]
name = "random"
"""


def _runs(db: Path) -> list[str]:
    store = get_registry().create("store", "sqlite", {"path": str(db)})
    try:
        return [run.name for run in store.runs()]
    finally:
        store.close()


def test_eval_store_table_with_only_path_is_sqlite(tmp_path: Path, cli) -> None:
    (tmp_path / "eval.toml").write_text(EVAL + '[store]\npath = "mine.db"\n')
    result = cli("eval", "--config", "eval.toml", "--run-name", "r", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Field required" not in result.stderr
    assert _runs(tmp_path / "mine.db") == ["r"]
    assert not (tmp_path / "traces.db").exists()


def test_filter_store_table_without_name_is_sqlite(tmp_path: Path, cli) -> None:
    (tmp_path / "eval.toml").write_text(EVAL)
    assert cli("eval", "--config", "eval.toml", "--run-name", "r", cwd=tmp_path).returncode == 0
    (tmp_path / "filter.toml").write_text(
        'trace_dbs = ["traces.db"]\noutput_dir = "out"\nprogress = false\n'
        "[store]\nbusy_timeout_s = 5\n"
    )
    result = cli("filter", "--config", "filter.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "train.jsonl").exists()


@pytest.mark.train
def test_grpo_store_table_with_only_path_is_sqlite(tmp_path: Path) -> None:
    from vlmforge_hf.grpo.config import GRPOConfig

    path = tmp_path / "grpo.toml"
    path.write_text('model = "m"\noutput_dir = "out"\n[store]\npath = "r.db"\n')
    cfg = load_command_config(GRPOConfig, path).config
    assert cfg.store.name == "sqlite" and cfg.store_settings() == {"path": "r.db"}
    # the old form (a path string) still works; no [store]: output_dir/rollouts.db
    path.write_text('model = "m"\noutput_dir = "out"\nstore = "old.db"\n')
    assert load_command_config(GRPOConfig, path).config.store_settings() == {"path": "old.db"}
    path.write_text('model = "m"\noutput_dir = "out"\n[store]\ncache_mib = 4\n')
    settings = load_command_config(GRPOConfig, path).config.store_settings()
    assert settings == {"cache_mib": 4, "path": str(Path("out") / "rollouts.db")}


@pytest.mark.train
def test_pipeline_store_tables_without_name_are_checked_as_sqlite(tmp_path: Path, cli) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        'stages = ["eval", "filter", "rl"]\n[eval]\nseeds = "0-1"\n[eval.env]\nname = "crafter"\n'
        '[eval.policy]\nname = "random"\n[eval.store]\nbusy_timeout_s = 5\n'
        '[filter.store]\ncache_mib = 4\n[rl.store]\npath = "r.db"\n'
    )
    result = cli("pipeline", str(path), "--workdir", str(tmp_path / "w"), "--dry-run")
    assert result.returncode == 0, result.stderr
    path.write_text(path.read_text() + "busy_timout_s = 1\n")
    result = cli("pipeline", str(path), "--workdir", str(tmp_path / "w"), "--dry-run")
    assert result.returncode == 2
    assert "p.toml, line 14: unknown key 'rl.store.busy_timout_s'" in result.stderr


def test_unknown_filter_name_in_a_file_names_file_and_line(tmp_path: Path, cli) -> None:
    (tmp_path / "traces.db").write_bytes(b"")  # never opened: the name fails first
    (tmp_path / "f.toml").write_text(
        'trace_dbs = ["traces.db"]\n[[filters]]\nname = "status"\n\n[[filters]]\nname = "statsu"\n'
    )
    result = cli("filter", "--config", "f.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "f.toml, line 6: filters.1.name: unknown filter 'statsu'" in result.stderr
    assert "Did you mean 'status'?" in result.stderr
    assert "(--filter)" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "filtered").exists()
    # a name typed as a flag is still reported as the flag
    result = cli("filter", "--config", "f.toml", "--filter", "statsu", cwd=tmp_path)
    assert result.returncode == 2 and "unknown filter 'statsu' (--filter)" in result.stderr
    # the exporter named in the file
    (tmp_path / "f.toml").write_text('trace_dbs = ["traces.db"]\nexporter = "trll"\n')
    result = cli("filter", "--config", "f.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "f.toml, line 2: exporter: unknown exporter 'trll'" in result.stderr


def test_unknown_eval_component_names_in_a_file_name_the_line(tmp_path: Path, cli) -> None:
    (tmp_path / "e.toml").write_text(EVAL.replace('name = "random"', 'name = "randum"'))
    result = cli("eval", "--config", "e.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "e.toml, line 7: policy.name: unknown policy 'randum'" in result.stderr
    workers = EVAL.replace('name = "crafter"', 'name = "craftr"')
    (tmp_path / "e.toml").write_text("env_workers = 1\n" + workers)
    result = cli("eval", "--config", "e.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "e.toml, line 5: env.name: unknown environment 'craftr'" in result.stderr
    (tmp_path / "e.toml").write_text(EVAL + '[store]\nname = "sqlit"\n')
    result = cli("eval", "--config", "e.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "e.toml, line 9: store.name: unknown store 'sqlit'" in result.stderr
    assert not (tmp_path / "traces.db").exists()


def test_unknown_trainer_in_a_train_config_names_the_line(tmp_path: Path, cli) -> None:
    (tmp_path / "t.toml").write_text('model = "m"\ntrainer = "lora-stf"\n')
    result = cli("train", "--config", "t.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "t.toml, line 2: trainer: unknown trainer 'lora-stf'" in result.stderr
    result = cli("train", "--config", "t.toml", "--trainer", "lora-stf", cwd=tmp_path)
    assert result.returncode == 2 and "unknown trainer 'lora-stf' (--trainer)" in result.stderr


PIPELINE = """stages = ["eval", "filter", "model", "train", "rl", "heldout"]
[eval]
seeds = "0-1"
max_steps = 3
[eval.env]
name = "crafter"
[eval.policy]
name = "scripted"
[[filter.filters]]
name = "status"
[train]
trainer = "sft"
learning_rate = 1e-3
[rl]
iterations = 1
seeds_per_iteration = 1
[heldout]
seeds = "100-101"
"""


@pytest.mark.train
@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("learning_rate = 1e-3", "learnin_rate = 1e-3",
         "line 13: unknown key 'train.learnin_rate'. Did you mean 'learning_rate'?"),
        ('trainer = "sft"', 'trainer = "sfft"', "line 12: train.trainer: unknown trainer 'sfft'"),
        ("iterations = 1", "iteratons = 1", "line 15: unknown key 'rl.iteratons'"),
        ("seeds_per_iteration = 1", 'seeds_per_iteration = 1\n[rl.env]\nname = "crafter"\n'
         "image_sise = 32", "line 19: unknown key 'rl.env.image_sise'"),
        ("seeds_per_iteration = 1", "seeds_per_iteration = 1\n[rl.policy]\ntemprature = 1.0",
         "line 18: unknown key 'rl.policy.temprature'"),
        ('name = "status"', 'name = "statsu"', "line 10: filter.filters.0.name: unknown filter"),
        ('name = "status"', 'name = "status"\nkeeep = ["done"]',
         "line 11: unknown key 'filter.filters.0.keeep'. Did you mean 'keep'?"),
        ("[train]", '[model]\npath = "runs/nomodel"\n[train]',
         "line 12: model.path: model 'runs/nomodel': there is no such folder"),
        ('name = "scripted"', 'name = "scripted"\nrationale = "maybe"', "line 9: eval.policy."),
    ],
)  # fmt: skip
def test_pipeline_checks_every_stage_before_the_first_runs(
    tmp_path: Path, cli, old: str, new: str, expected: str
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PIPELINE.replace(old, new, 1))
    work = tmp_path / "work"
    result = cli("pipeline", str(path), "--workdir", str(work))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"p.toml, {expected}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not work.exists()  # no stage ran, nothing was written


@pytest.mark.train
def test_the_pipeline_check_passes_the_shipped_pipelines(tmp_path: Path, cli) -> None:
    root = Path(__file__).resolve().parents[2] / "configs"
    for name in ("pipeline_demo.toml", "pipeline_rl_demo.toml"):
        result = cli("pipeline", str(root / name), "--workdir", str(tmp_path / "w"), "--dry-run")
        assert result.returncode == 0, result.stderr
    path = tmp_path / "p.toml"
    path.write_text(PIPELINE)
    result = cli("pipeline", str(path), "--workdir", str(tmp_path / "w"), "--dry-run")
    assert result.returncode == 0, result.stderr
