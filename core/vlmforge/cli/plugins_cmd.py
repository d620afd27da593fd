"""``vlmforge plugins``: the loaded plugins and the components they register."""

from __future__ import annotations

import json

import click

from vlmforge.cli.options import plugins_dir_option


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@plugins_dir_option
def plugins(as_json: bool, plugins_dirs: tuple[str, ...]) -> None:
    """List plugins: distribution, version, hooks and components (with availability)."""
    from vlmforge.plugins import get_host

    rows = get_host(plugins_dirs).describe()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    from vlmforge.cli.output import console

    table = Table(title="vlmforge plugins")
    for column in ("plugin", "distribution", "hooks", "components"):
        table.add_column(column, overflow="fold")
    for row in rows:
        dist = f"{row['distribution'] or '-'} {row['version'] or ''}".strip()
        hooks = "\n".join(row["hooks"]) or "-"
        comps = []
        for c in row["components"]:
            line = f"{c['kind']}: {c['name']}"
            if not c["available"]:
                hint = c["install_hint"] or ", ".join(c["missing"])
                line += f" [yellow](unavailable: {escape(hint)})[/]"
            comps.append(line)
        if row["error"]:
            comps.append(f"[red]error: {escape(row['error'])}[/]")
        table.add_row(row["name"], dist, hooks, "\n".join(comps) or "-")
    console().print(table)
