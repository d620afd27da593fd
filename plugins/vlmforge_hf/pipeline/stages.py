"""``vlmforge pipeline``: collect -> filter -> model -> train -> held-out comparison, one file.

Each stage is the ordinary command (``vlmforge eval``, ``filter``, ``models tiny``, ``train``,
``eval``) run as its own process with a config file the pipeline writes to
``WORKDIR/configs/<stage>.toml``, so any stage can be re-run by hand. The pipeline wires paths
between stages (trace database -> export -> model -> trained weights -> held-out eval) and keeps
the prompt the same at train and eval time (one ``[eval.env]`` table for every eval, the export's
tool setting for the ``hf`` policy); every other setting is the stage's own config.

The ``heldout`` stage plays ``random``, the ``teacher`` (the collect stage's policy), the ``base``
model before training and the trained model (``sft``) on the same held-out seeds, which must be
disjoint from the training seeds, and writes ``WORKDIR/report.json``.
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
from vlmforge.seeds import parse_seeds

STAGES = ("eval", "filter", "model", "train", "rl", "heldout")
Stage = Literal["eval", "filter", "model", "train", "rl", "heldout"]
DEFAULT_STAGES: tuple[Stage, ...] = ("eval", "filter", "model", "train", "heldout")
ROWS = ("random", "teacher", "base", "sft", "sft+rl")
Row = Literal["random", "teacher", "base", "sft", "sft+rl"]
RL_TRAINER = "grpo"
STATE_FILE = ".vlmforge-pipeline"
HELDOUT_RUN = "heldout"


class ModelStage(StrictModel):
    """Where the base model comes from: a tiny offline model, or an existing path / id."""

    tiny_family: Literal["qwen2-vl", "qwen2.5-vl", "qwen3-vl"] | None = Field(
        "qwen2-vl", description="Build a tiny random-weight model of this family (offline)."
    )
    path: str | None = Field(None, description="Use this model (folder or id) instead.")
    vocab_size: int = Field(2048, ge=300, description="Tiny model's tokenizer vocabulary.")
    seed: int = Field(0, description="Tiny model's weight-init seed.")


class HeldoutStage(StrictModel):
    """The comparison on held-out seeds (every row on the same seeds, same environment)."""

    seeds: str | int | list[str | int] = Field(
        "100-129", description="Held-out seeds; must not overlap the [eval] (training) seeds."
    )
    max_steps: int = Field(300, ge=1, description="Env steps per episode.")
    concurrency: int = Field(30, ge=1, le=4096, description="Episodes in flight per row.")
    rows: list[Row] | None = Field(
        None,
        min_length=1,
        description="Which rows to play: random, teacher, base, sft, sft+rl (default: the "
        "first four, and sft+rl when the rl stage runs).",
    )
    random: dict[str, Any] = Field(
        default_factory=lambda: {"actions_per_call": 1},
        description="Settings of the `random` policy row.",
    )
    hf: dict[str, Any] = Field(
        default_factory=dict,
        description="Settings of the `hf` policy for both the base and the sft rows (decoding, "
        "temperature, ...); model/adapter are wired in.",
    )


class PipelineConfig(StrictModel):
    """The pipeline file: wiring settings plus one table per stage."""

    workdir: str = Field("vlmforge-demo", description="Everything is written below here.")
    stages: list[Stage] = Field(default_factory=lambda: list(DEFAULT_STAGES))
    eval: dict[str, Any] = Field(default_factory=dict, description="A `vlmforge eval` config.")
    filter: dict[str, Any] = Field(default_factory=dict, description="A `vlmforge filter` config.")
    model: ModelStage = Field(default_factory=ModelStage)
    train: dict[str, Any] = Field(default_factory=dict, description="A `vlmforge train` config.")
    rl: dict[str, Any] = Field(
        default_factory=dict, description="A `vlmforge train --trainer grpo` config."
    )
    heldout: HeldoutStage = Field(default_factory=HeldoutStage)

    def rows(self) -> list[str]:
        """The held-out rows, in report order."""
        if self.heldout.rows is not None:
            return [r for r in ROWS if r in self.heldout.rows]
        rl = ["sft+rl"] if "rl" in self.stages else []
        return ["random", "teacher", "base", "sft", *rl]


@dataclass
class StageResult:
    stage: str
    command: list[str]
    config: Path | None
    outputs: dict[str, Path]
    seconds: float = 0.0
    data: dict[str, Any] | None = None  # the config file's content


@dataclass
class Plan:
    """The commands the pipeline runs, in order, with the paths they write."""

    workdir: Path
    stages: list[StageResult] = field(default_factory=list)
    extra_configs: dict[Path, dict[str, Any]] = field(default_factory=dict)

    def stage(self, name: str) -> StageResult | None:
        return next((s for s in self.stages if s.stage == name), None)


def default_config_text() -> str:
    return resources.files("vlmforge_hf.pipeline").joinpath("pipeline_demo.toml").read_text("utf-8")


def load_pipeline(path: str | None) -> tuple[PipelineConfig, TomlSource | None]:
    """Load and validate a pipeline file (the embedded demo when ``path`` is None)."""
    if path is None:
        import tomllib

        data = tomllib.loads(default_config_text())
        config = validate(PipelineConfig, data, "embedded pipeline_demo.toml")
        _check_heldout(config, "embedded pipeline_demo.toml")
        return config, None
    source = load_toml(path)
    config = validate(PipelineConfig, source.data, str(source.path), toml=source)
    _check_stage_tables(config, source)
    _check_heldout(config, str(source.path))
    return config, source


def _check_stage_tables(config: PipelineConfig, source: TomlSource) -> None:
    """Validate the eval/filter tables with their commands' models, errors pointing here."""
    from vlmforge.dataset.config import FilterConfig
    from vlmforge.eval_config import EvalConfig

    for key, model in (("eval", EvalConfig), ("filter", FilterConfig)):
        if key in config.stages:
            validate(model, getattr(config, key), str(source.path), toml=source, prefix=(key,))


