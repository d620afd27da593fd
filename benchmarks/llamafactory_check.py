"""Load a ``vlmforge filter --exporter llamafactory`` export with LLaMA-Factory's own data loader.

Runs in a LLaMA-Factory venv, not vlmforge's (LLaMA-Factory 0.9.5 pins trl <= 0.24, transformers
<= 5.6, datasets <= 4.0 and needs torchvision and torchaudio); ``llamafactory_check.sh`` builds one
and runs this. It imports nothing from vlmforge.

    python benchmarks/llamafactory_check.py --model TINY_OR_REAL_MODEL --export EXPORT_DIR \
        [--dataset vlmforge_train] [--template qwen2_vl] [--json out.json]

What it checks, through LLaMA-Factory's ``get_dataset`` (the loader its ``llamafactory-cli train``
uses: ``dataset_info.json``, the sharegpt converter, the template, the Qwen2-VL multimodal plugin):
every row of the split loads and is tokenized; every image loads and expands to image tokens; and
the text the assistant said before each tool call is among the label tokens (trained on). Prints a
table and writes the numbers as JSON; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TOOL_CALL = re.compile(r"<tool_call>.*?</tool_call>", re.DOTALL)


def said_texts(export: Path, file_name: str) -> list[list[str]]:
    """Per row of the export file: the text each function_call turn says besides its call."""
    rows = []
    for line in (export / file_name).read_text(encoding="utf-8").splitlines():
        turns = json.loads(line)["conversations"]
        calls = [t["value"] for t in turns if t["from"] == "function_call"]
        rows.append([s for s in (TOOL_CALL.sub("", v).strip() for v in calls) if s])
    return rows


def load(model: str, export: Path, dataset: str, template: str) -> tuple[Any, Any]:
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    with tempfile.TemporaryDirectory() as out:
        args = {
            "stage": "sft",
            "do_train": True,
            "model_name_or_path": model,
            "trust_remote_code": True,
            "dataset": dataset,
            "dataset_dir": str(export),
            "template": template,
            "cutoff_len": 8192,
            "overwrite_cache": True,
            "finetuning_type": "full",
            "output_dir": out,
            "report_to": "none",
        }
        model_args, data_args, training_args, _, _ = get_train_args(args)
        tokenizer_module = load_tokenizer(model_args)
        tpl = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
        module = get_dataset(tpl, model_args, data_args, training_args, "sft", **tokenizer_module)
    return module["train_dataset"], tokenizer_module


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="model folder (its processor and tokenizer)")
    ap.add_argument("--export", required=True, type=Path, help="the llamafactory export folder")
    ap.add_argument("--dataset", default="vlmforge_train", help="name in dataset_info.json")
    ap.add_argument("--template", default="qwen2_vl", help="LLaMA-Factory chat template")
    ap.add_argument("--json", type=Path, help="write the numbers here")
    args = ap.parse_args(argv)

    import llamafactory

    info = json.loads((args.export / "dataset_info.json").read_text(encoding="utf-8"))
    file_name = info[args.dataset]["file_name"]
    expected = said_texts(args.export, file_name)
    started = time.perf_counter()
    ds, tokenizer_module = load(args.model, args.export, args.dataset, args.template)
    seconds = time.perf_counter() - started
    tokenizer = tokenizer_module["tokenizer"]
    image_token = tokenizer.convert_tokens_to_ids("<|image_pad|>")

    kept = missing = images = image_tokens = 0
    # get_dataset keeps the rows' order (no shuffle before training)
    for row, said in zip(ds, expected, strict=True):
        labels = tokenizer.decode([t for t in row["labels"] if t != -100])
        for text in said:
            if text in labels:
                kept += 1
            else:
                missing += 1
        images += len(row["images"] or [])
        image_tokens += sum(1 for t in row["input_ids"] if t == image_token)
    report = {
        "llamafactory": llamafactory.__version__,
        "template": args.template,
        "dataset": args.dataset,
        "rows": ds.num_rows,
        "rows_in_file": len(expected),
        "images": images,
        "image_tokens": image_tokens,
        "assistant_texts": kept + missing,
        "assistant_texts_kept": kept,
        "load_seconds": round(seconds, 2),
    }
    print("| check | value |\n| --- | --- |")
    for key, value in report.items():
        print(f"| {key} | {value} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    failed = []
    if report["rows"] != report["rows_in_file"]:
        failed.append("LLaMA-Factory dropped rows")
    if missing:
        failed.append(f"{missing} assistant texts are not in the labels")
    if images and not image_tokens:
        failed.append("images did not expand to image tokens")
    for reason in failed:
        print(f"FAILED: {reason}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
