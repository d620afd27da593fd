"""A third-party vlmforge plugin: exporter ``example-pc`` (prompt/completion JSONL + PNGs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vlmforge.hookspecs import hookimpl
from vlmforge.registry import Register

if TYPE_CHECKING:
    from vlmforge.components import ExporterFactory


@hookimpl
def register_exporters(register: Register[ExporterFactory]) -> None:
    register(
        "example-pc",
        "vlmforge_example_exporter.exporter:PromptCompletionExporter",
        description="prompt/completion JSONL with PNG files (example third-party exporter).",
    )
