"""The JSON wire format between ``vlmforge serve`` and the ``remote`` environment.

Both sides import these pydantic models, so a field added here is added to the server's OpenAPI
document and to the client at once. Images travel as base64 PNG bytes together with their sha256;
the client rebuilds :class:`~vlmforge.images.PngImage` from the same bytes, so hashes (and the
frames a trace store keeps) are identical to a local run.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vlmforge.components import EnvSpec, Observation, StepOutcome
from vlmforge.images import PngImage
from vlmforge.trace import InvalidAction, ToolCall

# Request bodies larger than this are refused with 413 (tool calls and settings are small).
DEFAULT_MAX_BODY_BYTES = 1 << 20


class WireError(ValueError):
    """A response from a server does not follow the wire format (e.g. an image hash mismatch)."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- observations --------------------------------------------------------------------------
class WireImage(_Wire):
    """One PNG frame: its bytes in base64 and the sha256 of those bytes."""

    png_base64: str
    width: int
    height: int
    sha256: str


class WireObservation(_Wire):
    text: str | None = None
    images: list[WireImage] = Field(default_factory=list)
    ground_truth: dict[str, Any] = Field(default_factory=dict)
    feedback: str | None = None


def observation_to_wire(obs: Observation) -> WireObservation:
    return WireObservation(
        text=obs.text,
        images=[
            WireImage(
                png_base64=base64.b64encode(img.png).decode("ascii"),
                width=img.width,
                height=img.height,
                sha256=img.sha256,
            )
            for img in obs.images
        ],
        ground_truth=obs.ground_truth,
        feedback=obs.feedback,
    )


def observation_from_wire(wire: WireObservation) -> Observation:
    """The observation as the environment produced it; raises WireError on a corrupt image."""
    images = []
    for i, img in enumerate(wire.images):
        try:
            png = base64.b64decode(img.png_base64, validate=True)
        except (binascii.Error, ValueError):
            raise WireError(f"image {i} is not valid base64") from None
        digest = hashlib.sha256(png).hexdigest()
        if digest != img.sha256:
            raise WireError(f"image {i}: sha256 of the received bytes does not match the server's")
        images.append(PngImage(png, width=img.width, height=img.height, sha256=digest))
    return Observation(
        text=wire.text, images=images, ground_truth=wire.ground_truth, feedback=wire.feedback
    )


# -- environment description ---------------------------------------------------------------
class WireSpec(_Wire):
    """:class:`~vlmforge.components.EnvSpec` as JSON."""

    name: str
    tools: list[dict[str, Any]]
    system_prompt: str
    action_names: list[str]
    max_actions_per_call: int = 1
    max_steps: int | None = None
    achievements: list[str] = Field(default_factory=list)
    fallback_action: str | None = None


def spec_to_wire(spec: EnvSpec) -> WireSpec:
    return WireSpec(**asdict(spec))


def spec_from_wire(wire: WireSpec) -> EnvSpec:
    return EnvSpec(**wire.model_dump())


class SpecRequest(_Wire):
    """``POST /spec``: the environment description for these settings."""

    config: dict[str, Any] = Field(
        default_factory=dict, description="Environment settings, merged over the server's own."
    )


class SpecResponse(_Wire):
    env: str = Field(description="The registered name of the served environment.")
    spec: WireSpec
    config: dict[str, Any] = Field(description="The resolved settings (config_dict()).")


class InfoResponse(_Wire):
    """``GET /info``."""

    env: str
    vlmforge_version: str
    config_schema: dict[str, Any] | None = Field(
        description="JSON schema of the environment's settings (null: it takes none)."
    )
    default_config: dict[str, Any] = Field(description="The server's resolved settings.")
    tools: list[dict[str, Any]]
    observation_modes: list[str] = Field(default_factory=list)
    spec: WireSpec
    max_episodes: int
    idle_timeout_s: float
    max_body_bytes: int
    active_episodes: int
    auth: bool = Field(description="Whether requests need an API key.")


class HealthResponse(_Wire):
    status: str = "ok"
    env: str
    active_episodes: int = Field(description="Episodes started and not yet deleted or expired.")
    starting: int = Field(0, description="Episodes being started right now.")
    max_episodes: int


# -- episodes ------------------------------------------------------------------------------
class StartRequest(_Wire):
    """``POST /episodes``."""

    seed: int = Field(ge=0, le=2**63 - 1, description="The world seed.")
    config: dict[str, Any] = Field(
        default_factory=dict, description="Environment settings, merged over the server's own."
    )
    request_id: str | None = Field(
        default=None,
        max_length=128,
        description="Client token: a retried request with the same token returns the same "
        "episode instead of starting a second one.",
    )


class StartResponse(_Wire):
    episode_id: str
    seed: int
    observation: WireObservation


class StepRequest(_Wire):
    """``POST /episodes/{id}/step``."""

    tool_calls: list[ToolCall] = Field(max_length=256)
    index: int | None = Field(
        default=None,
        ge=0,
        description="0-based index of this step. When given, a retried step (same index) is "
        "answered from the server's record instead of being applied twice; any other index "
        "is a 409.",
    )


class StepResponse(_Wire):
    episode_id: str
    index: int
    observation: WireObservation
    reward: float
    done: bool
    truncated: bool
    termination: str | None
    actions: list[str]
    invalid: list[InvalidAction]
    achievements: list[str]
    info: dict[str, Any]


def outcome_to_wire(episode_id: str, index: int, outcome: StepOutcome) -> StepResponse:
    return StepResponse(
        episode_id=episode_id,
        index=index,
        observation=observation_to_wire(outcome.observation),
        reward=float(outcome.reward),
        done=outcome.done,
        truncated=outcome.truncated,
        termination=outcome.termination,
        actions=list(outcome.actions),
        invalid=list(outcome.invalid),
        achievements=list(outcome.achievements),
        info=outcome.info,
    )


def outcome_from_wire(wire: StepResponse) -> StepOutcome:
    return StepOutcome(
        observation=observation_from_wire(wire.observation),
        reward=wire.reward,
        actions=wire.actions,
        invalid=wire.invalid,
        achievements=wire.achievements,
        done=wire.done,
        truncated=wire.truncated,
        termination=wire.termination,
        info=wire.info,
    )


class ErrorResponse(_Wire):
    detail: str
