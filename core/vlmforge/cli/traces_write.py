"""``vlmforge traces rm`` and ``vlmforge traces gc``: the commands that delete from a store.

They go through the store's optional :class:`~vlmforge.components.SupportsCleanup` methods; a
store without them is refused with a message. Neither asks for confirmation (scripts run them);
``rm`` refuses a run that a live process is still playing unless ``--force``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from vlmforge.cli.traces import _store_options, command, trace_db_settings
from vlmforge.components import StoreCleanup
from vlmforge.errors import ConfigError
from vlmforge.redaction import redact_text
from vlmforge.store_read import store_exists


@contextmanager
def open_store_for_writing(
    store_name: str, trace_db: str, plugins_dirs: tuple[str, ...]
) -> Iterator[Any]:
    """The store (which must exist and support clean-up), closed on leaving."""
    from vlmforge.cli.options import load_registry
    from vlmforge.components_build import build_component

    registry = load_registry(plugins_dirs)
    factory = registry.get("store", store_name).load()
    settings = trace_db_settings(factory, trace_db)
    if not store_exists(factory, settings):
        raise ConfigError(
            f"trace database '{redact_text(trace_db)}' does not exist; pass --trace-db PATH."
        )
    store = build_component(registry, "store", store_name, settings, where="--trace-db")
    try:
        if not all(callable(getattr(store, m, None)) for m in ("remove_run", "collect_garbage")):
            raise ConfigError(
                f"store '{store_name}' cannot delete runs or collect garbage (it does not "
                "implement SupportsCleanup, docs/hooks.md)."
            )
        yield store
    finally:
        store.close()


def describe(cleanup: StoreCleanup) -> str:
    """``3 episodes, 120 steps, ... (1.2 MB)``: the non-zero counts and the bytes."""
    parts = [
        f"{n} {label if n == 1 else label + 's'}"
        for n, label in (
            (cleanup.runs, "run"),
            (cleanup.episodes, "episode"),
            (cleanup.steps, "step"),
            (cleanup.achievements, "achievement"),
            (cleanup.images, "image"),
            (cleanup.messages, "prompt message"),
        )
        if n
    ]
    return f"{', '.join(parts) or 'nothing'} ({human_bytes(cleanup.bytes_freed)})"


def human_bytes(n: int) -> str:
    """``812 B``, ``1.2 KB``, ``3.4 MB`` (decimal units)."""
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("KB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"


def _as_json(cleanup: StoreCleanup, **extra: Any) -> str:
    from dataclasses import asdict

    return json.dumps({**extra, **asdict(cleanup)}, indent=2)


@command.command("rm")
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--force",
    is_flag=True,
    help="Remove the run even while a live process is playing it (that process then stops "
    "with an error).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@_store_options
def rm_cmd(
    run_ref: str,
    force: bool,
    as_json: bool,
    store_name: str,
    trace_db: str,
    plugins_dirs: tuple[str, ...],
) -> None:
    """Delete run RUN (name or id) with its episodes, steps, achievements, and the frames and
    prompt messages no other step uses. Asks nothing; refuses a run a live process is playing
    unless --force."""
    from vlmforge.cli.output import console

    with open_store_for_writing(store_name, trace_db, plugins_dirs) as store:
        run = store.get_run(run_ref)
        if run is None:
            raise ConfigError(f"no run '{run_ref}' in {store.where} (see `vlmforge traces list`).")
        removed = store.remove_run(run.id, force=force)
    if removed.runs == 0:  # removed by another process meanwhile
        raise ConfigError(f"no run '{run_ref}' in {store.where} (see `vlmforge traces list`).")
    if as_json:
        click.echo(_as_json(removed, run_id=run.id, run_name=run.name))
        return
    console().print(
        f"removed run '{run.name}' ({run.id}) from {store.where}: {describe(removed)}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@command.command("gc")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@_store_options
def gc_cmd(
    dry_run: bool, as_json: bool, store_name: str, trace_db: str, plugins_dirs: tuple[str, ...]
) -> None:
    """Delete frames and prompt messages no step references (an interrupted episode replayed by
    --resume leaves its own behind), and rows whose episode or run is gone. Safe while evals
    write the database."""
    from vlmforge.cli.output import console

    with open_store_for_writing(store_name, trace_db, plugins_dirs) as store:
        removed = store.collect_garbage(dry_run=dry_run)
    if as_json:
        click.echo(_as_json(removed))
        return
    verb = "would remove" if dry_run else "removed"
    console().print(
        f"{verb} {describe(removed)} from {store.where}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
