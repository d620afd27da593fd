"""The two streaming passes of ``vlmforge filter``.

Pass 1 reads one episode at a time from the stores, applies the filters, builds rows, drops
duplicates and appends the rows to an on-disk spool (images by hash). The split is then decided
over the kept episodes. Pass 2 reads the spooled rows in a seeded shuffled order, resolves images
from the stores and hands each row to the exporter of its split. Memory holds one episode's steps
plus a few bytes per row (offset, episode, dedupe key), whatever the size of the databases.

Everything is written to a staging folder inside the output directory and moved into place only
when the export is complete, so a failed run leaves an earlier export untouched.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import time
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console

from vlmforge.components import CorruptTraceError, Exporter, Filter
from vlmforge.components_build import build_component, lookup
from vlmforge.config import TomlSource
from vlmforge.dataset.chain import FilterChain
from vlmforge.dataset.config import FilterConfig
from vlmforge.dataset.dedupe import Deduper
from vlmforge.dataset.failures import component_failed, component_label
from vlmforge.dataset.rows import Example, RowBuilder
from vlmforge.dataset.source import Source
from vlmforge.dataset.split import row_order, validation_episodes
from vlmforge.dataset.spool import Spool
from vlmforge.dataset.staging import STAGING_PREFIX, make_staging, publish
from vlmforge.dataset.stats import FilterStats
from vlmforge.errors import ConfigError, StorageFullError, VlmforgeError, is_disk_full
from vlmforge.store_read import open_store_for_reading
from vlmforge.trace import Message

STATS_FILE = "filter_stats.json"
STORE_PATH_KEY = "path"
SPLITS = ("train", "val")
CORRUPT_HINT = (
    'Set on_corrupt = "skip" in the filter config to leave such episodes (and rows) out '
    "(counted in filter_stats.json)."
)


def build_filters(
    cfg: FilterConfig, registry: Any, toml: TomlSource | None = None
) -> list[tuple[str, Filter]]:
    """The configured filters, each validated against its own config model."""
    out: list[tuple[str, Filter]] = []
    for i, entry in enumerate(cfg.filters):
        where = f"[[filters]] #{i + 1} ({entry.name})"
        if toml is not None:
            where = f"{toml.path} {where}"
        with _built_safely(registry, "filter", entry.name):
            flt = build_component(
                registry,
                "filter",
                entry.name,
                entry.settings(),
                where=where,
                toml=toml,
                prefix=("filters", i),
            )
        out.append((entry.name, flt))
    return out


@contextlib.contextmanager
def _built_safely(registry: Any, kind: str, name: str) -> Iterator[None]:
    """A component whose constructor raises is named, with its plugin (not a traceback)."""
    try:
        yield
    except VlmforgeError:
        raise
    except Exception as exc:  # plugin code
        label = component_label(kind, name, registry.get(kind, name).plugin)
        raise component_failed(kind, label, "while being built", exc) from exc


def build_exporter(cfg: FilterConfig, registry: Any, toml: TomlSource | None = None) -> Exporter:
    where = str(toml.path) if toml else "exporter_options"
    lookup(registry, "exporter", cfg.exporter, toml=toml, key="exporter")  # file:line if unknown
    with _built_safely(registry, "exporter", cfg.exporter):
        exporter: Exporter = build_component(
            registry,
            "exporter",
            cfg.exporter,
            cfg.exporter_options,
            where=where,
            toml=toml,
            prefix=("exporter_options",),
        )
    return exporter


def open_source(cfg: FilterConfig, registry: Any, toml: TomlSource | None = None) -> Source:
    """One store per trace database, merged, each opened read-only
    (:func:`vlmforge.store_read.open_store_for_reading`): the store's own ``read_settings`` (if
    it declares any), then the ``[store]`` settings, then the path."""
    if not cfg.trace_dbs:
        raise ConfigError(
            "no trace database given: pass --trace-db PATH (repeatable) or set "
            "trace_dbs = [...] in the filter config."
        )
    where = str(toml.path) if toml else "[store]"
    stores, labels = [], []
    try:
        for db in cfg.trace_dbs:
            missing = (
                f"trace database '{db}' does not exist (--trace-db / trace_dbs). "
                f"Record one with `vlmforge eval` first."
            )
            if not Path(db).is_file():
                raise ConfigError(missing)
            settings = {**cfg.store.settings(), STORE_PATH_KEY: str(db)}
            stores.append(
                open_store_for_reading(
                    registry,
                    cfg.store.name,
                    settings,
                    where=where,
                    missing=missing,
                    streaming=True,
                    toml=toml,
                    prefix=("store",),
                )
            )
            labels.append(str(db))
    except BaseException:
        for store in stores:
            store.close()
        raise
    return Source(stores, labels)


def check_output_dir(cfg: FilterConfig) -> None:
    out = cfg.output_dir
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output_dir '{out}' exists and is not a directory (--output-dir).")
    if out.is_dir() and not cfg.overwrite:
        existing = [p.name for p in out.iterdir() if not p.name.startswith(STAGING_PREFIX)]
        if existing:
            raise ConfigError(
                f"output_dir '{out}' is not empty ({', '.join(sorted(existing)[:5])}). Choose "
                f"another --output-dir, or pass --overwrite / set overwrite = true to replace "
                f"the files this export writes."
            )


class _Progress:
    """A rich progress bar on ``console`` (default: a new stderr console), or nothing."""

    def __init__(self, enabled: bool, console: Console | None = None):
        self.enabled, self.console = enabled, console
        self._progress: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=self.console or Console(stderr=True, highlight=False, soft_wrap=True),
                transient=False,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def track(self, items: Iterator[Any], total: int, description: str) -> Iterator[Any]:
        if self._progress is None:
            yield from items
            return
        task = self._progress.add_task(description, total=total)
        for item in items:
            yield item
            self._progress.advance(task)


def run_filter(
    cfg: FilterConfig,
    registry: Any,
    toml: TomlSource | None = None,
    *,
    console: Console | None = None,
) -> FilterStats:
    """Filter, build rows, dedupe, split and export; returns the stats (also written to disk).

    With ``cfg.progress`` a progress bar is drawn on ``console`` (default: a stderr console).
    """
    started = time.perf_counter()
    check_output_dir(cfg)
    filters = build_filters(cfg, registry, toml)
    chain = FilterChain(filters, {name: registry.get("filter", name).plugin for name, _ in filters})
    built = {s: build_exporter(cfg, registry, toml) for s in SPLITS}  # unknown name: file:line
    label = component_label("exporter", cfg.exporter, registry.get("exporter", cfg.exporter).plugin)
    exporters = {s: _GuardedExporter(exporter, label, s) for s, exporter in built.items()}
    source = open_source(cfg, registry, toml)
    created = not cfg.output_dir.exists()
    published = False
    try:
        with contextlib.closing(source):
            staging = make_staging(cfg.output_dir)
            try:
                stats = _export(cfg, source, chain, exporters, staging, console, started)
                publish(staging, cfg.output_dir)
                published = True
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except (OSError, sqlite3.Error) as exc:
        if not is_disk_full(exc):
            raise
        raise StorageFullError(
            f"the disk holding output_dir '{cfg.output_dir}' is full ({_reason(exc)}); nothing "
            "was published: the staging folder was removed"
            + ("" if created else " and the files already in the folder are untouched")
            + ". Free some space and run the filter again."
        ) from None
    finally:
        if created and not published:
            _remove_if_empty(cfg.output_dir)
    return stats


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _remove_if_empty(folder: Path) -> None:
    """Remove a folder this run created and left empty (a failed first export)."""
    with contextlib.suppress(OSError):  # not empty (another writer) or already gone: keep it
        folder.rmdir()


def _export(
    cfg: FilterConfig,
    source: Source,
    chain: FilterChain,
    exporters: Mapping[str, Exporter],
    staging: Path,
    console: Console | None,
    started: float,
) -> FilterStats:
    """Both passes into ``staging``, with the stats file; nothing is published here."""
    stats = FilterStats(sources=list(source.labels), exporter=cfg.exporter)
    stats.settings = json.loads(cfg.model_dump_json())
    with _Progress(cfg.progress, console) as progress:
        spool = Spool(staging)
        try:
            keys, strata = _pass_one(cfg, source, chain, spool, stats, progress, staging)
            val = validation_episodes(keys, strata, cfg.val_fraction, cfg.seed, cfg.stratify)
            _pass_two(cfg, source, spool, val, exporters, staging, stats, progress)
        finally:
            spool.close()
    stats.filters = chain.counts
    stats.elapsed_s = time.perf_counter() - started
    (staging / STATS_FILE).write_text(json.dumps(stats.as_dict(), indent=2) + "\n")
    return stats


def _pass_one(
    cfg: FilterConfig,
    source: Source,
    chain: FilterChain,
    spool: Spool,
    stats: FilterStats,
    progress: _Progress,
    staging: Path,
) -> tuple[list[str], list[int]]:
    """Filter and build rows episode by episode; returns the kept episodes' keys and strata."""
    builder = RowBuilder(cfg.rows)
    deduper = Deduper(cfg.dedupe, staging / "dedupe.sqlite")
    try:
        return _filter_and_spool(cfg, source, chain, spool, stats, progress, builder, deduper)
    finally:
        deduper.close()
        (staging / "dedupe.sqlite").unlink(missing_ok=True)


