"""``vlmforge pipeline``: stage wiring, every key, work-directory safety, and a real run."""

import json
import sqlite3
import tomllib
from pathlib import Path

import pytest

from vlmforge.errors import ConfigError
from vlmforge.pipeline import (
    STATE_FILE,
    default_config_text,
    load_pipeline,
    plan,
    prepare_workdir,
)

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.toml"
    path.write_text(text)
    return path


def test_embedded_demo_is_the_shipped_example():
    assert default_config_text() == (ROOT / "configs" / "pipeline_demo.toml").read_text()
    config, _ = load_pipeline(str(ROOT / "configs" / "pipeline_demo.toml"))
    assert config.eval["policy"]["name"] == "scripted"
    assert config.eval_trained["policy"]["name"] == "hf"


def test_plan_wires_paths_between_stages(tmp_path):
    config, _ = load_pipeline(None)
    work = tmp_path / "w"
    prepare_workdir(work, overwrite=False)
    steps = {s.stage: s for s in plan(config, work).stages}
    assert list(steps) == ["eval", "filter", "model", "train", "eval_trained"]
    eval_cfg = tomllib.loads(steps["eval"].config.read_text())
    assert eval_cfg["store"]["path"] == str(work / "traces.db")
    filter_cfg = tomllib.loads(steps["filter"].config.read_text())
    assert filter_cfg["trace_dbs"] == [str(work / "traces.db")]
    assert filter_cfg["output_dir"] == str(work / "export")
    model_cmd = steps["model"].command
    assert model_cmd[model_cmd.index("--out") + 1] == str(work / "model")
    assert model_cmd[model_cmd.index("--tokenizer-corpus") + 1] == str(work / "export/train.jsonl")
    train_cfg = tomllib.loads(steps["train"].config.read_text())
    assert train_cfg["model"] == str(work / "model")
    assert train_cfg["dataset"] == str(work / "export" / "train.jsonl")
    assert train_cfg["eval_dataset"] == str(work / "export" / "val.jsonl")
    assert train_cfg["learning_rate"] == config.train["learning_rate"]  # stage keys pass through
    trained = tomllib.loads(steps["eval_trained"].config.read_text())
    assert trained["policy"]["adapter"] == str(work / "train")
    assert trained["store"]["path"] == str(work / "traces-trained.db")


def test_every_pipeline_key_is_honoured(tmp_path):
    path = _write(
        tmp_path,
        """
workdir = "elsewhere"
stages = ["filter", "model", "train"]
[filter]
val_fraction = 0.5
[model]
tiny_family = "qwen3-vl"
vocab_size = 512
seed = 7
[train]
max_steps = 2
""",
    )
    config, _ = load_pipeline(str(path))
    assert config.workdir == "elsewhere"
    work = tmp_path / "w"
    prepare_workdir(work, overwrite=False)
    steps = {s.stage: s for s in plan(config, work).stages}
    assert list(steps) == ["filter", "model", "train"]
    cmd = steps["model"].command
    assert cmd[cmd.index("--family") + 1] == "qwen3-vl"
    assert cmd[cmd.index("--vocab-size") + 1] == "512"
    assert cmd[cmd.index("--seed") + 1] == "7"
    assert tomllib.loads(steps["filter"].config.read_text())["val_fraction"] == 0.5

    path = _write(tmp_path, 'stages = ["train"]\n[model]\npath = "/models/qwen2-vl-2b"\n')
    config, _ = load_pipeline(str(path))
    steps = plan(config, work).stages
    assert [s.stage for s in steps] == ["train"]
    assert tomllib.loads(steps[0].config.read_text())["model"] == "/models/qwen2-vl-2b"


def test_stage_table_errors_point_into_the_pipeline_file(tmp_path):
    path = _write(tmp_path, '[eval]\nseeds = "0-1"\nconcurency = 2\n')
    with pytest.raises(ConfigError, match=r"pipeline.toml, line 3: unknown key 'eval.concurency'"):
        load_pipeline(str(path))
    path = _write(tmp_path, 'stages = ["eval", "deploy"]\n')
    with pytest.raises(ConfigError, match=r"line 1: stages.1"):
        load_pipeline(str(path))
    path = _write(tmp_path, "[filter]\nval_fraction = 2.0\n")
    with pytest.raises(ConfigError, match=r"line 2: filter.val_fraction"):
        load_pipeline(str(path))


def test_workdir_is_never_clobbered_silently(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("precious")
    with pytest.raises(ConfigError, match="was not made by `vlmforge pipeline`"):
        prepare_workdir(foreign, overwrite=True)
    assert (foreign / "thesis.txt").read_text() == "precious"
    work = tmp_path / "w"
    prepare_workdir(work, overwrite=False)
    (work / "traces.db").write_text("x")
    with pytest.raises(ConfigError, match="--overwrite"):
        prepare_workdir(work, overwrite=False)
    assert (work / "traces.db").exists()
    prepare_workdir(work, overwrite=True)
    assert not (work / "traces.db").exists() and (work / STATE_FILE).exists()


@pytest.mark.slow
@pytest.mark.train
def test_pipeline_runs_every_stage_for_real(tmp_path, cli):
    """The README's main job in miniature: scripted eval -> filter -> tiny model -> LoRA -> hf."""
    demo = tomllib.loads(default_config_text())
    path = _write(
        tmp_path,
        f"""
workdir = "{tmp_path / "run"}"
[eval]
seeds = "0-1"
concurrency = 2
max_steps = 60
[eval.env]
name = "crafter"
[eval.policy]
name = "scripted"
[filter]
val_fraction = 0.5
[model]
tiny_family = "qwen2-vl"
vocab_size = 400
[train]
trainer = "lora-sft"
max_steps = 3
batch_size = 2
eval_steps = 3
save_steps = 3
[train.lora]
modules_to_save = {json.dumps(demo["train"]["lora"]["modules_to_save"])}
[eval_trained]
seeds = "9"
max_steps = 4
[eval_trained.env]
name = "crafter"
[eval_trained.policy]
name = "hf"
max_new_tokens = 16
""",
    )
    result = cli("pipeline", str(path), timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = tmp_path / "run"
    collect = json.loads((run / "summary-collect.json").read_text())
    trained = json.loads((run / "summary-trained.json").read_text())
    assert collect["runs"][0]["episodes"] == 2
    assert collect["runs"][0]["policy"] == "scripted"
    with sqlite3.connect(run / "traces.db") as db:
        assert db.execute("select count(*) from episode").fetchone()[0] == 2
    with sqlite3.connect(run / "traces-trained.db") as db:
        assert db.execute("select count(*) from episode").fetchone()[0] == 1
        assert db.execute("select count(*) from step").fetchone()[0] >= 1
    assert (run / "export" / "train.jsonl").stat().st_size > 0
    assert (run / "train" / "adapter").is_dir()
    assert trained["runs"][0]["policy"] == "hf"
    assert trained["runs"][0]["episodes"] == 1
    rerun = cli("pipeline", str(path))
    assert rerun.returncode != 0 and "--overwrite" in rerun.stderr