def _check_heldout(config: PipelineConfig, where: str) -> None:
    """The held-out stage's eval config must be valid and its seeds new, before anything runs."""
    if "heldout" not in config.stages:
        return
    from vlmforge.eval_config import EvalConfig

    heldout = set(parse_seeds(config.heldout.seeds))
    trained = {"eval.seeds": set(parse_seeds(config.eval.get("seeds", "0-9")))}
    if "rl" in config.stages:
        trained["rl.seeds"] = set(parse_seeds(config.rl.get("seeds", "1000-9999")))
    for key, seeds in trained.items():
        shared = sorted(heldout & seeds)
        if shared:
            raise ConfigError(
                f"{where}: heldout.seeds and {key} share {len(shared)} seeds (e.g. "
                f"{shared[0]}); held-out seeds must be ones the model never trained on."
            )
    here = Path("WORKDIR")
    try:
        data = heldout_config(config, here, here / "model", here / "train")
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    validate(EvalConfig, data, f"{where} (the heldout stage's eval config)")


def trainer_name(config: PipelineConfig) -> str:
    return str(config.train.get("trainer", "lora-sft"))


def plan(config: PipelineConfig, workdir: Path) -> Plan:
    """Wire the stages' paths together; :func:`write_configs` writes the stage configs."""
    exe = [sys.executable, "-m", "vlmforge"]
    configs = workdir / "configs"
    traces = workdir / "traces.db"
    export = workdir / "export"
    model_dir = Path(config.model.path) if config.model.path else workdir / "model"
    train_dir = workdir / "train"
    result = Plan(workdir)

    def add(stage: str, data: dict[str, Any] | None, command: list[str], outputs: dict) -> None:
        path = configs / f"{stage}.toml" if data is not None else None
        cmd = [*command, "--config", str(path)] if path else command
        result.stages.append(StageResult(stage, cmd, path, outputs, data=data))

    if "eval" in config.stages:
        data = _with_store(config.eval, traces, "collect", workdir / "summary-collect.json")
        add("eval", data, [*exe, "eval"], {"traces": traces})
    if "filter" in config.stages:
        data = {
            **config.filter,
            "trace_dbs": [str(traces)],
            "output_dir": str(export),
            "overwrite": True,
        }
        add("filter", data, [*exe, "filter"], {"export": export})
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
        add("model", None, command, {"model": model_dir})
    if "train" in config.stages:
        data = {
            **config.train,
            "model": str(model_dir),
            "output_dir": str(train_dir),
            "dataset": str(export / "train.jsonl"),
        }
        if "eval_dataset" not in config.train:
            data["eval_dataset"] = str(export / "val.jsonl")
        add("train", data, [*exe, "train"], {"weights": train_dir})
    if "rl" in config.stages:
        data = rl_config(config, workdir, model_dir, train_dir)
        add("rl", data, [*exe, "train"], {"adapter": workdir / "rl"})
    if "heldout" in config.stages:
        data = heldout_config(config, workdir, model_dir, train_dir)
        add("heldout", data, [*exe, "eval"], {"traces": workdir / "traces-heldout.db"})
        if "sft" in config.rows():
            single = {k: v for k, v in data.items() if k not in ("policies", "json_summary")}
            sft = next(p for p in data["policies"] if p["label"] == "sft")
            single["policy"] = {k: v for k, v in sft.items() if k != "label"}
            single["run_name"] = "sft-eval"
            single["store"] = {"name": "sqlite", "path": str(workdir / "traces-sft-eval.db")}
            result.extra_configs[configs / "eval_sft.toml"] = single
    return result


