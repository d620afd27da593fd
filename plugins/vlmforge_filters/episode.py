"""Episode-level filters: selection, status, length, achievements, reward."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator

from vlmforge.components import EpisodeTrace
from vlmforge.config import StrictModel
from vlmforge.trace import EpisodeStatus


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class SelectConfig(StrictModel):
    runs: list[str] | None = Field(None, description="Run ids or names to keep.")
    models: list[str] | None = Field(None, description="Models (Run.model) to keep.")
    envs: list[str] | None = Field(None, description="Environment names to keep.")
    policies: list[str] | None = Field(None, description="Policy names to keep.")
    tags: list[str] | None = Field(None, description="Keep runs carrying any of these tags.")
    seeds: list[int] | None = Field(None, description="Episode seeds to keep.")
    since: dt.datetime | None = Field(None, description="Episodes started at or after (UTC).")
    until: dt.datetime | None = Field(None, description="Episodes started before (UTC).")

    @model_validator(mode="after")
    def _check(self) -> SelectConfig:
        if all(getattr(self, k) is None for k in type(self).model_fields):
            raise ValueError(
                "select needs at least one of runs, models, envs, policies, tags, seeds, "
                "since, until"
            )
        since, until = _utc(self.since), _utc(self.until)
        if since and until and since >= until:
            raise ValueError("since must be earlier than until")
        return self


class Select:
    """Keep episodes matching every given criterion (each a list: any value matches)."""

    config_model = SelectConfig
    needs_steps = False

    def __init__(self, config: SelectConfig):
        self.c = config
        self.since, self.until = _utc(config.since), _utc(config.until)
        self.seeds = set(config.seeds) if config.seeds is not None else None

    def apply(self, item: EpisodeTrace) -> EpisodeTrace | None:
        c, run, ep = self.c, item.run, item.episode
        if c.runs is not None and run.id not in c.runs and run.name not in c.runs:
            return None
        if c.models is not None and run.model not in c.models:
            return None
        if c.envs is not None and run.env_name not in c.envs:
            return None
        if c.policies is not None and run.policy_name not in c.policies:
            return None
        if c.tags is not None and not set(c.tags) & set(run.tags):
            return None
        if self.seeds is not None and ep.seed not in self.seeds:
            return None
        started = _utc(ep.started_at)
        if self.since is not None and started is not None and started < self.since:
            return None
        if self.until is not None and started is not None and started >= self.until:
            return None
        return item


class StatusConfig(StrictModel):
    keep: list[EpisodeStatus] = Field(
        default_factory=lambda: [EpisodeStatus.done],
        min_length=1,
        description="Statuses to keep; failed, interrupted and running are dropped by default.",
    )


class Status:
    config_model = StatusConfig
    needs_steps = False

    def __init__(self, config: StatusConfig):
        self.keep = set(config.keep)

    def apply(self, item: EpisodeTrace) -> EpisodeTrace | None:
        return item if item.episode.status in self.keep else None


class MinStepsConfig(StrictModel):
    min_steps: int = Field(1, ge=1, description="Fewest decision steps an episode may have.")


class MinSteps:
    """Counts the steps left after earlier filters (the recorded count if none trimmed)."""

    config_model = MinStepsConfig

    def __init__(self, config: MinStepsConfig):
        self.min_steps = config.min_steps

    def apply(self, item: EpisodeTrace) -> EpisodeTrace | None:
        return item if len(item.steps) >= self.min_steps else None


class MaxStepsConfig(StrictModel):
    max_steps: int = Field(..., ge=1, description="Most decision steps an episode may have.")


class MaxSteps:
    config_model = MaxStepsConfig

    def __init__(self, config: MaxStepsConfig):
        self.max_steps = config.max_steps

    def apply(self, item: EpisodeTrace) -> EpisodeTrace | None:
        return item if len(item.steps) <= self.max_steps else None


class MinAchievementsConfig(StrictModel):
    min_unique: int = Field(1, ge=0, description="Fewest unique achievements unlocked.")


class MinAchievements:
    config_model = MinAchievementsConfig
    needs_steps = False

    def __init__(self, config: MinAchievementsConfig):
        self.min_unique = config.min_unique

    def apply(self, item: EpisodeTrace) -> EpisodeTrace | None:
        return item if item.episode.unique_achievements >= self.min_unique else None


class MinRewardConfig(StrictModel):
    min_total: float = Field(1.0, description="Smallest total episode reward kept.")


class MinReward:
    config_model = MinRewardConfig
    needs_steps = False

    def __init__(self, config: MinRewardConfig):
        self.min_total = config.min_total

    def apply(self, item: EpisodeTrace) -> EpisodeTrace | None:
        return item if item.episode.total_reward >= self.min_total else None
