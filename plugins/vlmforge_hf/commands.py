"""``vlmforge models``: build local models (``tiny``) for tests, CI and the offline demo, and
merge a trained LoRA adapter into its base (``merge``)."""

from __future__ import annotations

import click

from vlmforge_hf.tiny import FAMILIES


@click.group()
def models() -> None:
    """Build and inspect local models."""


@models.command()
@click.option(
    "--family",
    type=click.Choice(FAMILIES),
    default="qwen2-vl",
    show_default=True,
    help="Architecture of the tiny model.",
)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Folder.")
@click.option("--seed", type=int, default=0, show_default=True, help="Weight init seed.")
@click.option(
    "--vocab-size",
    type=click.IntRange(300, 65536),
    default=2048,
    show_default=True,
    help="Tokenizer vocabulary size (at most; fewer if the corpus has fewer merges).",
)
@click.option(
    "--tokenizer-corpus",
    "corpus",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True),
    help="Also train the tokenizer on this text or JSONL file (e.g. an export): shorter "
    "sequences, faster CPU training. Repeatable.",
)
@click.option(
    "--overwrite", is_flag=True, help="Replace an existing model folder at --out (else refused)."
)
def tiny(
    family: str,
    out: str,
    seed: int,
    vocab_size: int,
    corpus: tuple[str, ...],
    overwrite: bool,
) -> None:
    """Build a tiny random-weight VLM entirely offline (tokenizer, processor, weights).

    Loads with ``from_pretrained(OUT)`` like a real checkpoint and trains on CPU in seconds. A
    non-empty OUT is refused unless --overwrite.
    """
    from pathlib import Path

    from vlmforge_hf.model_out import check_model_out

    check_model_out(Path(out), overwrite)  # before the heavy imports
    import importlib.util

    from vlmforge.cli.output import console
    from vlmforge.errors import ComponentUnavailableError

    missing = [
        m for m in ("torch", "transformers", "tokenizers") if not importlib.util.find_spec(m)
    ]
    if missing:
        raise ComponentUnavailableError(
            f"`vlmforge models tiny` needs {', '.join(missing)}. Install it with: "
            "pip install 'vlmforge[train]'"
        )
    from vlmforge_hf.tiny import build_tiny

    summary = build_tiny(
        family, out, seed=seed, vocab_size=vocab_size, corpus=list(corpus), overwrite=overwrite
    )
    console().print(
        f"built tiny {summary['family']} model ({summary['parameters']:,} parameters, "
        f"vocab {summary['vocab_size']}) in {summary['path']}"
    )


@models.command()
@click.argument("adapter", metavar="ADAPTER")
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False), help="Folder to write."
)
@click.option(
    "--model",
    default=None,
    metavar="BASE",
    help="Base model folder (default: the base named in the adapter's adapter_config.json).",
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "bfloat16", "float16"]),
    default="float32",
    show_default=True,
    help="Weights' dtype in the merged checkpoint.",
)
@click.option(
    "--overwrite", is_flag=True, help="Replace an existing model folder at --out (else refused)."
)
def merge(adapter: str, out: str, model: str | None, dtype: str, overwrite: bool) -> None:
    """Merge a LoRA adapter into its base model: a standalone checkpoint for from_pretrained and
    vLLM.

    ADAPTER is the adapter folder written by `vlmforge train --trainer lora-sft` (or that run's
    output_dir). OUT then loads with AutoModelForImageTextToText.from_pretrained(OUT), `--policy
    hf` (model = OUT) and `vllm serve OUT`. A non-empty OUT is refused unless --overwrite.
    """
    import importlib.util

    from vlmforge.cli.output import console
    from vlmforge.errors import ComponentUnavailableError

    missing = [m for m in ("torch", "transformers", "peft") if not importlib.util.find_spec(m)]
    if missing:
        raise ComponentUnavailableError(
            f"`vlmforge models merge` needs {', '.join(missing)}. Install it with: "
            "pip install 'vlmforge[train]'"
        )
    from vlmforge_hf.merge import merge_adapter

    summary = merge_adapter(adapter, out, model=model, dtype=dtype, overwrite=overwrite)
    console().print(
        f"merged {summary['adapter']} into {summary['base']}: {summary['parameters']:,} "
        f"parameters ({summary['dtype']}) in {summary['out']}",
        markup=False,
        soft_wrap=True,
    )
