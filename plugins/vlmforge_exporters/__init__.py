"""Bundled plugin: dataset exporters (``--exporter NAME``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vlmforge.hookspecs import hookimpl
from vlmforge.registry import Register

if TYPE_CHECKING:
    from vlmforge.components import ExporterFactory


@hookimpl
def register_exporters(register: Register[ExporterFactory]) -> None:
    register(
        "openai-sft",
        "vlmforge_exporters.openai_sft:OpenAISFTExporter",
        description="OpenAI chat fine-tuning JSONL: messages + tools + metadata, data-URL images.",
    )
    register(
        "trl",
        "vlmforge_exporters.trl:TRLExporter",
        description="TRL SFTTrainer (VLM): prompt/completion or messages rows + images (PNG files "
        "or embedded in Parquet).",
    )
    register(
        "llamafactory",
        "vlmforge_exporters.llamafactory:LlamaFactoryExporter",
        description="LLaMA-Factory sharegpt JSONL + PNG files + dataset_info.json.",
    )
