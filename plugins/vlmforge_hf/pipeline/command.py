"""``vlmforge pipeline [CONFIG]``: the whole loop from one file (the offline demo by default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.command("pipeline")
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option("--workdir", default=None, help="Write everything below this folder.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier pipeline's work directory.")
@click.option(
    "--dry-run", is_flag=True, help="Print each stage's command and config; write nothing."
)
def command(config: str | None, workdir: str | None, overwrite: bool, dry_run: bool) -> None:
    """Run collect -> filter -> model -> train -> a held-out comparison.

    Without CONFIG it runs the embedded offline demo (the scripted Crafter teacher plays, a tiny
    Qwen2-VL is built locally and trained on its traces, then random, the teacher, the untrained
    model and the trained model play the same held-out seeds): no key, no network. Each stage
    is the ordinary command with a config written to WORKDIR/configs/; the comparison is
    written to WORKDIR/report.json.
    """
    from vlmforge.cli.output import console
    from vlmforge_hf.pipeline.checks import check_stages
    from vlmforge_hf.pipeline.stages import (
        check_workdir,
        load_pipeline,
        plan,
        prepare_workdir,
        run_stage,
        toml_text,
        write_configs,
    )

    cfg, source = load_pipeline(config)
    check_stages(cfg, source, config or "embedded pipeline_demo.toml")  # before anything runs
    root = Path(workdir or cfg.workdir).resolve()
    check_workdir(root, overwrite)
    steps = plan(cfg, root)
    out = console()
    if dry_run:
        for stage in steps.stages:
            out.rule(f"[bold]{stage.stage}[/]: {' '.join(stage.command[2:])}")
            if stage.data is not None:
                out.print(f"# {stage.config}", markup=False)
                out.print(toml_text(stage.data), markup=False, highlight=False)
        out.print(f"dry run: nothing was written ({root} is unchanged).", markup=False)
        return
    prepare_workdir(root, overwrite, steps)
    write_configs(steps)
    for stage in steps.stages:
        out.rule(f"[bold]{stage.stage}[/]: {' '.join(stage.command[2:])}")
        run_stage(stage)
    report = _report(cfg, root, steps) if steps.stage("heldout") else None
    _print_stages(out, steps)
    if report is not None:
        _print_report(out, report, root)


def _report(cfg: Any, root: Path, steps: Any) -> dict[str, Any]:
    from vlmforge_hf.pipeline.stages import heldout_report

    report = heldout_report(cfg, root)
    report["stage_seconds"] = {s.stage: round(s.seconds, 1) for s in steps.stages}
    (root / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _print_stages(out: Any, steps: Any) -> None:
    from rich.table import Table

    table = Table(title=f"vlmforge pipeline: {steps.workdir}")
    for column in ("stage", "seconds", "config", "wrote"):
        table.add_column(column, overflow="fold")
    for stage in steps.stages:
        wrote = "\n".join(f"{k}: {v}" for k, v in stage.outputs.items())
        table.add_row(stage.stage, f"{stage.seconds:.1f}", str(stage.config or "-"), wrote)
    total = sum(s.seconds for s in steps.stages)
    table.add_row("total", f"{total:.1f}", "", "")
    out.print(table)


def _print_report(out: Any, report: dict[str, Any], root: Path) -> None:
    from vlmforge_hf.pipeline.report_display import report_tables

    for table in report_tables(report):
        out.print(table)
    out.print(f"report: {root / 'report.json'}", markup=False, soft_wrap=True)
    sft_eval = root / "configs" / "eval_sft.toml"
    if sft_eval.exists():
        out.print(
            "check the trained model on other seeds: vlmforge eval --config "
            f"{sft_eval} --seeds 500-529",
            markup=False,
            soft_wrap=True,
        )
