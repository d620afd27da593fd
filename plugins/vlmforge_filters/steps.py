"""Step-level filters: decision quality, achievement-attributed turns, image rows."""

from __future__ import annotations

from pydantic import Field, model_validator

from vlmforge.components import EpisodeTrace
from vlmforge.config import StrictModel
from vlmforge.trace import Step


def _trimmed(item: EpisodeTrace, kept: list[Step]) -> EpisodeTrace | None:
    if len(kept) == len(item.steps):
        return item
    return EpisodeTrace(run=item.run, episode=item.episode, steps=kept) if kept else None


def provider_error(step: Step) -> bool:
    """The model call failed: no reply came back with an error recorded, or the LM call's last
    HTTP attempt failed. (A reply that merely held no usable tool call is not a provider error;
    a call that succeeded after retries is not one either.)"""
    call = step.lm_call
    if step.reply is None and (step.error or (call is not None and call.error)):
        return True
    return bool(call is not None and call.attempts and call.attempts[-1].error)


class DecisionQualityConfig(StrictModel):
    drop_invalid: bool = Field(
        True, description="Drop steps with an invalid action (unknown tool/action, bad args...)."
    )
    drop_missing_tool_calls: bool = Field(
        True, description="Drop steps where no tool call was executed."
    )
    drop_empty_replies: bool = Field(
        True, description="Drop steps with no reply, or a reply with no text and no tool call."
    )
    drop_provider_errors: bool = Field(
        True,
        description="Drop steps whose model call failed (no reply and an error recorded, or "
        "the last HTTP attempt failed).",
    )
    drop_parsed_from_text: bool = Field(
        False, description="Drop steps whose tool calls were parsed from the reply's text."
    )


class DecisionQuality:
    """Keeps the steps where the model made a clean, executable decision."""

    config_model = DecisionQualityConfig

    def __init__(self, config: DecisionQualityConfig):
        self.c = config

    def bad(self, step: Step) -> bool:
        c = self.c
        if c.drop_invalid and step.invalid:
            return True
        if c.drop_missing_tool_calls and not step.tool_calls:
            return True
        if c.drop_empty_replies and (
            step.reply is None or (not step.reply.tool_calls and not step.reply.text().strip())
        ):
            return True
        if c.drop_provider_errors and provider_error(step):
            return True
        return bool(c.drop_parsed_from_text and step.parsed_from_text)

    def apply(self, item: EpisodeTrace) -> EpisodeTrace | None:
        return _trimmed(item, [s for s in item.steps if not self.bad(s)])


class AchievementWindowConfig(StrictModel):
    window: int = Field(
        5,
        ge=0,
        description="Keep the unlocking step and the `window` steps before it (by step index).",
    )
    achievements: list[str] | None = Field(
        None, description="Only unlocks of these achievements count (null: any)."
    )

    @model_validator(mode="after")
    def _check(self) -> AchievementWindowConfig:
        if self.achievements is not None and not self.achievements:
            raise ValueError("achievements must name at least one achievement, or be left out")
        return self


class AchievementWindow:
    """Keeps the turns that led to an achievement unlock (and the unlocking turn)."""

    config_model = AchievementWindowConfig

    def __init__(self, config: AchievementWindowConfig):
        self.window = config.window
        self.names = set(config.achievements) if config.achievements is not None else None

    def apply(self, item: EpisodeTrace) -> EpisodeTrace | None:
        unlocks = [
            s.index
            for s in item.steps
            if any(self.names is None or a in self.names for a in s.achievements)
        ]
        if not unlocks:
            return None
        kept = [s for s in item.steps if any(0 <= u - s.index <= self.window for u in unlocks)]
        return _trimmed(item, kept)


class HasImageConfig(StrictModel):
    min_images: int = Field(1, ge=1, description="Fewest images the user turn must carry.")


class HasImage:
    """Keeps steps whose user turn (the prompt's last user message) has an image."""

    config_model = HasImageConfig

    def __init__(self, config: HasImageConfig):
        self.min_images = config.min_images

    def apply(self, item: EpisodeTrace) -> EpisodeTrace | None:
        kept = []
        for step in item.steps:
            users = [m for m in step.prompt if m.role == "user"]
            if users and len(users[-1].image_hashes()) >= self.min_images:
                kept.append(step)
        return _trimmed(item, kept)
