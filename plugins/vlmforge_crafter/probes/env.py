"""The ``crafter-probes`` environment: each episode is one probe about one recorded frame.

Episode seed ``i`` asks probe ``i`` of the set (:mod:`.probeset`): the observation is the frame
(and, with ``observation = "image+text"``, the step's text observation) followed by the
question; the only action is the ``answer`` tool, whose enum is every answer of every type
(:data:`~vlmforge_crafter.probes.catalog.ALL_ANSWERS`), so enum-constrained decoding (the ``hf``
policy's ``score``/``constrained``) works unchanged. The step's reward is 1 for the exact answer
and 0 otherwise; its ``info`` holds the type, the answer and what was given. Every question and
reply is recorded by the ordinary eval runner and store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from vlmforge.components import EnvSpec, Observation, StepOutcome
from vlmforge.errors import VlmforgeError
from vlmforge.images import PngImage
from vlmforge.trace import InvalidAction, ToolCall
from vlmforge_crafter.probes.catalog import ALL_ANSWERS, PROBE_VERSION
from vlmforge_crafter.probes.config import ProbesConfig
from vlmforge_crafter.probes.frames import sample_frames
from vlmforge_crafter.probes.probeset import Probe, build_probes, digest

ENV_NAME = "crafter-probes"
ANSWER_TOOL = "answer"
ANSWER_ARG = "answer"

SYSTEM_PROMPT = (
    "You are shown one frame of the game Crafter: a top-down 9x7 grid of tiles with the player "
    "at the centre, and below it the status bar (health, food, drink, energy, then the "
    "inventory items with their counts). Up is the top of the frame. Answer the question about "
    f"the frame by calling the `{ANSWER_TOOL}` tool with exactly one of the listed answers."
)


def answer_tool() -> dict[str, Any]:
    """The one tool: ``answer(answer=<one of ALL_ANSWERS>)``."""
    return {
        "type": "function",
        "function": {
            "name": ANSWER_TOOL,
            "description": "Give your answer to the question: one of the answers it lists.",
            "parameters": {
                "type": "object",
                "properties": {ANSWER_ARG: {"type": "string", "enum": list(ALL_ANSWERS)}},
                "required": [ANSWER_ARG],
                "additionalProperties": False,
            },
        },
    }


def parse_answer(tool_calls: Sequence[ToolCall]) -> tuple[str | None, list[InvalidAction]]:
    """The answer given by the first call (None when there is none that parses)."""
    if not tool_calls:
        return None, [InvalidAction(kind="no_tool_call", detail="no tool call: no answer")]
    call, extra = tool_calls[0], tool_calls[1:]
    invalid = [
        InvalidAction(kind="extra_tool_calls", detail="only the first answer counts",
                      tool_call_id=c.id)
        for c in extra
    ]  # fmt: skip
    if call.function.name != ANSWER_TOOL:
        detail = f"tool '{call.function.name}' is not '{ANSWER_TOOL}'"
        return None, [InvalidAction(kind="unknown_tool", detail=detail, tool_call_id=call.id)]
    try:
        arguments = json.loads(call.function.arguments)
    except json.JSONDecodeError:
        arguments = None
    given = arguments.get(ANSWER_ARG) if isinstance(arguments, dict) else None
    if not isinstance(given, str):
        detail = f'arguments must be {{"{ANSWER_ARG}": "..."}}'
        return None, [
            InvalidAction(kind="malformed_arguments", detail=detail, tool_call_id=call.id)
        ]
    if given not in ALL_ANSWERS:
        detail = f"'{given}' is not one of the answers"
        invalid.insert(0, InvalidAction(kind="unknown_action", detail=detail, tool_call_id=call.id))
    return given, invalid


class ProbeEpisode:
    """One probe: ``reset`` asks it, ``step`` scores the answer and ends the episode."""

    def __init__(self, probe: Probe, config: ProbesConfig):
        self.probe, self.config = probe, config
        self.done = False

    def reset(self) -> Observation:
        self.done = False
        probe, frame = self.probe, self.probe.frame
        question = probe.type.prompt()
        text = question
        if self.config.observation == "image+text" and frame.text:
            text = f"{frame.text}\n\nQuestion: {question}"
        return Observation(
            text=text,
            images=[PngImage(frame.png, *frame.size(), sha256=frame.image_sha256)],
            ground_truth={
                "probe": probe.record(),
                "source": frame.source(),
                "frame": frame.ground_truth,
            },
        )

    def step(self, tool_calls: Sequence[ToolCall]) -> StepOutcome:
        if self.done:
            raise VlmforgeError(f"probe {self.probe.index} was answered already")
        self.done = True
        given, invalid = parse_answer(tool_calls)
        correct = given == self.probe.answer
        observation = Observation(text=None, ground_truth={"probe": self.probe.record()})
        return StepOutcome(
            observation=observation,
            reward=1.0 if correct else 0.0,
            actions=[given] if given is not None and given in ALL_ANSWERS else [],
            invalid=invalid,
            done=True,
            termination="answered",
            info={
                "probe_type": self.probe.type.id,
                "answer": self.probe.answer,
                "given": given,
                "correct": correct,
                "probe_version": PROBE_VERSION,
            },
        )

    def close(self) -> None:
        return None


class ProbeEnvironment:
    """``--env crafter-probes``: the probe set over frames sampled from a source store."""

    config_model = ProbesConfig

    def __init__(self, config: ProbesConfig, store: Any = None):
        """``store``: an open source store (default: ``config.trace_db`` opened read-only)."""
        self.config = config
        if store is not None:
            frames = sample_frames(store, config)
        else:
            source = open_source(config)
            try:
                frames = sample_frames(source, config)
            finally:
                source.close()
        self.probes = build_probes(
            frames, config.type_ids(), seed=config.seed, per_frame=config.probes_per_frame
        )
        self.digest = digest(self.probes)

    def spec(self) -> EnvSpec:
        return EnvSpec(
            name=ENV_NAME,
            tools=[answer_tool()],
            system_prompt=SYSTEM_PROMPT,
            action_names=list(ALL_ANSWERS),
            max_actions_per_call=1,
            max_steps=1,
        )

    def start(self, seed: int) -> ProbeEpisode:
        if not 0 <= seed < len(self.probes):
            raise VlmforgeError(
                f"probe {seed} does not exist: this probe set has {len(self.probes)} probes "
                f"(seeds 0-{len(self.probes) - 1})"
            )
        return ProbeEpisode(self.probes[seed], self.config)

    def config_dict(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json") | {
            "probe_version": PROBE_VERSION,
            "probe_set": self.digest,
            "probes": len(self.probes),
        }

    def close(self) -> None:
        return None


def open_source(config: ProbesConfig) -> Any:
    """The source store, read-only; a missing one is a :class:`ConfigError`."""
    from vlmforge.plugins import get_registry
    from vlmforge.store_read import location_settings, open_store_for_reading

    registry = get_registry()
    factory = registry.get("store", config.store).load()
    return open_store_for_reading(
        registry,
        config.store,
        location_settings(factory, config.trace_db),
        where="[probes] trace_db",
        missing=f"[probes] trace_db: no trace store at {config.trace_db}; give the database "
        "of recorded crafter runs (--trace-db).",
    )
