"""``vlmforge train``: train a model on an exported dataset with a registered trainer."""

from __future__ import annotations

from typing import Any

import click

from vlmforge.cli.options import (
    RegisteredNamesOption,
    load_registry,
    parse_set_options,
    plugins_dir_option,
    set_options_option,
)

DEFAULT_TRAINER = "lora-sft"


@click.command("train")
@click.option(
    "--trainer",
    cls=RegisteredNamesOption,
    kind="trainer",
    default=None,
    metavar="NAME",
    help=f"Trainer: {{names}} (default: the config's `trainer`, else {DEFAULT_TRAINER}).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Training config (TOML); flags below override its keys.",
)
@click.option("--model", default=None, help="Base model: a local folder or a model id.")
@click.option("--dataset", default=None, help="Training JSONL (openai-sft or trl export).")
@click.option("--eval-dataset", default=None, help="Validation JSONL.")
@click.option("--output-dir", default=None, help="Where the adapter and reports are written.")
@click.option("--max-steps", type=int, default=None, help="Stop after this many optimizer steps.")
@click.option("--epochs", type=float, default=None, help="Passes over the training set.")
@click.option(
    "--no-progress",
    is_flag=True,
    default=False,
    help="No progress bar (sets the trainer's progress = false).",
)
@set_options_option("learning_rate=1e-4 -o lora.r=16")
@plugins_dir_option
def command(
    trainer: str | None,
    config_path: str | None,
    model: str | None,
    dataset: str | None,
    eval_dataset: str | None,
    output_dir: str | None,
    max_steps: int | None,
    epochs: float | None,
    no_progress: bool,
    settings: tuple[str, ...],
    plugins_dirs: tuple[str, ...],
) -> None:
    """Train a model (LoRA SFT by default) on an exported SFT dataset.

    \b
    vlmforge train --config configs/train_lora_tiny.toml
    vlmforge train --trainer sft --model runs/tiny --dataset exports/train.jsonl \\
        --output-dir runs/sft
    """
    from vlmforge.cli.output import console
    from vlmforge.components_build import lookup
    from vlmforge.config import TomlSource, load_command_config, load_toml
    from vlmforge.errors import ConfigError

    overrides: dict[str, Any] = {
        "model": model,
        "dataset": dataset,
        "eval_dataset": eval_dataset,
        "output_dir": output_dir,
        "max_steps": max_steps,
        "epochs": epochs,
        "progress": False if no_progress else None,
    }
    source: TomlSource | None = load_toml(config_path) if config_path else None
    file_trainer = source.data.get("trainer") if source else None
    if file_trainer is not None and not isinstance(file_trainer, str):
        raise ConfigError(f"{config_path}: trainer: expected a trainer name, got {file_trainer!r}")
    name = trainer or file_trainer or DEFAULT_TRAINER
    registry = load_registry(plugins_dirs)
    from_file = source if trainer is None else None  # a name from the file: its line
    spec = lookup(registry, "trainer", name, toml=from_file, key="trainer")
    factory = spec.load()
    model_cls = getattr(factory, "config_model", None)
    if model_cls is None:
        raise ConfigError(f"trainer '{name}' (plugin {spec.plugin}) declares no config model.")

    def without_trainer(data: dict[str, Any]) -> dict[str, Any]:
        data.pop("trainer", None)  # the command's key; the rest are the trainer's settings
        return data

    config = load_command_config(
        model_cls,
        source,
        overrides,
        prepare=without_trainer,
        where=f"trainer '{name}' flags",
        settings=parse_set_options(settings),
    ).config
    summary = factory(config).train()
    out = console()
    out.print(f"[bold green]trained[/] with {name}: {summary.get('steps')} steps", markup=True)
    for key, value in summary.items():
        out.print(f"  {key}: {value}")
