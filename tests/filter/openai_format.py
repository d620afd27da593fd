"""A validator of OpenAI's chat fine-tuning format rules (vision + tools), for the tests.

Rules (OpenAI fine-tuning guide, see /work/shared/notes/formats-and-pitfalls.md): one JSON object
per line with ``messages`` (and optional ``tools``, ``parallel_tool_calls``, ``metadata``);
roles system/developer/user/assistant/tool; images only in user messages, as ``image_url`` parts
with http(s) or ``data:image/{png,jpeg,webp};base64`` URLs, at most 10 per example and 10 MB each,
RGB/RGBA; assistant messages carry content or ``tool_calls`` (``arguments`` a JSON string of an
object, names among ``tools``); tool messages answer an earlier tool call id; the example ends
with an assistant message; ``weight`` is 0 or 1. A file has at least 10 examples and at most
50,000 examples with images.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from PIL import Image

MAX_IMAGES = 10
MAX_IMAGE_BYTES = 10 * 1024 * 1024
TOP_KEYS = {"messages", "tools", "parallel_tool_calls", "metadata", "functions"}
# The per-line keys OpenAI's chat fine-tuning format documents (``metadata`` is not among them).
DOCUMENTED_TOP_KEYS = TOP_KEYS - {"metadata"}
ROLES = {"system", "developer", "user", "assistant", "tool"}
MESSAGE_KEYS = {
    "system": {"role", "content", "name"},
    "developer": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "tool_calls", "weight", "refusal"},
    "tool": {"role", "content", "tool_call_id"},
}


def _text_parts_only(content: Any, where: str) -> list[str]:
    if content is None or isinstance(content, str):
        return []
    if not isinstance(content, list) or not content:
        return [f"{where}: content must be a string or a non-empty list of parts"]
    errors = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") != "text":
            errors.append(f"{where}: only text parts are allowed here, got {part!r:.80}")
        elif not isinstance(part.get("text"), str):
            errors.append(f"{where}: text part without a string 'text'")
    return errors


def _image_errors(part: dict[str, Any], where: str) -> list[str]:
    image_url = part.get("image_url")
    if not isinstance(image_url, dict) or not isinstance(image_url.get("url"), str):
        return [f"{where}: image_url part needs image_url.url"]
    if set(image_url) - {"url", "detail"}:
        return [f"{where}: unknown image_url keys {sorted(set(image_url) - {'url', 'detail'})}"]
    if "detail" in image_url and image_url["detail"] not in ("low", "high", "auto"):
        return [f"{where}: detail must be low, high or auto"]
    url = image_url["url"]
    if url.startswith(("http://", "https://")):
        return []
    header, sep, payload = url.partition(",")
    if not sep or header not in {
        "data:image/png;base64",
        "data:image/jpeg;base64",
        "data:image/webp;base64",
    }:
        return [f"{where}: image URL must be data:image/png|jpeg|webp;base64,..."]
    try:
        data = base64.b64decode(payload, validate=True)
    except ValueError:
        return [f"{where}: image data is not valid base64"]
    if len(data) > MAX_IMAGE_BYTES:
        return [f"{where}: image larger than 10 MB"]
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except OSError as exc:
        return [f"{where}: image does not decode: {exc}"]
    expected = header.split("/")[1].split(";")[0].upper().replace("JPG", "JPEG")
    if img.format != expected:
        return [f"{where}: image is {img.format}, URL says {expected}"]
    if img.mode not in ("RGB", "RGBA"):
        return [f"{where}: image mode {img.mode}, must be RGB or RGBA"]
    return []


def validate_example(row: Any, *, documented_only: bool = False) -> list[str]:
    """Every rule ``row`` breaks (empty when it is valid); ``documented_only``: top-level keys
    must be ones OpenAI documents (no ``metadata``)."""
    if not isinstance(row, dict):
        return ["a line must be a JSON object"]
    allowed = DOCUMENTED_TOP_KEYS if documented_only else TOP_KEYS
    errors = [f"unknown top-level key '{k}'" for k in row if k not in allowed]
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*errors, "messages must be a non-empty list"]
    tool_names: set[str] = set()
    if "tools" in row:
        tools = row["tools"]
        if not isinstance(tools, list):
            errors.append("tools must be a list")
            tools = []
        for t in tools:
            fn = t.get("function") if isinstance(t, dict) else None
            if not (isinstance(t, dict) and t.get("type") == "function" and isinstance(fn, dict)):
                errors.append("each tool must be {type: function, function: {...}}")
                continue
            if not isinstance(fn.get("name"), str):
                errors.append("tool function needs a name")
            else:
                tool_names.add(fn["name"])
            if "parameters" in fn and not isinstance(fn["parameters"], dict):
                errors.append(f"tool {fn.get('name')}: parameters must be a JSON schema object")
    if "metadata" in row and not isinstance(row["metadata"], dict):
        errors.append("metadata must be an object")
    images, call_ids, assistants = 0, set(), 0
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict) or msg.get("role") not in ROLES:
            errors.append(f"{where}: role must be one of {sorted(ROLES)}")
            continue
        role = msg["role"]
        extra = set(msg) - MESSAGE_KEYS[role]
        if extra:
            errors.append(f"{where}: keys not allowed for {role}: {sorted(extra)}")
        content = msg.get("content")
        if role == "user":
            if isinstance(content, str):
                pass
            elif isinstance(content, list) and content:
                for j, part in enumerate(content):
                    pw = f"{where}.content[{j}]"
                    kind = part.get("type") if isinstance(part, dict) else None
                    if kind == "text":
                        if not isinstance(part.get("text"), str):
                            errors.append(f"{pw}: text part needs a string")
                    elif kind == "image_url":
                        images += 1
                        errors += _image_errors(part, pw)
                    else:
                        errors.append(f"{pw}: unknown part type {kind!r}")
            else:
                errors.append(f"{where}: user content must be a string or a list of parts")
        elif role in ("system", "developer"):
            if content is None:
                errors.append(f"{where}: {role} content is required")
            errors += _text_parts_only(content, where)
        elif role == "assistant":
            assistants += 1
            errors += _text_parts_only(content, where)
            calls = msg.get("tool_calls")
            has_text = isinstance(content, str | list) and bool(content)
            if not has_text and not calls:
                errors.append(f"{where}: assistant needs content or tool_calls")
            if "weight" in msg and msg["weight"] not in (0, 1):
                errors.append(f"{where}: weight must be 0 or 1")
            for k, call in enumerate(calls or []):
                cw = f"{where}.tool_calls[{k}]"
                fn = call.get("function") if isinstance(call, dict) else None
                if not isinstance(call, dict) or call.get("type") != "function" or not fn:
                    errors.append(f"{cw}: must be {{id, type: function, function}}")
                    continue
                if not isinstance(call.get("id"), str) or not call["id"]:
                    errors.append(f"{cw}: needs a string id")
                call_ids.add(call.get("id"))
                if tool_names and fn.get("name") not in tool_names:
                    errors.append(f"{cw}: function {fn.get('name')!r} is not in tools")
                args = fn.get("arguments")
                if not isinstance(args, str):
                    errors.append(
                        f"{cw}: arguments must be a JSON string, got {type(args).__name__}"
                    )
                else:
                    try:
                        parsed = json.loads(args)
                    except ValueError:
                        errors.append(f"{cw}: arguments is not valid JSON")
                    else:
                        if not isinstance(parsed, dict):
                            errors.append(f"{cw}: arguments must encode an object")
        elif role == "tool":
            if msg.get("tool_call_id") not in call_ids:
                errors.append(f"{where}: tool_call_id does not answer an earlier tool call")
            if not isinstance(content, str | list):
                errors.append(f"{where}: tool content is required")
    if assistants == 0:
        errors.append("no assistant message to train on")
    if messages[-1].get("role") != "assistant":
        errors.append("the last message must be the assistant's")
    if images > MAX_IMAGES:
        errors.append(f"{images} images; at most {MAX_IMAGES} per example")
    return errors


def validate_file(path: Any, *, documented_only: bool = False) -> list[str]:
    """Every rule broken by the JSONL file at ``path``, with line numbers."""
    errors, examples, with_images = [], 0, 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                row = json.loads(line)
            except ValueError:
                errors.append(f"line {n}: not JSON")
                continue
            examples += 1
            errors += [
                f"line {n}: {e}" for e in validate_example(row, documented_only=documented_only)
            ]
            if any(
                isinstance(m.get("content"), list)
                and any(p.get("type") == "image_url" for p in m["content"])
                for m in row.get("messages", [])
            ):
                with_images += 1
    if examples < 10:
        errors.append(f"{examples} examples; OpenAI needs at least 10")
    if with_images > 50_000:
        errors.append(f"{with_images} examples with images; at most 50,000")
    return errors
