"""The interfaces each kind of component provides.

Components are registered by plugins through the hooks in :mod:`vlmforge.hookspecs`. What a
plugin registers is a *factory* (:data:`ComponentFactory`): a class or callable with a
``config_model`` (a :class:`vlmforge.config.StrictModel`), built as ``factory(config)`` with the
validated settings, or one without, built as ``factory()``. What the factory returns is an
*instance* satisfying its kind's Protocol below: the methods the core's commands call.
:mod:`vlmforge.trace` holds the data they exchange. :mod:`vlmforge.conformance` compares a
component with its Protocol by signature; ``tests/core/test_conformance.py`` checks every bundled
component that way and, under mypy, against the factory types at the end of this module.

Environment and trace-store methods are synchronous (the runner calls them in worker threads so
they never block the event loop, or awaits the ``a`` twins of an :class:`AsyncEnvironment`);
policy methods are ``async``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel

    from vlmforge.dataset.rows import Example

from vlmforge.errors import VlmforgeError
from vlmforge.images import PngImage
from vlmforge.trace import (
    Episode,
    InvalidAction,
    LMCall,
    Message,
    Run,
    Step,
    ToolCall,
)


# -- environments --------------------------------------------------------------------------
@dataclass
class Observation:
    """What an environment shows the policy at one step."""

    text: str | None
    images: list[PngImage] = field(default_factory=list)  # newest last
    ground_truth: dict[str, Any] = field(default_factory=dict)  # for filters/eval, not prompts
    feedback: str | None = None  # what was wrong with the previous decision


@dataclass
class StepOutcome:
    """The result of applying one decision (a list of tool calls) to an environment."""

    observation: Observation
    reward: float  # summed over the primitive actions executed in this step
    actions: list[str]  # primitive actions executed, fallback included
    invalid: list[InvalidAction] = field(default_factory=list)
    achievements: list[str] = field(default_factory=list)  # newly unlocked in this step
    done: bool = False  # the episode ended (terminated or truncated)
    truncated: bool = False  # ended by a step cap rather than by the game
    termination: str | None = None  # why it ended: "death", "max_steps", "game_length", ...
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class EnvSpec:
    """What a policy needs to know about an environment."""

    name: str
    tools: list[dict[str, Any]]  # OpenAI function-tool JSON schemas
    system_prompt: str
    action_names: list[str]
    max_actions_per_call: int = 1
    max_steps: int | None = None
    achievements: list[str] = field(default_factory=list)  # every unlockable achievement
    fallback_action: str | None = None  # applied when a decision is invalid


class EnvEpisode(Protocol):
    """One episode of an environment, for one seed. Not shared between threads."""

    def reset(self) -> Observation:
        """Start the episode and return the first observation."""

    def step(self, tool_calls: Sequence[ToolCall]) -> StepOutcome:
        """Apply the policy's tool calls. Invalid calls are recorded, never guessed at."""

    def close(self) -> None:
        """Release resources (a remote episode is deleted on its server)."""


class Environment(Protocol):
    """An environment (``--env NAME``).

    The runner calls ``start`` and the episodes' methods in threads (about one per core).
    Optional attributes:

    - ``io_bound = True``: the calls mostly wait on I/O, not on this machine's cores (the
      ``remote`` environment waits on HTTP), so the runner gives every episode in flight its
      own thread.
    - ``async_calls = True``: the environment is an :class:`AsyncEnvironment`; the runner
      awaits its ``a`` methods on its event loop instead.
    - ``reset_ahead = True``: an episode's first observation depends on its seed alone, so
      ``env_workers`` may start and reset an episode before the runner asks for it (while a
      worker is idle) and hand over that observation when it does.
    """

    def spec(self) -> EnvSpec:
        """Tools, system prompt, action names and achievements (the same for every episode)."""

    def start(self, seed: int) -> EnvEpisode:
        """A fresh episode; the same seed always means the same world."""

    def config_dict(self) -> dict[str, Any]:
        """The resolved settings, recorded on the run."""

    def close(self) -> None:
        """Release what the environment holds (connections, worker processes). Idempotent."""


class AsyncEnvEpisode(EnvEpisode, Protocol):
    """An episode whose calls can also be awaited (each ``a`` method does what its twin does)."""

    async def areset(self) -> Observation: ...
    async def astep(self, tool_calls: Sequence[ToolCall]) -> StepOutcome: ...
    async def aclose(self) -> None: ...