def sft_weights(config: PipelineConfig, model_dir: Path, train_dir: Path) -> dict[str, str]:
    """How the trained model loads: the sft output as a model, a LoRA one as an adapter."""
    if trainer_name(config) == "sft":
        return {"model": str(train_dir)}
    return {"model": str(model_dir), "adapter": str(train_dir)}


def rl_config(
    config: PipelineConfig, workdir: Path, model_dir: Path, train_dir: Path
) -> dict[str, Any]:
    """The ``grpo`` train config: from the trained model, in the collect stage's environment,
    with the held-out rows' decoding."""
    policy = {k: v for k, v in hf_settings(config).items() if k != "batch_size"}
    return {
        "trainer": RL_TRAINER,
        "env": dict(config.eval.get("env") or {"name": "crafter"}),
        **config.rl,
        "policy": {**policy, **(config.rl.get("policy") or {})},
        **sft_weights(config, model_dir, train_dir),
        "output_dir": str(workdir / "rl"),
    }


def hf_settings(config: PipelineConfig) -> dict[str, Any]:
    """The ``hf`` policy settings of the base and sft rows: the export's tool setting (the
    prompt the model was trained on), then ``[heldout.hf]``."""
    rows = config.filter.get("rows")
    if not isinstance(rows, dict):
        rows = {}
    return {"tools_in_prompt": bool(rows.get("include_tools", True)), **config.heldout.hf}


def heldout_config(
    config: PipelineConfig, workdir: Path, model_dir: Path, train_dir: Path
) -> dict[str, Any]:
    """The ``vlmforge eval`` config of the held-out comparison (one run per row)."""
    env = config.eval.get("env") or {"name": "crafter"}
    hf = hf_settings(config)
    weights = sft_weights(config, model_dir, train_dir)
    rows: dict[str, dict[str, Any]] = {
        "random": {"name": "random", **config.heldout.random},
        "base": {"name": "hf", "model": str(model_dir), **hf},
        "sft": {"name": "hf", **weights, **hf},
        "sft+rl": {"name": "hf", "adapter": str(workdir / "rl"), **hf},
    }
    teacher = config.eval.get("policy")
    if "teacher" in config.rows():
        if not isinstance(teacher, dict):
            raise ConfigError(
                "heldout.rows has 'teacher', which replays the [eval.policy] table; the [eval] "
                "table has none. Add [eval.policy] or drop 'teacher' from heldout.rows."
            )
        rows["teacher"] = dict(teacher)
    return {
        "run_name": HELDOUT_RUN,
        "seeds": config.heldout.seeds,
        "concurrency": config.heldout.concurrency,
        "max_steps": config.heldout.max_steps,
        "json_summary": str(workdir / "summary-heldout.json"),
        "env": dict(env),
        "policies": [{**rows[name], "label": name} for name in config.rows()],
        "store": {"name": "sqlite", "path": str(workdir / "traces-heldout.db")},
    }


