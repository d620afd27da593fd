"""The model tables: vision detection by name and request quirks."""

from __future__ import annotations

import pytest

from vlmforge_openai.models import ModelQuirks, quirks_for, resolve_vision, vision_from_name

VISION_MODELS = [
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4o-2024-08-06",
    "openai/gpt-4o",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-4-turbo",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "gpt-5.1",
    "o1",
    "o3",
    "o4-mini",
    "Qwen/Qwen2-VL-7B-Instruct",
    "Qwen/Qwen2.5-VL-7B-Instruct",
    "Qwen/Qwen2.5-VL-72B-Instruct-AWQ",
    "qwen2.5vl:7b",
    "Qwen/Qwen3-VL-8B-Instruct",
    "Qwen/Qwen3-VL-30B-A3B-Thinking",
    "qwen3-vl:8b",
    "Qwen/Qwen-VL-Chat",
    "Qwen/QVQ-72B-Preview",
    "llava-hf/llava-1.5-7b-hf",
    "llava:13b",
    "OpenGVLab/InternVL3-8B",
    "google/gemma-3-4b-it",
    "gemma3:12b",
    "claude-3-5-sonnet-20241022",
    "claude-3-haiku-20240307",
    "claude-sonnet-4-20250514",
    "gemini-2.0-flash",
    "gemini-2.5-pro",
    "mistralai/Pixtral-12B-2409",
    "meta-llama/Llama-3.2-11B-Vision-Instruct",
    "llama3.2-vision",
    "meta-llama/Llama-4-Scout-17B-16E-Instruct",
    "openbmb/MiniCPM-V-2_6",
    "HuggingFaceTB/SmolVLM-Instruct",
    "moonshotai/Kimi-VL-A3B-Instruct",
    "deepseek-ai/deepseek-vl2-small",
    "THUDM/glm-4v-9b",
]
TEXT_MODELS = [
    "gpt-3.5-turbo",
    "gpt-4",
    "gpt-4-0613",
    "o1-mini",
    "o3-mini",
    "gpt-oss-120b",
    "Qwen/Qwen2.5-7B-Instruct",
    "Qwen/Qwen3-8B",
    "qwen2.5:7b",
    "meta-llama/Llama-3.1-8B-Instruct",
    "llama3.2:3b",
    "google/gemma-3-1b-it",
    "gemma3:1b",
    "mistral-7b-instruct",
    "deepseek-r1",
    "my-finetune",
]


@pytest.mark.parametrize("model", VISION_MODELS)
def test_vision_models_are_detected(model: str) -> None:
    assert vision_from_name(model), model


@pytest.mark.parametrize("model", TEXT_MODELS)
def test_text_models_are_not(model: str) -> None:
    assert not vision_from_name(model), model


def test_config_always_wins() -> None:
    assert resolve_vision("gpt-4o", False) == (False, "config")
    assert resolve_vision("my-finetune", True) == (True, "config")
    assert resolve_vision("gpt-4o", None)[0] is True
    assert resolve_vision("my-finetune", None)[0] is False


@pytest.mark.parametrize("model", ["gpt-5", "gpt-5-mini", "openai/gpt-5.1", "o3", "o4-mini", "o1"])
def test_openai_reasoning_models_use_max_completion_tokens_and_no_sampling(model: str) -> None:
    quirks = quirks_for(model)
    assert quirks.max_tokens_param == "max_completion_tokens"
    assert quirks.sampling is False
    assert quirks.reasoning is True
    assert quirks.default_max_tokens >= 4096


@pytest.mark.parametrize("model", ["o1", "o1-mini", "o3-mini"])
def test_models_without_parallel_tool_calls(model: str) -> None:
    assert quirks_for(model).parallel_tool_calls is False


@pytest.mark.parametrize(
    "model", ["gpt-4o", "gpt-4.1-mini", "Qwen/Qwen3-VL-8B-Instruct", "llava:13b", "x"]
)
def test_plain_chat_models_keep_the_defaults(model: str) -> None:
    assert quirks_for(model) == ModelQuirks()


def test_open_reasoning_models_get_a_bigger_budget_but_keep_sampling() -> None:
    quirks = quirks_for("Qwen/Qwen3-VL-8B-Thinking")
    assert quirks.reasoning and quirks.sampling and quirks.max_tokens_param == "max_tokens"
    assert quirks.default_max_tokens > ModelQuirks().default_max_tokens


def test_gpt5_chat_takes_max_completion_tokens_but_samples() -> None:
    quirks = quirks_for("gpt-5-chat-latest")
    assert quirks.max_tokens_param == "max_completion_tokens" and quirks.sampling


def test_overrides_replace_only_the_fields_given() -> None:
    quirks = quirks_for("gpt-5", {"sampling": True, "max_tokens_param": None})
    assert quirks.sampling is True
    assert quirks.max_tokens_param == "max_completion_tokens"