class AsyncEnvironment(Environment, Protocol):
    """An environment with ``async_calls = True`` whose calls only wait (on worker processes:
    :class:`vlmforge.env_workers.EnvWorkerPool`): the runner awaits ``astart`` and the episodes'
    ``areset``, ``astep`` and ``aclose`` on its event loop instead of using threads.

    Optional: ``prefetch(seed)``, called (without awaiting) once an episode has its first
    observation, with the seed that will start ``concurrency`` episodes later; it must return
    at once (the pool builds that world in a worker while it is idle)."""

    async_calls: bool

    async def astart(self, seed: int) -> AsyncEnvEpisode:
        """:meth:`Environment.start` for the event loop."""


# -- policies ------------------------------------------------------------------------------
@dataclass
class Decision:
    """A policy's answer to one observation.

    ``prompt`` is the exact request (images by hash); ``reply`` the assistant message verbatim;
    ``tool_calls`` the calls to execute (empty if the model produced none that parse: the
    environment then records the step as invalid and applies its fallback).
    """

    prompt: list[Message]
    reply: Message | None
    tool_calls: list[ToolCall]
    parsed_from_text: bool = False
    lm_call: LMCall | None = None
    error: str | None = None


class EpisodePolicy(Protocol):
    """A policy's state for one episode (from :meth:`Policy.start_episode`)."""

    async def act(self, observation: Observation) -> Decision:
        """The decision for ``observation``; raises :class:`PolicyError` to fail the episode."""


class Policy(Protocol):
    """A policy or model provider (``--policy NAME``)."""

    async def start_episode(self, env: EnvSpec, seed: int) -> EpisodePolicy:
        """Per-episode state (history, a seeded RNG). Called once per episode."""

    def describe(self) -> dict[str, Any]:
        """Settings recorded on the run: model, base_url, temperature, ... NEVER secrets."""

    def model_name(self) -> str | None:
        """The model the run is labelled with (``None`` for a policy without one)."""

    async def aclose(self) -> None:
        """Release clients and models; called once when the run ends."""


class PolicyError(Exception):
    """The policy cannot continue this episode (the episode is recorded as failed).

    ``decision``, when given, is what the policy had when it failed (the prompt it sent and an
    ``lm_call`` with every attempt and the error) so the runner can record the failed step.
    """

    def __init__(self, message: str, *, decision: Decision | None = None):
        super().__init__(message)
        self.decision = decision


class FatalPolicyError(PolicyError):
    """The policy cannot continue at all (bad API key): the whole run stops at once."""


# -- trace stores --------------------------------------------------------------------------
@dataclass
class EpisodeQuery:
    """Which episodes to read from a trace store. Every field set narrows the selection (AND).

    Stores answer it with indexed queries and stream the result in a stable order
    (run, seed, episode id), so filters can walk millions of steps in bounded memory.
    """

    run_ids: Sequence[str] | None = None
    episode_ids: Sequence[str] | None = None
    statuses: Sequence[str] | None = None  # EpisodeStatus values, e.g. ("done",)
    seeds: Sequence[int] | None = None
    min_unique_achievements: int | None = None
    achievements: Sequence[str] = ()  # every one of these was unlocked
    min_steps: int | None = None  # decision steps
    min_total_reward: float | None = None
    limit: int | None = None


@dataclass(frozen=True)
class StepMetrics:
    """A step's scalar columns, read without decoding the step (cheap, for stats and filters)."""

    episode_id: str
    index: int
    reward: float
    invalid: bool
    done: bool
    n_actions: int
    n_tool_calls: int
    prompt_tokens: int | None
    completion_tokens: int | None
    policy_latency_s: float
    env_latency_s: float