def _with_store(table: dict[str, Any], db: Path, run_name: str, summary: Path) -> dict[str, Any]:
    data = dict(table)
    store = dict(data.get("store") or {"name": "sqlite"})
    store.setdefault("path", str(db))
    data["store"] = store
    data.setdefault("run_name", run_name)
    data.setdefault("json_summary", str(summary))
    return data


def toml_text(data: dict[str, Any]) -> str:
    return tomli_w.dumps(data)


def write_configs(steps: Plan) -> None:
    """Write every stage's config file (and the extra ones, e.g. ``eval_sft.toml``)."""
    for stage in steps.stages:
        if stage.config is not None and stage.data is not None:
            stage.config.write_text(toml_text(stage.data), encoding="utf-8")
    for path, data in steps.extra_configs.items():
        path.write_text(toml_text(data), encoding="utf-8")


def check_workdir(workdir: Path, overwrite: bool) -> None:
    """Refuse a work directory the pipeline may not replace (changes nothing)."""
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


def prepare_workdir(workdir: Path, overwrite: bool, steps: Plan | None = None) -> None:
    """Create the work directory; refuse to reuse a previous pipeline's unless ``overwrite``.

    With ``overwrite``, a run from the ``eval`` stage (or no ``steps``) replaces the whole folder;
    a run of later stages only (``stages = ["filter", "model", "train"]``) keeps what earlier
    stages wrote (the traces) and replaces only the outputs of the stages it runs, and the report.
    """
    check_workdir(workdir, overwrite)
    if workdir.exists() and any(workdir.iterdir()):
        if steps is None or steps.stage("eval") is not None:
            shutil.rmtree(workdir)
        else:
            for stage in steps.stages:
                for path in stage.outputs.values():
                    _remove_output(workdir, path)
            (workdir / "report.json").unlink(missing_ok=True)
    (workdir / "configs").mkdir(parents=True, exist_ok=True)
    (workdir / STATE_FILE).write_text("created by vlmforge pipeline\n", encoding="utf-8")


def _remove_output(workdir: Path, path: Path) -> None:
    """Remove a stage's output (a folder, or a SQLite file and its -wal/-shm), if in workdir."""
    if not path.resolve().is_relative_to(workdir.resolve()):
        return  # e.g. [model] path: the user's model, never the pipeline's to delete
    if path.is_dir():
        shutil.rmtree(path)
        return
    for item in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        item.unlink(missing_ok=True)


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


def heldout_report(config: PipelineConfig, workdir: Path) -> dict[str, Any]:
    """``report.json``'s content, from the held-out trace database."""
    from vlmforge.plugins import get_registry
    from vlmforge.store_read import open_store_for_reading
    from vlmforge_hf.pipeline.report import heldout_report as build
    from vlmforge_hf.pipeline.report_probes import probe_summaries

    heldout = workdir / "traces-heldout.db"
    store = open_store_for_reading(  # the report only reads: the store is opened read-only
        get_registry(),
        "sqlite",
        {"path": str(heldout)},
        where=str(heldout),
        missing=f"the held-out trace store {heldout} does not exist; run the heldout stage.",
    )
    try:
        rows = []
        for name in config.rows():
            run = store.get_run(f"{HELDOUT_RUN}-{name}")
            if run is None:
                raise VlmforgeError(f"the held-out store has no run '{HELDOUT_RUN}-{name}'")
            rows.append((name, run))
        seeds = parse_seeds(config.heldout.seeds)
        comparisons = [
            (a, b, metric)
            for a, b in (
                ("sft", "random"),
                ("sft", "base"),
                ("base", "random"),
                ("sft+rl", "sft"),
                ("sft+rl", "random"),
            )
            for metric in ("unique_achievements", "reward")
        ]
        return build(
            store,
            rows,
            seeds=seeds,
            comparisons=comparisons,
            extra={
                "training_seeds": parse_seeds(config.eval.get("seeds", "0-9")),
                **({"probes": probes} if (probes := probe_summaries(store)) else {}),
            },
        )
    finally:
        store.close()
