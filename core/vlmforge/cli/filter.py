"""``vlmforge filter``: select good episodes/steps from trace databases and export SFT datasets."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.markup import escape

from vlmforge.cli.options import (
    RegisteredNamesOption,
    parse_set_options,
    plugins_dir_option,
    set_options_option,
)


@click.command("filter")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="A filter TOML file (see configs/filter_*.toml and docs/filter.md).",
)
@click.option(
    "--trace-db",
    "trace_dbs",
    multiple=True,
    metavar="PATH",
    help="A trace database to read (repeatable: databases are merged). Replaces trace_dbs.",
)
@click.option("--store", default=None, metavar="NAME", help="Trace store component (sqlite).")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="NAME",
    help="Run these filters, in this order (repeatable). Replaces the config's list; a filter "
    "also listed in the config keeps its settings from there.",
)
@click.option(
    "--exporter",
    cls=RegisteredNamesOption,
    kind="exporter",
    default=None,
    metavar="NAME",
    help="The exporter: {names}.",
)
@click.option("--output-dir", default=None, metavar="DIR", help="Where the export is written.")
@click.option("--val-fraction", type=float, default=None, help="Fraction of episodes for val.")
@click.option("--seed", type=int, default=None, help="Seed of the split and the row shuffle.")
@click.option("--overwrite", is_flag=True, default=None, help="Replace an existing export.")
@click.option("--no-progress", is_flag=True, default=False, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print filter_stats.json to stdout.")
@set_options_option("rows.mode=episode -o exporter_options.absolute_paths=true")
@plugins_dir_option
def command(
    config_path: str | None,
    trace_dbs: tuple[str, ...],
    store: str | None,
    filters: tuple[str, ...],
    exporter: str | None,
    output_dir: str | None,
    val_fraction: float | None,
    seed: int | None,
    overwrite: bool | None,
    no_progress: bool,
    as_json: bool,
    settings: tuple[str, ...],
    plugins_dirs: tuple[str, ...],
) -> None:
    """Filter traces, build rows, dedupe, split by episode and export (train/val + stats)."""
    from vlmforge.cli.options import load_registry
    from vlmforge.cli.output import console, error_console
    from vlmforge.config import load_command_config
    from vlmforge.dataset.config import FilterConfig
    from vlmforge.dataset.pipeline import STATS_FILE, run_filter

    overrides: dict[str, Any] = {
        "trace_dbs": list(trace_dbs) or None,
        "exporter": exporter,
        "output_dir": output_dir,
        "val_fraction": val_fraction,
        "seed": seed,
        "overwrite": overwrite,
        "progress": False if no_progress else None,
    }
    reorder = False

    def prepare(data: dict[str, Any]) -> dict[str, Any]:
        nonlocal reorder
        if filters:
            listed = data.get("filters", [])
            by_name = {e.get("name"): e for e in listed if isinstance(e, dict)}
            chosen = [by_name.get(name, {"name": name}) for name in filters]
            reorder = chosen != listed
            data["filters"] = chosen
        if store:  # --store NAME: the file's [store] settings are kept only for that store
            given = data.get("store")
            table: dict[str, Any] = given if isinstance(given, dict) else {}
            data["store"] = {**(table if table.get("name", store) == store else {}), "name": store}
        return data

    loaded = load_command_config(
        FilterConfig, config_path, overrides, prepare=prepare, settings=parse_set_options(settings)
    )
    cfg, toml = loaded.config, loaded.source
    registry = load_registry(plugins_dirs)
    # line numbers of [[filters]] settings are only meaningful in the file's own order
    stats = run_filter(cfg, registry, toml=None if reorder else toml, console=error_console())
    if as_json:
        click.echo(json.dumps(stats.as_dict(), indent=2))
        return
    out = console()
    out.print(stats.table())
    for split, summary in stats.exports.items():
        for warning in summary.get("warnings", []):
            out.print(f"[yellow]warning ({split}):[/] {escape(str(warning))}", markup=True)
    out.print(f"wrote {cfg.output_dir}/ ({cfg.exporter}); stats in {cfg.output_dir / STATS_FILE}")
