"""``FilterConfig``: the TOML file behind ``vlmforge filter --config FILTER.toml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from vlmforge.config import ComponentSection, StoreSection, StrictModel

NEW_STORE_FORM = '[store] name = "sqlite" with the store\'s settings in the same table'


class FilterEntry(ComponentSection):
    """One ``[[filters]]`` table: ``name`` plus the filter's own settings (validated by it)."""

    name: str = Field(description="A registered filter name (see `vlmforge plugins`).")


class FilterStore(StoreSection):
    """The filter's ``[store]``: ``name`` + the store's settings; the paths are ``trace_dbs``."""

    @model_validator(mode="after")
    def _no_path(self) -> FilterStore:
        if "path" in self.settings():
            raise ValueError(
                "the filter reads the databases in trace_dbs (--trace-db); drop [store] path "
                "and list the files in trace_dbs = [...]"
            )
        return self


class RowsConfig(StrictModel):
    """How examples are built from the kept steps (``[rows]``)."""

    mode: Literal["step", "episode"] = Field(
        "step",
        description="step: one example per decision step; episode: multi-turn conversations.",
    )
    max_images: int = Field(
        10, ge=1, description="Images per example at most (OpenAI fine-tuning allows 10)."
    )
    max_sequence_length: int | None = Field(
        None,
        ge=1,
        description="Approximate tokens per example (see chars_per_token, image_tokens); "
        "examples are cut only between whole messages.",
    )
    chars_per_token: float = Field(4.0, gt=0, description="Characters per text token.")
    image_tokens: int = Field(85, ge=0, description="Tokens one image counts as.")
    overflow: Literal["split", "truncate"] = Field(
        "split",
        description="episode mode: when an episode exceeds max_images / max_sequence_length, "
        "split: continue in a new example; truncate: drop the rest of the episode.",
    )
    assistant: Literal["verbatim", "tool_calls"] = Field(
        "verbatim",
        description="verbatim: the model's reply as received; tool_calls: the executed tool "
        "calls as structured tool_calls (content null), e.g. for calls parsed from text.",
    )
    include_tools: bool = Field(True, description="Put the run's tool schemas on every example.")
    tool_results: bool = Field(
        True,
        description="episode mode: a tool message (executed actions, reward, achievements) "
        "after each assistant tool call that another turn follows.",
    )


class FilterConfig(StrictModel):
    """Everything ``vlmforge filter`` does; CLI flags override these keys."""

    trace_dbs: list[Path] = Field(
        default_factory=list, description="Trace databases to read (merged). --trace-db"
    )
    store: FilterStore = Field(
        default_factory=lambda: FilterStore(),
        description="[store]: name (default sqlite, --store) + the store's settings (not path: "
        "the paths are trace_dbs). A store opened for reading gets its read_settings first.",
    )
    store_options: None = Field(
        None, exclude=True, description="Old form, refused: the settings go in [store]."
    )
    filters: list[FilterEntry] = Field(
        default_factory=lambda: [FilterEntry(name="status")],
        description="Filters in order; [[filters]] tables with name + settings. --filter",
    )
    dedupe: bool = Field(True, description="Drop rows with the same (frames, text, action).")
    rows: RowsConfig = Field(default_factory=lambda: RowsConfig())
    exporter: str = Field("openai-sft", description="The exporter component. --exporter")
    exporter_options: dict[str, Any] = Field(
        default_factory=dict, description="Settings for the exporter (validated by it)."
    )
    output_dir: Path = Field(Path("filtered"), description="Where the export goes. --output-dir")
    overwrite: bool = Field(False, description="Replace an existing export in output_dir.")
    val_fraction: float = Field(
        0.1, ge=0.0, lt=1.0, description="Fraction of EPISODES for validation. --val-fraction"
    )
    seed: int = Field(0, description="Seed of the split and the shuffle. --seed")
    stratify: bool = Field(
        False, description="Split within groups of equal unique-achievement count."
    )
    shuffle: bool = Field(True, description="Shuffle rows (seeded) within each split.")
    progress: bool = Field(True, description="Show a progress bar over episodes.")
    on_corrupt: Literal["stop", "skip"] = Field(
        "stop",
        description="A stored step that does not decode or a missing image: stop (an error "
        "naming run, episode and step; nothing is written) or skip (the episode, or the row "
        "whose image is missing, is left out and counted in filter_stats.json).",
    )

    @field_validator("store", mode="before")
    @classmethod
    def _store_is_a_table(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(f'store = "{value}" is the old form; write {NEW_STORE_FORM}')
        return value

    @field_validator("store_options", mode="before")
    @classmethod
    def _no_store_options(cls, value: Any) -> Any:
        if value is None:
            return None
        raise ValueError(f"[store_options] is the old form; write {NEW_STORE_FORM}")

    @model_validator(mode="after")
    def _unique_filter_names(self) -> FilterConfig:
        seen: set[str] = set()
        for entry in self.filters:
            if entry.name in seen:
                raise ValueError(
                    f"filter '{entry.name}' is listed twice; merge its settings into one entry"
                )
            seen.add(entry.name)
        return self