class TraceStore(Protocol):
    """Durable storage for runs, episodes, steps and images (``--store NAME``).

    Writes are committed when the method returns: a killed process loses at most the steps in
    flight. Several processes may write one store at once. Stores never keep secrets: they redact
    settings and text with :mod:`vlmforge.redaction` before writing.
    """

    @property
    def where(self) -> str:
        """Where the store lives (a file path, a URL), as messages and summaries name it."""

    # writing (the eval runner)
    def create_run(self, run: Run) -> None:
        """Insert a new run (its settings redacted); raises
        :class:`~vlmforge.errors.RunExistsError` when the name is taken (two processes creating
        one run at once: ``--resume`` then continues the other's)."""

    def update_run(self, run: Run) -> None:
        """Rewrite a run's row (``--resume`` adds seeds, tags)."""

    def start_episode(self, episode: Episode) -> None:
        """Insert the episode (status ``running``), owned by this process until finished,
        unconditionally (importers, tests); the runner claims its seeds with
        :meth:`claim_episode`."""

    def claim_episode(self, episode: Episode) -> bool:
        """Insert the episode (status ``running``, owned by this process) only if its run has no
        episode of that seed that is finished (``done``, ``failed``) or running in a live
        process, in one transaction that no other claim of the run can interleave with. Earlier
        attempts of the seed (``interrupted``, or ``running`` in a process that is gone) are
        deleted with their steps. Returns whether the seed is now this process's to play; raises
        :class:`~vlmforge.errors.VlmforgeError` if the run is not in the store."""

    def record_step(
        self, step: Step, images: Iterable[PngImage], episode: Episode | None = None
    ) -> None:
        """Store a step, its images (once each) and, in the same transaction, the episode's
        counters as they stand after this step (``episode``), so a crash never leaves them out
        of step with the stored steps."""

    def finish_episode(self, episode: Episode) -> None:
        """Write the episode's final status, counters and termination."""

    def delete_episode(self, episode_id: str) -> None:
        """Remove an episode with its steps (``--resume`` restarting an interrupted seed)."""

    def recover_interrupted(self) -> int:
        """Mark ``running`` episodes whose writing process is gone as ``interrupted``."""

    # reading (traces, filters, exporters)
    def get_run(self, run_id_or_name: str) -> Run | None:
        """A run by id or name (the newest of that name), or ``None``."""

    def get_episode(self, episode_id: str) -> Episode | None:
        """An episode by id, or ``None``."""

    def runs(self) -> Iterator[Run]:
        """Every run, oldest first."""

    def episodes(
        self, run_ids: Sequence[str] | None = None, *, query: EpisodeQuery | None = None
    ) -> Iterator[Episode]:
        """Episodes of ``run_ids`` (all when ``None``), narrowed by ``query``."""

    def steps(self, episode_id: str) -> Iterator[Step]:
        """An episode's steps in order."""

    def traces(self, query: EpisodeQuery | None = None) -> Iterator[EpisodeTrace]:
        """Episodes with their runs and steps, streamed in batches (filters read this)."""

    def step_metrics(self, query: EpisodeQuery | None = None) -> Iterator[StepMetrics]:
        """The selected episodes' step columns, without decoding steps."""

    def image(self, sha256: str) -> bytes:
        """A stored PNG by its sha256."""

    def close(self) -> None:
        """Close connections; the store is not used afterwards."""


class CorruptTraceError(VlmforgeError):
    """A stored record cannot be read back: a step payload that does not decode, a missing
    image or prompt message. Stores raise it naming the store, run, episode and step; readers
    stop with it (``vlmforge traces``) or skip the episode (``vlmforge filter``,
    ``on_corrupt = "skip"``)."""

    def __init__(
        self, message: str, *, episode_id: str | None = None, step: int | None = None
    ) -> None:
        super().__init__(message)
        self.episode_id, self.step = episode_id, step


#: A store whose ``config_model`` has a ``read_only: bool`` setting is opened by readers
#: (``vlmforge traces``, ``vlmforge filter``) with it set to true: the store then writes
#: nothing (no schema creation, migration or journal change) and refuses what is not one of its
#: stores. See :mod:`vlmforge.store_read`.
READ_ONLY_SETTING = "read_only"


class SupportsStoreExists(Protocol):
    """Optional on a store's factory (e.g. a classmethod): whether ``config`` (its
    ``config_model``) names a store that exists. Readers (``vlmforge traces``) refuse a missing one
    rather than open (so create) an empty store; a factory without ``exists`` is opened as is."""

    def exists(self, config: Any) -> bool: ...


@dataclass
class StoreCleanup:
    """What a store removed (or, with ``dry_run``, would remove): rows of each kind and the bytes
    of data they held (PNG frames, step payloads, prompt messages)."""

    runs: int = 0
    episodes: int = 0
    steps: int = 0
    achievements: int = 0
    images: int = 0
    messages: int = 0  # stored prompt messages (system prompt, history turns)
    bytes_freed: int = 0
    dry_run: bool = False

    def total(self) -> int:
        """How many rows, of every kind."""
        return (
            self.runs + self.episodes + self.steps + self.achievements + self.images
            + self.messages
        )  # fmt: skip


