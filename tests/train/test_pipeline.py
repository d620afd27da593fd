"""``vlmforge pipeline``: stage wiring, every key, work-directory safety, and a real run."""

import json
import os
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from vlmforge.config import validate
from vlmforge.errors import ConfigError
from vlmforge.eval_config import EvalConfig
from vlmforge.seeds import parse_seeds
from vlmforge_hf.pipeline.stages import (
    STATE_FILE,
    default_config_text,
    load_pipeline,
    plan,
    prepare_workdir,
    write_configs,
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
    assert config.stages == ["eval", "filter", "model", "train", "heldout"]
    assert config.rows() == ["random", "teacher", "base", "sft"]
    rl, _ = load_pipeline(str(ROOT / "configs" / "pipeline_rl_demo.toml"))
    assert rl.stages == ["eval", "filter", "model", "train", "rl", "heldout"]
    assert rl.rows() == ["random", "teacher", "base", "sft", "sft+rl"]
    demo = tomllib.loads(default_config_text())
    rl_demo = tomllib.loads((ROOT / "configs" / "pipeline_rl_demo.toml").read_text())
    for key in ("eval", "filter", "model", "train"):
        assert rl_demo[key] == demo[key], f"the rl demo's [{key}] is the main demo's"
    # the same held-out settings, on more seeds (RL's gain is smaller than SFT's)
    assert {**rl_demo["heldout"], "seeds": None} == {**demo["heldout"], "seeds": None}
    assert len(parse_seeds(rl_demo["heldout"]["seeds"])) >= 90


def test_plan_wires_paths_between_stages(tmp_path):
    config, _ = load_pipeline(None)
    work = tmp_path / "w"
    steps = {s.stage: s for s in plan(config, work).stages}
    assert list(steps) == ["eval", "filter", "model", "train", "heldout"]
    eval_cfg = steps["eval"].data
    assert eval_cfg["store"]["path"] == str(work / "traces.db")
    filter_cfg = steps["filter"].data
    assert filter_cfg["trace_dbs"] == [str(work / "traces.db")]
    assert filter_cfg["output_dir"] == str(work / "export")
    model_cmd = steps["model"].command
    assert model_cmd[model_cmd.index("--out") + 1] == str(work / "model")
    assert model_cmd[model_cmd.index("--tokenizer-corpus") + 1] == str(work / "export/train.jsonl")
    train_cfg = steps["train"].data
    assert train_cfg["model"] == str(work / "model")
    assert train_cfg["dataset"] == str(work / "export" / "train.jsonl")
    assert train_cfg["eval_dataset"] == str(work / "export" / "val.jsonl")
    assert train_cfg["learning_rate"] == config.train["learning_rate"]  # stage keys pass through
    heldout = steps["heldout"].data
    assert heldout["store"]["path"] == str(work / "traces-heldout.db")
    assert heldout["env"] == config.eval["env"]  # the environment the teacher played
    assert heldout["seeds"] == "100-129" and heldout["max_steps"] == 300
    rows = {p["label"]: p for p in heldout["policies"]}
    assert list(rows) == ["random", "teacher", "base", "sft"]
    assert rows["teacher"] == {**config.eval["policy"], "label": "teacher"}
    assert rows["random"] == {"name": "random", "actions_per_call": 1, "label": "random"}
    hf = {"tools_in_prompt": False, **config.heldout.hf}  # the export has no tool schemas
    assert rows["base"] == {"name": "hf", "model": str(work / "model"), **hf, "label": "base"}
    # a full fine-tune (trainer "sft") is loaded as the model, not as an adapter
    assert rows["sft"] == {"name": "hf", "model": str(work / "train"), **hf, "label": "sft"}
    validate(EvalConfig, heldout, "heldout")


def test_configs_are_written_only_when_asked(tmp_path):
    config, _ = load_pipeline(None)
    work = tmp_path / "w"
    steps = plan(config, work)
    assert not work.exists()  # planning writes nothing
    prepare_workdir(work, overwrite=False)
    write_configs(steps)
    written = sorted(p.name for p in (work / "configs").iterdir())
    assert written == ["eval.toml", "eval_sft.toml", "filter.toml", "heldout.toml", "train.toml"]
    assert tomllib.loads((work / "configs/train.toml").read_text()) == steps.stage("train").data
    single = tomllib.loads((work / "configs/eval_sft.toml").read_text())
    sft = next(p for p in steps.stage("heldout").data["policies"] if p["label"] == "sft")
    assert single["policy"] == {k: v for k, v in sft.items() if k != "label"}
    assert single["env"] == config.eval["env"] and "policies" not in single


def test_lora_training_is_evaluated_as_an_adapter(tmp_path):
    path = _write(
        tmp_path,
        '[eval.policy]\nname = "scripted"\n[train]\ntrainer = "lora-sft"\n'
        "[filter.rows]\ninclude_tools = true\n",
    )
    config, _ = load_pipeline(str(path))
    rows = {p["label"]: p for p in plan(config, tmp_path / "w").stage("heldout").data["policies"]}
    assert rows["sft"]["adapter"] == str(tmp_path / "w" / "train")
    assert rows["sft"]["model"] == str(tmp_path / "w" / "model")
    assert rows["sft"]["tools_in_prompt"] is True


def test_every_pipeline_key_is_honoured(tmp_path):
    path = _write(
        tmp_path,
        """
workdir = "elsewhere"
stages = ["filter", "model", "train", "heldout"]
[eval]
seeds = "0-4"
[eval.env]
name = "crafter"
image_size = 96
[filter]
val_fraction = 0.5
[model]
tiny_family = "qwen3-vl"
vocab_size = 512
seed = 7
[train]
max_steps = 2
[heldout]
seeds = "50-52"
max_steps = 40
concurrency = 3
rows = ["random", "sft"]
random = { actions_per_call = 4 }
hf = { decoding = "constrained", temperature = 0.5 }
""",
    )
    config, _ = load_pipeline(str(path))
    assert config.workdir == "elsewhere"
    work = tmp_path / "w"
    steps = {s.stage: s for s in plan(config, work).stages}
    assert list(steps) == ["filter", "model", "train", "heldout"]
    cmd = steps["model"].command
    assert cmd[cmd.index("--family") + 1] == "qwen3-vl"
    assert cmd[cmd.index("--vocab-size") + 1] == "512"
    assert cmd[cmd.index("--seed") + 1] == "7"
    assert steps["filter"].data["val_fraction"] == 0.5
    heldout = steps["heldout"].data
    assert (heldout["seeds"], heldout["max_steps"], heldout["concurrency"]) == ("50-52", 40, 3)
    assert heldout["env"] == {"name": "crafter", "image_size": 96}
    rows = {p["label"]: p for p in heldout["policies"]}
    assert list(rows) == ["random", "sft"]
    assert rows["random"]["actions_per_call"] == 4
    assert rows["sft"]["decoding"] == "constrained" and rows["sft"]["temperature"] == 0.5
    assert rows["sft"]["adapter"] == str(work / "train")  # the default trainer is lora-sft

    path = _write(tmp_path, 'stages = ["train"]\n[model]\npath = "/models/qwen2-vl-2b"\n')
    config, _ = load_pipeline(str(path))
    steps = plan(config, work).stages
    assert [s.stage for s in steps] == ["train"]
    assert steps[0].data["model"] == "/models/qwen2-vl-2b"


def test_rl_stage_is_wired_from_the_trained_model(tmp_path):
    path = _write(
        tmp_path,
        """
stages = ["eval", "filter", "model", "train", "rl", "heldout"]
[eval]
seeds = "0-3"
[eval.env]
name = "crafter"
image_size = 64
[eval.policy]
name = "scripted"
[filter.rows]
include_tools = false
[train]
trainer = "sft"
[rl]
iterations = 3
seeds = "1000-1099"
[rl.policy]
temperature = 1.2
[heldout.hf]
tools = ["interact_many"]
temperature = 1.5
batch_size = 30
""",
    )
    config, _ = load_pipeline(str(path))
    work = tmp_path / "w"
    steps = {s.stage: s for s in plan(config, work).stages}
    assert list(steps) == ["eval", "filter", "model", "train", "rl", "heldout"]
    rl = steps["rl"].data
    assert rl["trainer"] == "grpo" and rl["iterations"] == 3
    assert rl["model"] == str(work / "train") and "adapter" not in rl
    assert rl["output_dir"] == str(work / "rl")
    assert rl["env"] == {"name": "crafter", "image_size": 64}
    # the held-out decoding, the export's tool setting, and [rl.policy] on top
    assert rl["policy"] == {"tools_in_prompt": False, "tools": ["interact_many"],
                            "temperature": 1.2}  # fmt: skip
    rows = {p["label"]: p for p in steps["heldout"].data["policies"]}
    assert list(rows) == ["random", "teacher", "base", "sft", "sft+rl"]
    assert rows["sft+rl"]["adapter"] == str(work / "rl")
    assert rows["sft+rl"]["temperature"] == 1.5  # evaluated with the other rows' decoding
    path = _write(tmp_path, 'stages = ["rl", "heldout"]\n[rl]\nseeds = "100-200"\n')
    with pytest.raises(ConfigError, match=r"heldout\.seeds and rl\.seeds share"):
        load_pipeline(str(path))


def test_heldout_seeds_must_be_new(tmp_path):
    path = _write(tmp_path, '[eval]\nseeds = "0-39"\n[heldout]\nseeds = "30-59"\n')
    with pytest.raises(ConfigError, match=r"share 10 seeds \(e\.g\. 30\); held-out seeds must be"):
        load_pipeline(str(path))
    path = _write(tmp_path, '[eval]\nseeds = "0-9"\n[heldout]\nseeds = "5"\nrows = ["base"]\n')
    with pytest.raises(ConfigError, match="share 1 seeds"):
        load_pipeline(str(path))
    path = _write(tmp_path, 'stages = ["eval"]\n[eval]\nseeds = "0-9"\n[heldout]\nseeds = "5"\n')
    load_pipeline(str(path))  # no held-out stage, nothing to check


def test_teacher_row_needs_the_eval_policy(tmp_path):
    path = _write(tmp_path, '[eval]\nseeds = "0-1"\n[[eval.policies]]\nname = "random"\n')
    with pytest.raises(ConfigError, match=r"pipeline.toml: heldout.rows has 'teacher', which"):
        load_pipeline(str(path))
    path = _write(tmp_path, '[eval]\nseeds = "0-1"\n[heldout]\nrows = ["random", "base"]\n')
    load_pipeline(str(path))


@pytest.mark.train
def test_stage_settings_are_checked_before_anything_runs(tmp_path):
    from vlmforge_hf.pipeline.checks import check_stages

    config, source = load_pipeline(None)
    check_stages(config, source, "demo")
    head = '[eval.env]\nname = "crafter"\n[eval.policy]\nname = "scripted"\n'
    path = _write(tmp_path, head + "[heldout.hf]\ntemprature = 1\n")
    config, source = load_pipeline(str(path))
    with pytest.raises(ConfigError, match=r"(?s)heldout row 'base'.*line 6: unknown key "
                       r"'heldout.hf.temprature'"):  # fmt: skip
        check_stages(config, source, str(path))
    path = _write(tmp_path, head + "[train]\nlearning_rte = 1\n")
    config, source = load_pipeline(str(path))
    with pytest.raises(ConfigError, match=r"line 6: unknown key 'train.learning_rte'"):
        check_stages(config, source, str(path))


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


def test_a_partial_rerun_keeps_the_earlier_stages_outputs(tmp_path):
    work = tmp_path / "w"
    prepare_workdir(work, overwrite=False)
    for name in ("traces.db", "traces.db-wal", "traces-heldout.db", "traces-heldout.db-wal",
                 "report.json"):  # fmt: skip
        (work / name).write_text("earlier")
    for folder in ("export", "model", "train"):
        (work / folder).mkdir()
        (work / folder / "f").write_text("earlier")
    path = _write(
        tmp_path, 'stages = ["filter", "train", "heldout"]\n[heldout]\nrows = ["random", "sft"]\n'
    )
    config, _ = load_pipeline(str(path))
    prepare_workdir(work, overwrite=True, steps=plan(config, work))
    # the traces (eval) and the model (not re-built) stay; what the stages write is replaced
    assert (work / "traces.db").read_text() == "earlier" and (work / "traces.db-wal").exists()
    assert (work / "model" / "f").exists()
    for gone in ("export", "train", "traces-heldout.db", "traces-heldout.db-wal", "report.json"):
        assert not (work / gone).exists(), gone
    # a run from the eval stage replaces everything
    config, _ = load_pipeline(None)
    prepare_workdir(work, overwrite=True, steps=plan(config, work))
    assert sorted(p.name for p in work.iterdir()) == sorted(["configs", STATE_FILE])


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.train
def test_dry_run_changes_nothing(tmp_path):
    from click.testing import CliRunner

    from vlmforge.cli import _add_commands, cli

    _add_commands()
    work = tmp_path / "w"
    runner = CliRunner()
    result = runner.invoke(cli, ["pipeline", "--workdir", str(work), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert not work.exists()  # a fresh work directory is not even created
    assert "vlmforge eval --config" in result.output and "[heldout]" not in result.output
    assert 'label = "sft"' in result.output  # each stage's config is printed instead
    prepare_workdir(work, overwrite=False)
    (work / "traces.db").write_bytes(b"earlier results")
    (work / "export").mkdir()
    (work / "export" / "train.jsonl").write_text("{}\n")
    before = _snapshot(work)
    result = runner.invoke(cli, ["pipeline", "--workdir", str(work), "--overwrite", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert _snapshot(work) == before  # --overwrite --dry-run deletes and writes nothing
    result = runner.invoke(cli, ["pipeline", "--workdir", str(work), "--dry-run"])
    assert result.exit_code == 2 and "--overwrite" in result.stderr
    assert _snapshot(work) == before


@pytest.mark.slow
@pytest.mark.train
def test_pipeline_runs_every_stage_for_real(tmp_path, cli):
    """The README's main job in miniature: teacher -> filter -> tiny model -> SFT -> held-out.

    Run as ``benchmarks/pipeline_demo.py --smoke`` (the benchmark's own smoke configuration, a
    real ``vlmforge pipeline`` process and a check eval of the trained model on an unseen seed),
    so one run proves both the pipeline and that the benchmark script has not rotted.
    """
    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    benchmarks_before = sorted(p.name for p in (ROOT / "benchmarks").iterdir())
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "pipeline_demo.py"), "--smoke",
         "--workdir", str(run)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert sorted(p.name for p in (ROOT / "benchmarks").iterdir()) == benchmarks_before
    collect = json.loads((run / "summary-collect.json").read_text())
    assert collect["runs"][0]["episodes"] == 2 and collect["runs"][0]["policy"] == "scripted"
    assert (run / "export" / "train.jsonl").stat().st_size > 0
    assert (run / "train" / "model" / "config.json").is_file()
    report = json.loads((run / "report.json").read_text())
    assert report["heldout_seeds"] == [9, 10] and report["training_seeds"] == [0, 1]
    assert list(report["stage_seconds"]) == ["eval", "filter", "model", "train", "heldout"]
    rows = {r["name"]: r for r in report["rows"]}
    assert list(rows) == ["random", "teacher", "base", "sft"]
    for row in rows.values():
        assert row["episodes"] == 2
        for key in ("unique_achievements_mean", "unique_achievements_sem", "crafter_score_pct",
                    "invalid_decision_rate"):  # fmt: skip
            assert isinstance(row[key], float)
    assert rows["sft"]["invalid_decision_rate"] == 0.0  # score decoding: valid by construction
    assert rows["base"]["invalid_decision_rate"] == 0.0
    pairs = {(c["a"], c["b"], c["metric"]) for c in report["comparisons"]}
    assert ("sft", "random", "unique_achievements") in pairs
    with sqlite3.connect(run / "traces-heldout.db") as db:
        names = {n for (n,) in db.execute("select name from run")}
        assert names == {f"heldout-{n}" for n in rows}
    assert "paired differences" in result.stdout and "report:" in result.stdout
    # the benchmark played the trained model on a seed the pipeline never saw, with the
    # eval config the pipeline wrote (the same decoding)
    [check] = json.loads((run / "check-sft.json").read_text())["runs"]
    assert check["episodes"] == 1 and check["policy"] == "hf" and check["seeds"] == "500"
    assert '"pipeline_demo"' in result.stdout and "unseen seeds 500: sft" in result.stdout
    rerun = cli("pipeline", "--workdir", str(run))
    assert rerun.returncode != 0 and "--overwrite" in rerun.stderr
