"""Settings of the ``openai`` policy (``[policy]`` in an eval config). Unknown keys are errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from vlmforge.config import StrictModel
from vlmforge.prompting import HistoryMode
from vlmforge_openai.models import TokenParam, quirks_for

# Request fields the policy sets itself; extra_body may not override them.
RESERVED_BODY_KEYS = frozenset({"model", "messages", "tools", "stream", "n"})


class QuirksOverride(StrictModel):
    """Overrides of the model-quirks table (``[policy.quirks]``); unset fields keep the table's."""

    max_tokens_param: TokenParam | None = Field(
        None, description="Request field for the reply budget: max_tokens or max_completion_tokens."
    )
    sampling: bool | None = Field(
        None, description="Whether the model accepts temperature/top_p (false for gpt-5, o-series)."
    )
    reasoning: bool | None = Field(
        None, description="The model reasons before answering (bigger default budget)."
    )
    default_max_tokens: int | None = Field(
        None, ge=1, description="Budget sent when max_tokens is unset."
    )
    parallel_tool_calls: bool | None = Field(
        None, description="Whether the model accepts the parallel_tool_calls field."
    )


class OpenAIPolicyConfig(StrictModel):
    """``[policy]`` settings for ``name = "openai"`` (any OpenAI-compatible server)."""

    model: str = Field("gpt-4o-mini", min_length=1, description="Model id sent to the server.")
    base_url: str | None = Field(
        None,
        description="Server URL up to /v1 (default: $OPENAI_BASE_URL when set, else "
        "https://api.openai.com/v1).",
    )
    api_key_env: str = Field(
        "OPENAI_API_KEY",
        description='Environment variable holding the API key ("" for a server without auth).',
    )
    provider: str | None = Field(
        None, description="Label recorded on each LM call (default: derived from base_url)."
    )
    temperature: float | None = Field(
        None, ge=0, le=2, description="Sampling temperature (unset: the server's default)."
    )
    top_p: float | None = Field(None, gt=0, le=1, description="Nucleus sampling (unset: default).")
    max_tokens: int | None = Field(
        None, ge=1, description="Reply budget (unset: the model's default from the quirks table)."
    )
    seed: int | None = Field(None, description="Sampling seed sent with every request.")
    tool_choice: str = Field(
        "auto", min_length=1, description='"auto", "required", "none" or the name of one tool.'
    )
    parallel_tool_calls: bool | None = Field(
        False, description="Sent where the model accepts it; unset: not sent."
    )
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = Field(
        None, description="Reasoning models: how hard to think (unset: not sent)."
    )
    timeout: float = Field(60.0, gt=0, description="Seconds per HTTP attempt.")
    http_client: Literal["direct", "aiohttp", "httpx"] = Field(
        "direct",
        description='HTTP stack: "direct" (aiohttp posting the body itself, with the official '
        "client's headers and exception types; the least CPU per call), or the official client "
        'over "aiohttp" (its openai[aiohttp] transport) or "httpx" (its default).',
    )
    max_retries: int = Field(4, ge=0, le=50, description="Retries after the first attempt.")
    retry_backoff_s: float = Field(0.5, ge=0, description="First backoff wait (doubles).")
    retry_backoff_max_s: float = Field(30.0, ge=0, description="Longest backoff wait.")
    retry_after_max_s: float = Field(
        120.0, ge=0, description="Longest Retry-After honoured; longer fails the episode."
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="Extra JSON fields merged into every request body."
    )
    use_vision: bool | None = Field(
        None, description="Send frames (unset: decided from the model name)."
    )
    image_detail: Literal["low", "high", "auto"] | None = Field(
        None, description="OpenAI image detail level (unset: not sent)."
    )
    system_prompt: str | None = Field(None, description="Replaces the environment's system prompt.")
    system_prompt_file: Path | None = Field(
        None, description="Read the system prompt from this UTF-8 file."
    )
    history: HistoryMode = Field(
        "tool_calls", description='"tool_calls" (last K calls as text), "turns" or "none".'
    )
    history_k: int = Field(3, ge=0, le=64, description="How many past decisions to show.")
    parse_text_tool_calls: bool = Field(
        True, description="Parse <tool_call> blocks / JSON objects from text replies."
    )
    quirks: QuirksOverride = Field(
        default_factory=QuirksOverride, description="Overrides of the model-quirks table."
    )

    @field_validator("extra_body")
    @classmethod
    def _no_reserved_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(RESERVED_BODY_KEYS & value.keys())
        if clash:
            raise ValueError(
                f"extra_body may not set {', '.join(clash)}: the policy sends those itself"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OpenAIPolicyConfig:
        if self.system_prompt is not None and self.system_prompt_file is not None:
            raise ValueError("set system_prompt or system_prompt_file, not both")
        quirks = quirks_for(self.model, self.quirks.model_dump())
        if not quirks.sampling:
            for key in ("temperature", "top_p"):
                value = getattr(self, key)
                if value is not None and value != 1:
                    raise ValueError(
                        f"model '{self.model}' does not accept a non-default {key} "
                        f"(got {value}); remove {key}, or set quirks.sampling = true if this "
                        f"server does accept it"
                    )
        return self