class SupportsCleanup(Protocol):
    """Optional on a store: deleting runs and collecting what nothing references any more
    (``vlmforge traces rm``, ``vlmforge traces gc``); a store without it cannot be cleaned up
    from the command line."""

    def remove_run(self, run_id_or_name: str, *, force: bool = False) -> StoreCleanup:
        """Delete the run with its episodes, steps and achievements, then what no step
        references any more (images, messages); refuses (``VlmforgeError``) a run with an
        episode running in a live process unless ``force``. A run not in the store removes
        nothing (``runs == 0``)."""

    def collect_garbage(self, *, dry_run: bool = False) -> StoreCleanup:
        """Delete images and messages no step references (an interrupted episode replayed by
        ``--resume`` leaves its frames behind) and rows whose episode or run is gone; with
        ``dry_run`` only count them. Safe while evals write the store: a frame a step committed
        meanwhile is kept."""


# -- filters -------------------------------------------------------------------------------
@dataclass
class EpisodeTrace:
    """One episode with its run and (possibly trimmed) steps, as filters see it."""

    run: Run
    episode: Episode
    steps: list[Step]


class Filter(Protocol):
    """A trace filter (``--filter NAME``).

    ``apply`` returns the episode unchanged (keep), with fewer steps (trim), or ``None`` (drop);
    an episode left with no steps is dropped. A filter that looks only at ``item.run`` and
    ``item.episode`` may set the class attribute ``needs_steps = False``: ``vlmforge filter`` then
    applies it before reading the episode's steps (``item.steps`` is empty at that point).
    """

    def apply(self, item: EpisodeTrace) -> EpisodeTrace | None:
        """The episode kept, trimmed, or ``None`` (dropped)."""


class FunctionFilter:
    """Adapts a plain function registered as a filter.

    The function takes an :class:`EpisodeTrace` and returns a bool (keep/drop) or an
    ``EpisodeTrace | None`` (keep, trim or drop).
    """

    def __init__(self, fn: Callable[[EpisodeTrace], Any], name: str = ""):
        self.fn, self.name = fn, name or fn.__name__

    def apply(self, item: EpisodeTrace) -> EpisodeTrace | None:
        result = self.fn(item)
        if isinstance(result, EpisodeTrace) or result is None:
            return result
        return item if result else None


# -- exporters -----------------------------------------------------------------------------
class Exporter(Protocol):
    """Writes SFT examples for one split (``--exporter NAME``).

    ``vlmforge filter`` builds one exporter per split, calls ``open(staging_dir, "train"|"val")``,
    ``write`` once per :class:`vlmforge.dataset.rows.Example` (messages with images by sha256,
    ``example.image(sha)`` returns the PNG bytes), then ``close()``, whose summary goes into
    filter_stats.json. Files written under the directory are moved into the output directory.
    """

    def open(self, output_dir: Path, split: str) -> None:
        """Start writing split ``split`` ("train" or "val") under ``output_dir``."""

    def write(self, example: Example) -> None:
        """Write one example (messages with images by sha256; ``example.image(sha)``)."""

    def close(self) -> dict[str, Any]:
        """Finish the split; returns its summary (rows, files) for filter_stats.json."""


# -- trainers ------------------------------------------------------------------------------
class Trainer(Protocol):
    """Trains a model from an exported dataset (``--trainer NAME``)."""

    def train(self) -> dict[str, Any]:
        """Run training; returns a summary (output_dir, steps, final loss, ...)."""


# -- factories: what the registry stores -------------------------------------------------
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class ConfiguredFactory(Protocol[T_co]):
    """A factory with settings: built as ``factory(config)``, ``config`` an instance of its
    ``config_model`` validated from the user's settings (a class with a ``config_model`` class
    attribute and ``__init__(self, config)`` is one)."""

    @property
    def config_model(self) -> type[BaseModel]: ...

    def __call__(self, config: Any, /) -> T_co: ...


# A factory without settings (no ``config_model``, or ``config_model = None``) is ``factory()``.
ComponentFactory: TypeAlias = ConfiguredFactory[T] | Callable[[], T]

EnvironmentFactory: TypeAlias = ComponentFactory[Environment]
PolicyFactory: TypeAlias = ComponentFactory[Policy]
TraceStoreFactory: TypeAlias = ComponentFactory[TraceStore]
# A plain function ``fn(item) -> bool | EpisodeTrace | None`` is a filter too (FunctionFilter).
FilterFactory: TypeAlias = (
    ComponentFactory[Filter] | Callable[[EpisodeTrace], bool | EpisodeTrace | None]
)
ExporterFactory: TypeAlias = ComponentFactory[Exporter]
TrainerFactory: TypeAlias = ComponentFactory[Trainer]

# The Protocol each kind's components satisfy, by registry kind.
PROTOCOL_FOR_KIND: dict[str, type] = {
    "environment": Environment,
    "policy": Policy,
    "store": TraceStore,
    "filter": Filter,
    "exporter": Exporter,
    "trainer": Trainer,
}
