"""``vlmforge pipeline``: eval -> filter -> model -> train -> eval the trained model, from one file.

Each stage is the ordinary command (``vlmforge eval``, ``filter``, ``models tiny``, ``train``,
``eval``) run as its own process with a config file the pipeline writes to
``WORKDIR/configs/<stage>.toml``, so any stage can be re-run by hand. The pipeline only wires
paths between stages (trace database -> export -> model -> adapter -> second eval); every other
setting is the stage's own config, validated by that stage's model.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import Field

from vlmforge.config import StrictModel, TomlSource, load_toml, validate
from vlmforge.errors import ConfigError, VlmforgeError

STAGES = ("eval", "filter", "model", "train", "eval_trained")
Stage = Literal["eval", "filter", "model", "train", "eval_trained"]
STATE_FILE = ".vlmforge-pipeline"


class ModelStage(StrictModel):
    """Where the base model comes from: a tiny offline model, or an existing path / id."""

    tiny_family: Literal["qwen2-vl", "qwen2.5-vl", "qwen3-vl"] | None = Field(
        "qwen2-vl", description="Build a tiny random-weight model of this family (offline)."
    )
    path: str | None = Field(None, description="Use this model (folder or id) instead.")
    vocab_size: int = Field(2048, ge=300, description="Tiny model's tokenizer vocabulary.")
    seed: int = Field(0, description="Tiny model's weight-init seed.")


class PipelineConfig(StrictModel):
    """The pipeline file: wiring settings plus one table per stage."""

    workdir: str = Field("vlmforge-demo", description="Everything is written below here.")
    stages: list[Stage] = Field(default_factory=lambda: list(STAGES))
    eval: dict[str, Any] = Field(default_factory=dict, description="A `vlmforge eval` config.")
    filter: dict[str, Any] = Field(default_factory=dict, description="A `vlmforge filter` config.")
    model: ModelStage = Field(default_factory=ModelStage)
    train: dict[str, Any] = Field(default_factory=dict, description="A `vlmforge train` config.")
    eval_trained: dict[str, Any] = Field(
        default_factory=dict, description="A `vlmforge eval` config for the trained model."
    )


@dataclass
class StageResult:
    stage: str
    command: list[str]
    config: Path | None
    outputs: dict[str, Path]
    seconds: float = 0.0


@dataclass
class Plan:
    """The commands the pipeline runs, in order, with the paths they write."""

    workdir: Path
    stages: list[StageResult] = field(default_factory=list)


def default_config_text() -> str:
    return resources.files("vlmforge.data").joinpath("pipeline_demo.toml").read_text("utf-8")


def load_pipeline(path: str | None) -> tuple[PipelineConfig, TomlSource | None]:
    """Load and validate a pipeline file (the embedded demo when ``path`` is None)."""
    if path is None:
        import tomllib

        data = tomllib.loads(default_config_text())
        return validate(PipelineConfig, data, "embedded pipeline_demo.toml"), None
    source = load_toml(path)
    config = validate(PipelineConfig, source.data, str(source.path), toml=source)
    _check_stage_tables(config, source)
    return config, source


def _check_stage_tables(config: PipelineConfig, source: TomlSource) -> None:
    """Validate the eval/filter tables with their commands' models, errors pointing here."""
    from vlmforge.dataset.config import FilterConfig
    from vlmforge.eval_config import EvalConfig

    for key, model in (
        ("eval", EvalConfig),
        ("eval_trained", EvalConfig),
        ("filter", FilterConfig),
    ):
        if key in config.stages:
            validate(model, getattr(config, key), str(source.path), toml=source, prefix=(key,))


