"""``vlmforge traces copy --from STORE:WHERE --to STORE:WHERE``: runs from one trace store into
another (``sqlite:traces.db`` to ``postgres:postgresql://...`` and back), through
:func:`vlmforge.store_copy.copy_runs`."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click

from vlmforge.cli.options import plugins_dir_option
from vlmforge.cli.traces import command
from vlmforge.errors import ConfigError

# The setting a WHERE fills, by what the store's config_model has (a file, a connection string).
_WHERE_SETTINGS = ("path", "dsn")


def store_spec(registry: Any, spec: str, flag: str) -> tuple[str, dict[str, Any]]:
    """``NAME:WHERE`` -> (store name, its settings): WHERE is the store's ``path`` setting, or
    its ``dsn`` one; ``NAME:`` alone leaves the store's defaults (postgres: ``$VLMFORGE_PG_DSN``).
    Messages never repeat WHERE: a connection string may hold a password."""
    name, sep, where = spec.partition(":")
    if not sep or not name:
        raise ConfigError(
            f"{flag} takes STORE:WHERE, e.g. sqlite:traces.db or "
            "postgres:postgresql://USER@HOST/DB (postgres: alone reads the connection string "
            "from $VLMFORGE_PG_DSN)."
        )
    factory = registry.get("store", name).load()
    fields = getattr(getattr(factory, "config_model", None), "model_fields", {})
    if not where:
        return name, {}
    for setting in _WHERE_SETTINGS:
        if setting in fields:
            return name, {setting: where}
    raise ConfigError(
        f"{flag}: store '{name}' has no 'path' or 'dsn' setting for the part after '{name}:'; "
        f"write {name}: alone."
    )


@command.command("copy")
@click.option("--from", "source_spec", required=True, metavar="STORE:WHERE", help="Copy from.")
@click.option("--to", "target_spec", required=True, metavar="STORE:WHERE", help="Copy into.")
@click.option("--run", "run_refs", multiple=True, metavar="RUN", help="Only this run (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print what was copied as JSON.")
@plugins_dir_option
def copy_cmd(
    source_spec: str,
    target_spec: str,
    run_refs: tuple[str, ...],
    as_json: bool,
    plugins_dirs: tuple[str, ...],
) -> None:
    """Copy runs (every run, or each --run) with their episodes, steps and frames into another
    trace store, exactly: e.g. --from sqlite:traces.db --to postgres:postgresql://me@db/traces,
    and back. The target must not hold those runs yet; the source is only read."""
    from vlmforge.cli.options import load_registry
    from vlmforge.cli.output import console
    from vlmforge.components_build import build_component
    from vlmforge.store_copy import copy_runs
    from vlmforge.store_read import open_store_for_reading

    registry = load_registry(plugins_dirs)
    source_name, source_settings = store_spec(registry, source_spec, "--from")
    target_name, target_settings = store_spec(registry, target_spec, "--to")
    source = open_store_for_reading(
        registry,
        source_name,
        source_settings,
        where="--from",
        missing=f"--from: the {source_name} trace store does not exist (nothing to copy).",
    )
    try:
        target = build_component(registry, "store", target_name, target_settings, where="--to")
        try:
            if source.where == target.where:
                raise ConfigError(f"--from and --to are the same store ({source.where}).")
            counts = copy_runs(source, target, run_refs)
        finally:
            target.close()
    finally:
        source.close()
    if as_json:
        click.echo(json.dumps({"from": source.where, "to": target.where, **asdict(counts)}))
        return
    note = (
        f"; {counts.interrupted} still running there, copied as interrupted"
        if (counts.interrupted)
        else ""
    )
    console().print(
        f"copied {counts.runs} run(s), {counts.episodes} episode(s), {counts.steps} step(s), "
        f"{counts.images} frame(s) from {source.where} to {target.where}{note}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
