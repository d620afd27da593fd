"""``vlmforge traces``: look at what a trace store holds (runs, episodes, steps, frames)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from vlmforge.cli.options import plugins_dir_option
from vlmforge.errors import ConfigError
from vlmforge.redaction import redact_text
from vlmforge.store_read import location_settings

DEFAULT_TRACE_DB = "traces.db"


def _store_options(func: Any) -> Any:
    func = click.option(
        "--trace-db",
        default=DEFAULT_TRACE_DB,
        show_default=True,
        metavar="PATH",
        help="Database file (the store's 'path' setting; --store postgres: its DSN, default "
        "$VLMFORGE_PG_DSN).",
    )(func)
    func = click.option(
        "--store",
        "store_name",
        default="sqlite",
        show_default=True,
        metavar="NAME",
        help="Trace store.",
    )(func)
    return plugins_dir_option(func)


CORRUPT_HINT = (
    "The store's other episodes can still be read; `vlmforge filter` skips episodes like this "
    'one with on_corrupt = "skip" in its config.'
)


@contextmanager
def open_store(
    store_name: str, trace_db: str, plugins_dirs: tuple[str, ...], *, writable: bool = False
) -> Iterator[Any]:
    """The store, closed on leaving. For reading (the default) it is opened read-only and a
    store its factory says is missing is an error (reading never creates or changes one); a
    record that cannot be read back is reported with what to do about it."""
    from vlmforge.cli.options import load_registry
    from vlmforge.components import CorruptTraceError
    from vlmforge.components_build import build_component
    from vlmforge.store_read import open_store_for_reading

    registry = load_registry(plugins_dirs)
    settings = trace_db_settings(registry.get("store", store_name).load(), trace_db)
    if writable:
        store = build_component(registry, "store", store_name, settings, where="--trace-db")
    else:
        store = open_store_for_reading(
            registry,
            store_name,
            settings,
            where="--trace-db",
            missing=f"trace database '{redact_text(trace_db)}' does not exist; pass "
            "--trace-db PATH.",
        )
    try:
        yield store
    except CorruptTraceError as exc:
        raise CorruptTraceError(
            f"{exc} {CORRUPT_HINT}", episode_id=exc.episode_id, step=exc.step
        ) from None
    finally:
        store.close()


def trace_db_settings(factory: Any, trace_db: str) -> dict[str, Any]:
    """``--trace-db`` as the store's settings (:func:`vlmforge.store_read.location_settings`);
    the default ``traces.db`` given to a store with a ``dsn`` (postgres) leaves its default
    (``$VLMFORGE_PG_DSN``)."""
    fields = getattr(getattr(factory, "config_model", None), "model_fields", {})
    if trace_db == DEFAULT_TRACE_DB and "path" not in fields:
        return location_settings(factory, None)
    return location_settings(factory, trace_db)


def select_runs(store: Any, run_ref: str | None, trace_db: str) -> list[Any]:
    """All runs, or only ``run_ref`` (a name or id), which must exist."""
    runs = list(store.runs())
    if run_ref is not None:
        runs = [r for r in runs if run_ref in (r.id, r.name)]
        if not runs:
            raise ConfigError(f"no run '{run_ref}' in {store.where}.")
    return runs


def find_episode(store: Any, ref: str) -> Any:
    """An episode by id, or ``RUN:SEED`` (run name or id)."""
    episode = store.get_episode(ref)
    if episode is not None:
        return episode
    run_ref, sep, seed = ref.rpartition(":")
    if sep and seed.isdigit():
        run = store.get_run(run_ref)
        if run is not None:
            from vlmforge.components import EpisodeQuery

            found = list(store.episodes(query=EpisodeQuery(run_ids=[run.id], seeds=[int(seed)])))
            if found:
                return found[-1]
    raise ConfigError(
        f"no episode '{ref}' in the trace store; give an episode id or RUN:SEED "
        "(see `vlmforge traces list`)."
    )


@click.group("traces")
def command() -> None:
    """List, inspect and delete recorded runs and episodes."""


@command.command("list")
@click.option("--run", "run_ref", default=None, help="Only this run (name or id).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_store_options
def list_cmd(
    run_ref: str | None,
    as_json: bool,
    store_name: str,
    trace_db: str,
    plugins_dirs: tuple[str, ...],
) -> None:
    """Runs and their episodes."""
    from rich.box import SIMPLE_HEAD
    from rich.table import Table

    from vlmforge.cli.output import console, copyable_column

    with open_store(store_name, trace_db, plugins_dirs) as store:
        runs = select_runs(store, run_ref, trace_db)
        episodes = list(store.episodes([r.id for r in runs]))
    if as_json:
        click.echo(
            json.dumps(
                {
                    "runs": [
                        r.model_dump(mode="json", exclude={"tools", "system_prompt"}) for r in runs
                    ],
                    "episodes": [e.model_dump(mode="json") for e in episodes],
                },
                indent=2,
            )
        )
        return
    table = Table(
        title="runs", title_justify="left", box=SIMPLE_HEAD, collapse_padding=True, pad_edge=False
    )
    copyable_column(table, "name", [r.name for r in runs])
    copyable_column(table, "id", [r.id for r in runs])
    for col in ("created", "env", "policy", "model", "episodes"):
        table.add_column(col)
    for r in runs:
        eps = [e for e in episodes if e.run_id == r.id]
        done = sum(e.status.value == "done" for e in eps)
        table.add_row(
            r.name,
            r.id,
            r.created_at.strftime("%m-%d %H:%M"),
            r.env_name,
            r.policy_name,
            r.model or "-",
            f"{done}/{len(eps)} done",
        )
    console().print(table)
    for r in runs:  # one table per run: the episode ids stay whole on an 80-column screen
        eps = [e for e in episodes if e.run_id == r.id]
        if not eps:
            continue
        table = Table(
            title=f"episodes of {r.name}",
            title_justify="left",
            box=SIMPLE_HEAD,
            collapse_padding=True,
            pad_edge=False,
        )
        copyable_column(table, "id", [e.id for e in eps])
        for col in ("seed", "status", "steps", "decisions", "unlocked", "reward", "invalid"):
            table.add_column(col)
        for e in eps:
            table.add_row(
                e.id,
                str(e.seed),
                e.status.value,
                str(e.env_steps),
                str(e.steps),
                str(e.unique_achievements),
                f"{e.total_reward:.1f}",
                str(e.invalid_decisions),
            )
        console().print(table)


@command.command("show")
@click.argument("episode_ref", metavar="EPISODE")
@click.option("--json", "as_json", is_flag=True, help="Print the steps as JSON (images by hash).")
@_store_options
def show_cmd(
    episode_ref: str, as_json: bool, store_name: str, trace_db: str, plugins_dirs: tuple[str, ...]
) -> None:
    """One episode's steps: actions, rewards, achievements, invalid decisions."""
    from rich.table import Table

    from vlmforge.cli.eval_display import episode_line
    from vlmforge.cli.output import console

    with open_store(store_name, trace_db, plugins_dirs) as store:
        episode = find_episode(store, episode_ref)
        steps = list(store.steps(episode.id))
    if as_json:
        click.echo(
            json.dumps(
                {
                    "episode": episode.model_dump(mode="json"),
                    "steps": [s.model_dump(mode="json") for s in steps],
                },
                indent=2,
            )
        )
        return
    console().print(
        f"episode {episode.id} ({episode.status.value}, termination {episode.termination or '-'})",
        markup=False,
    )
    console().print(episode_line(episode), markup=False, soft_wrap=True)
    table = Table()
    for col in ("step", "actions", "reward", "achievements", "invalid", "reply"):
        table.add_column(col)
    for s in steps:
        invalid = ", ".join(i.kind for i in s.invalid) or (
            "no tool call" if not s.tool_calls else ""
        )
        reply = s.reply.text() if s.reply is not None else ""
        table.add_row(
            str(s.index),
            " ".join(s.actions),
            f"{s.reward:g}",
            ", ".join(s.achievements),
            invalid,
            _clip(reply or s.error or ""),
        )
    console().print(table)


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@command.command("stats")
@click.option("--run", "run_ref", default=None, help="Only this run (name or id).")
@click.option("--prices", default=None, metavar="PATH", help="Extra per-model prices (TOML).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_store_options
def stats_cmd(
    run_ref: str | None,
    prices: str | None,
    as_json: bool,
    store_name: str,
    trace_db: str,
    plugins_dirs: tuple[str, ...],
) -> None:
    """Summary metrics per run (the same numbers as `vlmforge eval`, minus wall time)."""
    from vlmforge.cli.eval_display import achievements_table, comparison_table, summary_table
    from vlmforge.cli.output import console
    from vlmforge.pricing import load_prices
    from vlmforge.summary import summarize

    table_prices = load_prices(prices)
    with open_store(store_name, trace_db, plugins_dirs) as store:
        runs = select_runs(store, run_ref, trace_db)
        summaries = [summarize(store, r, prices=table_prices) for r in runs]
    if as_json:
        click.echo(json.dumps({"version": 1, "runs": summaries}, indent=2))
        return
    if not summaries:
        console().print("no runs.")
        return
    labels = [s["run_name"] for s in summaries]
    console().print(
        summary_table(summaries[0]) if len(summaries) == 1 else comparison_table(summaries, labels)
    )
    console().print(achievements_table(summaries, labels))


@command.command("frames")
@click.argument("episode_ref", metavar="EPISODE")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for step_NNN.png and episode.gif.",
)
@click.option("--gif-ms", default=120, show_default=True, help="GIF frame duration (ms).")
@_store_options
def frames_cmd(
    episode_ref: str,
    out_dir: str,
    gif_ms: int,
    store_name: str,
    trace_db: str,
    plugins_dirs: tuple[str, ...],
) -> None:
    """Write each step's frame as PNG plus an animated GIF of the episode."""
    from vlmforge.cli.output import console
    from vlmforge.frames import write_gif

    with open_store(store_name, trace_db, plugins_dirs) as store:
        episode = find_episode(store, episode_ref)
        frames = _frames(store, episode)  # every frame read before one is written
    if not frames:
        raise ConfigError(f"episode {episode.id} has no frames (was it run without images?).")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for index, png in frames:
        (out / f"step_{index:03d}.png").write_bytes(png)
    pngs = [png for _, png in frames]
    gif = write_gif(out / "episode.gif", pngs, duration_ms=gif_ms)
    console().print(f"wrote {len(pngs)} frames and {gif}", markup=False)


def _frames(store: Any, episode: Any) -> list[tuple[int, bytes]]:
    """(step index, PNG) of each step's newest frame; a missing image names its step."""
    from vlmforge.components import CorruptTraceError

    frames = []
    for step in store.steps(episode.id):
        if not step.observation.images:
            continue
        sha = step.observation.images[-1]
        try:
            frames.append((step.index, store.image(sha)))
        except CorruptTraceError:
            run = store.get_run(episode.run_id)
            raise CorruptTraceError(
                f"trace store {store.where}: run {run.name if run else episode.run_id}, episode "
                f"{episode.id} (seed {episode.seed}), step {step.index}: its frame {sha} is "
                "missing from the store.",
                episode_id=episode.id,
                step=step.index,
            ) from None
    return frames


# `traces rm`, `traces gc` (the commands that delete) and `traces copy` register themselves on
# the group.
from vlmforge.cli import traces_copy, traces_write  # noqa: E402, F401
