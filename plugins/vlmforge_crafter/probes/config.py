"""Settings of the ``crafter-probes`` environment (``[probes]`` of ``vlmforge probe``;
every key is documented in docs/probes.md and docs/config-reference.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from vlmforge.config import StrictModel
from vlmforge.seeds import checked_seeds, parse_seeds
from vlmforge_crafter.probes.catalog import BY_ID

ProbeObservation = Literal["image", "image+text"]


class ProbesConfig(StrictModel):
    """Where the frames come from, how many, which probes, and what the model is shown."""

    trace_db: str = Field(
        description="The trace store holding the recorded crafter runs (the source of frames)."
    )
    store: str = Field("sqlite", min_length=1, description="The source store's component name.")
    runs: list[str] = Field(
        default_factory=list,
        description="Source runs (names or ids); empty: every crafter run in the store.",
    )
    episode_seeds: str | int | list[str | int] | None = Field(
        None,
        description="Only frames of source episodes with these seeds (e.g. held-out seeds).",
    )
    frames: int = Field(40, ge=1, le=10_000, description="How many frames to sample.")
    seed: int = Field(0, description="Seed of the frame sample and the per-frame probe choice.")
    types: list[str] = Field(
        default_factory=list, description="Probe types to ask (empty: every type)."
    )
    probes_per_frame: int | None = Field(
        None,
        ge=1,
        description="Ask this many of the types per frame, chosen by seed (default all).",
    )
    observation: ProbeObservation = Field(
        "image",
        description="image: the frame only; image+text: the frame and the step's text "
        "observation (which gives most answers away).",
    )

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in BY_ID]
        if unknown:
            raise ValueError(
                f"unknown probe type {', '.join(repr(t) for t in unknown)}; "
                f"use some of: {', '.join(BY_ID)}"
            )
        if len(set(value)) != len(value):
            raise ValueError("a probe type is listed twice")
        return value

    @field_validator("episode_seeds", mode="before")
    @classmethod
    def _seeds(cls, value: object) -> object:
        return None if value is None else checked_seeds(value)

    def type_ids(self) -> list[str]:
        """The types to ask, in catalog order (whatever order ``types`` lists them in)."""
        return [t for t in BY_ID if t in self.types] if self.types else list(BY_ID)

    def seed_list(self) -> list[int] | None:
        return None if self.episode_seeds is None else parse_seeds(self.episode_seeds)

    def per_frame(self) -> int:
        n = len(self.type_ids())
        return n if self.probes_per_frame is None else min(self.probes_per_frame, n)

    def probe_count(self) -> int:
        """How many probes (episodes) the set has: frames x probes per frame."""
        return self.frames * self.per_frame()