def _filter_and_spool(
    cfg: FilterConfig,
    source: Source,
    chain: FilterChain,
    spool: Spool,
    stats: FilterStats,
    progress: _Progress,
    builder: RowBuilder,
    deduper: Deduper,
) -> tuple[list[str], list[int]]:
    keys: list[str] = []
    strata: list[int] = []
    stats.input_runs = source.run_count()
    total = source.count_episodes()
    for ref in progress.track(source.episodes(), total, "filtering episodes"):
        stats.input_episodes += 1
        stats.input_steps += ref.episode.steps
        try:
            item = chain.apply(ref.run, ref.episode, partial(source.steps, ref))
        except CorruptTraceError as exc:
            if cfg.on_corrupt == "stop":
                raise CorruptTraceError(
                    f"{exc} {CORRUPT_HINT}", episode_id=exc.episode_id, step=exc.step
                ) from None
            stats.corrupt.add(str(exc), row=False)
            continue
        if item is None:
            continue
        stats.kept_episodes += 1
        stats.kept_steps += len(item.steps)
        ordinal, added = len(keys), 0
        for example in builder.examples(item, source.labels[ref.source]):
            stats.rows_built += 1
            if deduper.seen(example.dedupe_key):
                continue
            spool.append(example, ordinal, ref.source)
            added += 1
        if added:
            # run name + seed, not the random episode id: the same traces split the same way
            keys.append(f"{ref.source}:{ref.run.name}:{ref.episode.seed:020d}:{len(keys):09d}")
            strata.append(ref.episode.unique_achievements)
    stats.rows = builder.counts
    stats.dedupe_removed = deduper.removed
    return keys, strata


