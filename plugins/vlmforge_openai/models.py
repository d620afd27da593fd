"""What differs between models, as data: request-parameter quirks and vision support.

Both tables are matched against the model name lower-cased, with ``re.search`` (so a provider
prefix such as ``openai/`` or ``Qwen/`` does not matter); the first matching row wins. To support
a new model, add a row here (and a case to tests/policies/test_models.py); users can override
any of it from config (``quirks``, ``use_vision``) without waiting for a release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

TokenParam = Literal["max_tokens", "max_completion_tokens"]


@dataclass(frozen=True)
class ModelQuirks:
    """How to talk to one family of models."""

    # the request field that caps the reply length
    max_tokens_param: TokenParam = "max_tokens"
    # accepts temperature / top_p other than their defaults (gpt-5 and o-series do not)
    sampling: bool = True
    # spends completion tokens on hidden reasoning before answering (needs a bigger budget)
    reasoning: bool = False
    # the budget sent when the config leaves max_tokens unset
    default_max_tokens: int = 1024
    # accepts the parallel_tool_calls request field
    parallel_tool_calls: bool = True


_REASONING_OPENAI = ModelQuirks(
    max_tokens_param="max_completion_tokens",
    sampling=False,
    reasoning=True,
    default_max_tokens=8192,
)

# (pattern, quirks): first match wins; no match -> ModelQuirks() (plain chat model).
QUIRKS: tuple[tuple[str, ModelQuirks], ...] = (
    (r"(^|/)gpt-5[^/]*-chat", ModelQuirks(max_tokens_param="max_completion_tokens")),
    (r"(^|/)gpt-5", _REASONING_OPENAI),
    (
        r"(^|/)o1(-mini|-preview)?(-\d{4}-\d\d-\d\d)?$",
        replace(_REASONING_OPENAI, parallel_tool_calls=False),
    ),
    (r"(^|/)o3-mini", replace(_REASONING_OPENAI, parallel_tool_calls=False)),
    (r"(^|/)o[1-9](-|$)", _REASONING_OPENAI),
    # open reasoning models: they think in the visible budget but accept the usual parameters
    (
        r"thinking|(^|/)qwq|deepseek-r1|r1-distill",
        ModelQuirks(reasoning=True, default_max_tokens=8192),
    ),
)

# Patterns of models that take images; TEXT_ONLY exceptions are checked first.
TEXT_ONLY: tuple[str, ...] = (
    r"(^|/)o1-(mini|preview)",
    r"(^|/)o3-mini",
    r"gpt-3\.5",
    r"(^|/)gpt-4(-\d{4})?(-32k)?$",
    r"gpt-oss",
    r"gemma-?3[-:_]?(1b|270m)",
)
VISION: tuple[str, ...] = (
    r"gpt-4o",
    r"gpt-4\.1",
    r"gpt-4\.5",
    r"gpt-4-turbo",
    r"gpt-4-vision",
    r"gpt-5",
    r"(^|/)o[134](-|$)",
    r"qwen-?vl",
    r"qwen2-?vl",
    r"qwen2\.5-?vl",
    r"qwen2\.5-?omni",
    r"qwen3-?vl",
    r"qwen3-?omni",
    r"qvq",
    r"llava",
    r"internvl",
    r"gemma-?3",
    r"claude-3",
    r"claude-(opus|sonnet|haiku)-4",
    r"gemini",
    r"pixtral",
    r"mistral-small-3\.[12]",
    r"llama-?4",
    r"llama-?3\.2-?(\d+b-?)?vision",
    r"minicpm-?v",
    r"phi-?3\.5-?vision",
    r"phi-?4-?multimodal",
    r"idefics",
    r"smolvlm",
    r"molmo",
    r"moondream",
    r"paligemma",
    r"glm-?4(\.\d+)?v",
    r"kimi-vl",
    r"deepseek-vl",
    r"vision",
    r"[-_]vl([-_:.]|\d|$)",
)


def _norm(model: str) -> str:
    return model.strip().lower()


def quirks_for(model: str, overrides: dict[str, Any] | None = None) -> ModelQuirks:
    """The quirks of ``model`` from :data:`QUIRKS`, with ``overrides`` (set fields) applied."""
    name = _norm(model)
    found = next((q for pattern, q in QUIRKS if re.search(pattern, name)), ModelQuirks())
    known = {f.name for f in fields(ModelQuirks)}
    updates = {k: v for k, v in (overrides or {}).items() if k in known and v is not None}
    return replace(found, **updates)


def vision_from_name(model: str) -> bool:
    """Whether the model name says it takes images (unknown names: False)."""
    name = _norm(model)
    if any(re.search(p, name) for p in TEXT_ONLY):
        return False
    return any(re.search(p, name) for p in VISION)


def resolve_vision(model: str, override: bool | None) -> tuple[bool, str]:
    """(use_vision, why): the config's ``use_vision`` wins over the name table."""
    if override is not None:
        return override, "config"
    found = vision_from_name(model)
    return found, "model-name table" if found else "model-name table (not a known vision model)"