def plan(config: PipelineConfig, workdir: Path) -> Plan:
    """Wire the stages' paths together and write each stage's config file."""
    exe = [sys.executable, "-m", "vlmforge"]
    configs = workdir / "configs"
    traces = workdir / "traces.db"
    export = workdir / "export"
    model_dir = Path(config.model.path) if config.model.path else workdir / "model"
    train_dir = workdir / "train"
    trained_traces = workdir / "traces-trained.db"
    result = Plan(workdir)

    def write(stage: str, data: dict[str, Any]) -> Path:
        path = configs / f"{stage}.toml"
        path.write_text(tomli_w.dumps(data), encoding="utf-8")
        return path

    if "eval" in config.stages:
        data = _with_store(config.eval, traces, "collect", workdir / "summary-collect.json")
        path = write("eval", data)
        result.stages.append(
            StageResult("eval", [*exe, "eval", "--config", str(path)], path, {"traces": traces})
        )
    if "filter" in config.stages:
        data = {
            **config.filter,
            "trace_dbs": [str(traces)],
            "output_dir": str(export),
            "overwrite": True,
        }
        path = write("filter", data)
        result.stages.append(
            StageResult("filter", [*exe, "filter", "--config", str(path)], path, {"export": export})
        )
    if "model" in config.stages and not config.model.path and config.model.tiny_family:
        command = [
            *exe,
            "models",
            "tiny",
            "--family",
            config.model.tiny_family,
            "--out",
            str(model_dir),
            "--vocab-size",
            str(config.model.vocab_size),
            "--seed",
            str(config.model.seed),
        ]
        if "filter" in config.stages:
            command += ["--tokenizer-corpus", str(export / "train.jsonl")]
        result.stages.append(StageResult("model", command, None, {"model": model_dir}))
    if "train" in config.stages:
        data = {
            **config.train,
            "model": str(model_dir),
            "output_dir": str(train_dir),
            "dataset": str(export / "train.jsonl"),
        }
        if "eval_dataset" not in config.train:
            data["eval_dataset"] = str(export / "val.jsonl")
        path = write("train", data)
        result.stages.append(
            StageResult(
                "train", [*exe, "train", "--config", str(path)], path, {"adapter": train_dir}
            )
        )
    if "eval_trained" in config.stages:
        data = _with_store(
            config.eval_trained, trained_traces, "trained", workdir / "summary-trained.json"
        )
        policy = dict(data.get("policy") or {"name": "hf"})
        if policy.get("name") == "hf" and "adapter" not in policy and "model" not in policy:
            policy["adapter"] = str(train_dir)
        data["policy"] = policy
        path = write("eval_trained", data)
        result.stages.append(
            StageResult(
                "eval_trained",
                [*exe, "eval", "--config", str(path)],
                path,
                {"traces": trained_traces},
            )
        )
    return result


def _with_store(table: dict[str, Any], db: Path, run_name: str, summary: Path) -> dict[str, Any]:
    data = dict(table)
    store = dict(data.get("store") or {"name": "sqlite"})
    store.setdefault("path", str(db))
    data["store"] = store
    data.setdefault("run_name", run_name)
    data.setdefault("json_summary", str(summary))
    return data


def prepare_workdir(workdir: Path, overwrite: bool) -> None:
    """Create the work directory; refuse to reuse a previous pipeline's unless ``overwrite``."""
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / STATE_FILE).exists():
            raise ConfigError(
                f"work directory '{workdir}' exists and was not made by `vlmforge pipeline`; "
                "choose another --workdir (nothing was touched)."
            )
        if not overwrite:
            raise ConfigError(
                f"work directory '{workdir}' holds an earlier pipeline run; pass --overwrite "
                "to replace it, or choose another --workdir."
            )
        shutil.rmtree(workdir)
    (workdir / "configs").mkdir(parents=True, exist_ok=True)
    (workdir / STATE_FILE).write_text("created by vlmforge pipeline\n", encoding="utf-8")


def run_stage(stage: StageResult) -> None:
    start = time.perf_counter()
    completed = subprocess.run(stage.command, check=False)
    stage.seconds = time.perf_counter() - start
    if completed.returncode != 0:
        rerun = " ".join(stage.command[2:])  # drop "python -m"
        raise VlmforgeError(
            f"pipeline stage '{stage.stage}' failed (exit {completed.returncode}). Its output is "
            f"above; re-run it alone with: {rerun}"
        )
