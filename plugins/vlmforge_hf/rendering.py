"""Rendering prompts and targets with the model's own chat template.

Training and the ``hf`` policy render prompts through the same function, so the model is asked
at evaluation time exactly what it was trained on. The target (completion) is the template's
rendering of the assistant turn — for Qwen ``<tool_call>\\n{"name": ..., "arguments": {...}}
\\n</tool_call><|im_end|>`` — obtained as the full conversation minus the prompt.
"""

from __future__ import annotations

from typing import Any

from vlmforge.errors import VlmforgeError


def render_prompt(processor: Any, messages: list[dict[str, Any]], tools: Any = None) -> str:
    """The prompt text up to and including the assistant cue (``<|im_start|>assistant\\n``)."""
    return processor.apply_chat_template(
        messages, tools=tools, add_generation_prompt=True, tokenize=False
    )


def render_completion(
    processor: Any,
    prompt: list[dict[str, Any]],
    target: dict[str, Any],
    tools: Any = None,
    *,
    prompt_text: str | None = None,
) -> str:
    """The assistant turn as the chat template renders it after ``prompt``."""
    prompt_text = (
        prompt_text if prompt_text is not None else render_prompt(processor, prompt, tools)
    )
    full = processor.apply_chat_template([*prompt, target], tools=tools, tokenize=False)
    if not full.startswith(prompt_text):
        raise VlmforgeError(
            "the model's chat template renders the conversation differently with and without "
            "the assistant turn, so the target cannot be separated from the prompt. Use a chat "
            "template whose generation prompt is a prefix of the assistant turn (Qwen-VL's is)."
        )
    completion = full[len(prompt_text) :]
    if not completion.strip():
        raise VlmforgeError("the chat template rendered an empty assistant turn")
    return completion
