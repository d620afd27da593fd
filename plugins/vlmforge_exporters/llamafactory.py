"""``llamafactory``: LLaMA-Factory's sharegpt format, PNG files and ``dataset_info.json``.

Each line of ``{split}.jsonl``: ``{"conversations": [{"from": "human", "value": "<image>..."},
{"from": "function_call", "value": "{\\"name\\": ..., \\"arguments\\": {...}}"}], "system": "...",
"tools": "<json>", "images": ["images/<sha256>.png"]}``. The number of ``<image>`` tokens equals
``len(images)``. When the assistant also said something before its tool calls, the
``function_call`` value keeps it: ``"<text>\\n<tool_call>\\n<json>\\n</tool_call>"``, which
LLaMA-Factory (0.9.5: ``FunctionFormatter`` with its default ``tool_call_words``) renders as the
text followed by the template's tool-call block. Tool results are left out (LLaMA-Factory wants
human/observation turns at odd positions; the next observation already follows as a human turn).
``dataset_info.json`` registers ``vlmforge_train`` and ``vlmforge_val`` with the sharegpt column
mapping and tags.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from vlmforge.config import StrictModel
from vlmforge.dataset.rows import Example
from vlmforge.prompting import map_parts
from vlmforge.trace import ImagePart, Message, TextPart
from vlmforge_exporters.files import JsonLinesImageExporter
from vlmforge_exporters.trl import tool_call_json

IMAGE_TOKEN = "<image>"
TOOL_CALL_WORDS = ("<tool_call>", "</tool_call>")  # LLaMA-Factory's default tool_call_words


class LlamaFactoryConfig(StrictModel):
    dataset_prefix: str = Field(
        "vlmforge", min_length=1, description="Datasets are registered as <prefix>_train/_val."
    )
    image_dir: str = Field("images", min_length=1, description="Folder for the PNG files.")
    metadata: bool = Field(False, description="Also write each row's metadata object.")


def function_call_value(text: str, calls: list[dict[str, Any]]) -> str:
    """A ``function_call`` turn: the calls as JSON (a list for parallel calls), after the
    assistant's text in a ``<tool_call>`` block when there is text."""
    payload = json.dumps(calls[0] if len(calls) == 1 else calls)
    if not text.strip():
        return payload
    opening, closing = TOOL_CALL_WORDS
    return f"{text}\n{opening}\n{payload}\n{closing}"


class LlamaFactoryExporter(JsonLinesImageExporter):
    config_model = LlamaFactoryConfig
    c: LlamaFactoryConfig

    def _human(self, msg: Message, example: Example, images: list[str]) -> str:
        if not isinstance(msg.content, list):
            return (msg.content or "").replace(IMAGE_TOKEN, "<img>")

        def text(part: TextPart) -> str:
            return part.text.replace(IMAGE_TOKEN, "<img>")

        def image(part: ImagePart) -> str:
            self.image_path(example, part, images)
            return IMAGE_TOKEN

        return "\n".join(map_parts(msg.content, text, image))

    def row(self, example: Example) -> dict[str, Any]:
        images: list[str] = []
        system = ""
        conversations: list[dict[str, str]] = []
        for msg in example.messages:
            if msg.role == "system":
                system = msg.text()
            elif msg.role == "user":
                conversations.append({"from": "human", "value": self._human(msg, example, images)})
            elif msg.role == "assistant":
                calls = tool_call_json(msg)
                if calls:
                    value = function_call_value(msg.text(), calls)
                    conversations.append({"from": "function_call", "value": value})
                else:
                    conversations.append({"from": "gpt", "value": msg.text()})
        row: dict[str, Any] = {"conversations": conversations, "system": system}
        if example.tools:
            row["tools"] = json.dumps([t.get("function", t) for t in example.tools])
        row["images"] = images
        if self.c.metadata:
            row["metadata"] = example.metadata
        return row

    def close(self) -> dict[str, Any]:
        summary = super().close()
        assert self._out is not None  # set by open(), which vlmforge filter calls first
        info_path = self._root / "dataset_info.json"
        info = json.loads(info_path.read_text()) if info_path.exists() else {}
        info[f"{self.c.dataset_prefix}_{self._split}"] = {
            "file_name": self._out.path.name,
            "formatting": "sharegpt",
            "columns": {
                "messages": "conversations",
                "system": "system",
                "tools": "tools",
                "images": "images",
            },
            "tags": {
                "role_tag": "from",
                "content_tag": "value",
                "user_tag": "human",
                "assistant_tag": "gpt",
                "function_tag": "function_call",
                "observation_tag": "observation",
                "system_tag": "system",
            },
        }
        info_path.write_text(json.dumps(info, indent=2) + "\n")
        return {**summary, "dataset_info": info_path.name}
