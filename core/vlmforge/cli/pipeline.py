"""``vlmforge pipeline [CONFIG]``: the whole loop from one file (the offline demo by default)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("pipeline")
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option("--workdir", default=None, help="Write everything below this folder.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier pipeline's work directory.")
@click.option("--dry-run", is_flag=True, help="Write the stage configs and print the commands.")
def command(config: str | None, workdir: str | None, overwrite: bool, dry_run: bool) -> None:
    """Run eval -> filter -> model -> train -> eval of the trained model.

    Without CONFIG it runs the embedded offline demo (scripted Crafter teacher, SQLite, a tiny
    Qwen2-VL built locally, LoRA SFT, the trained adapter back in eval): no key, no network.
    Each stage is the ordinary command with a config written to WORKDIR/configs/.
    """
    from rich.table import Table

    from vlmforge.cli.output import console
    from vlmforge.pipeline import load_pipeline, plan, prepare_workdir, run_stage

    cfg, _ = load_pipeline(config)
    root = Path(workdir or cfg.workdir).resolve()
    prepare_workdir(root, overwrite)
    steps = plan(cfg, root)
    out = console()
    for stage in steps.stages:
        out.rule(f"[bold]{stage.stage}[/]: {' '.join(stage.command[2:])}")
        if not dry_run:
            run_stage(stage)
    table = Table(title=f"vlmforge pipeline: {root}")
    for column in ("stage", "seconds", "config", "wrote"):
        table.add_column(column, overflow="fold")
    for stage in steps.stages:
        wrote = "\n".join(f"{k}: {v}" for k, v in stage.outputs.items())
        table.add_row(
            stage.stage, "-" if dry_run else f"{stage.seconds:.1f}", str(stage.config or "-"), wrote
        )
    out.print(table)
    if not dry_run:
        out.print(f"Summaries: {root / 'summary-collect.json'}, {root / 'summary-trained.json'}")