def _pass_two(
    cfg: FilterConfig,
    source: Source,
    spool: Spool,
    val: set[int],
    exporters: Mapping[str, Exporter],
    staging: Path,
    stats: FilterStats,
    progress: _Progress,
) -> None:
    """Write the spooled rows, shuffled, to the exporter of each row's split."""
    for split, exporter in exporters.items():
        exporter.open(staging, split)
    episodes: dict[str, set[int]] = {"train": set(), "val": set()}
    counts = {"train": 0, "val": 0}
    order = row_order(len(spool), cfg.seed, cfg.shuffle)
    for messages, tools, metadata, episode, src in progress.track(
        spool.rows(order), len(spool), "writing rows"
    ):
        split = "val" if episode in val else "train"
        try:
            _resolve_images(source, src, messages, metadata)
        except CorruptTraceError as exc:
            if cfg.on_corrupt == "stop":
                raise CorruptTraceError(f"{exc} {CORRUPT_HINT}") from None
            stats.corrupt.add(str(exc), row=True)
            continue
        example = Example(
            messages=messages,
            tools=tools,
            metadata=metadata,
            image=partial(source.image, src),
            mode=cfg.rows.mode,
        )
        exporters[split].write(example)
        counts[split] += 1
        episodes[split].add(episode)
    stats.exports = {split: exp.close() for split, exp in exporters.items()}
    stats.train_rows, stats.val_rows = counts["train"], counts["val"]
    stats.train_episodes, stats.val_episodes = len(episodes["train"]), len(episodes["val"])


class _GuardedExporter:
    """An exporter whose exceptions name it, its plugin, the split and the row's episode/step
    (:mod:`vlmforge.dataset.failures`)."""

    def __init__(self, exporter: Exporter, label: str, split: str):
        self.exporter, self.label, self.split = exporter, label, split

    def open(self, directory: Path, split: str) -> None:
        with self._guard(f"while opening the {split} split"):
            self.exporter.open(directory, split)

    def write(self, example: Example) -> None:
        meta = example.metadata
        row = (
            f"on a {self.split} row of episode {meta.get('episode')} "
            f"(run '{meta.get('run_name')}', seed {meta.get('seed')}, step {meta.get('step')})"
        )
        with self._guard(row):
            self.exporter.write(example)

    def close(self) -> dict[str, Any]:
        with self._guard(f"while closing the {self.split} split"):
            return self.exporter.close()
        raise AssertionError("unreachable")  # for type checkers: _guard re-raises

    @contextlib.contextmanager
    def _guard(self, where: str) -> Iterator[None]:
        try:
            yield
        except VlmforgeError:
            raise
        except Exception as exc:  # plugin code: name the exporter, its plugin, the row
            raise component_failed("exporter", self.label, where, exc) from exc


def _resolve_images(
    source: Source, src: int, messages: list[Message], metadata: dict[str, Any]
) -> None:
    """Read the row's images (into the source's cache, for the exporter) before the exporter
    sees the row: a missing one is a :class:`CorruptTraceError` naming run, episode and step."""
    for message in messages:
        for sha in message.image_hashes():
            try:
                source.image(src, sha)
            except CorruptTraceError:
                first, last = metadata.get("step"), metadata.get("step_end")
                steps = f"step {first}" if last in (None, first) else f"steps {first}-{last}"
                raise CorruptTraceError(
                    f"trace store {source.labels[src]}: run {metadata.get('run_name')}, episode "
                    f"{metadata.get('episode')} (seed {metadata.get('seed')}), {steps}: "
                    f"image {sha} is missing from the store.",
                    episode_id=metadata.get("episode"),
                ) from None
