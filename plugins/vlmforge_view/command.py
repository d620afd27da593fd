"""``vlmforge view``: browse a trace store in the browser, or export runs as one HTML file."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from vlmforge.cli.options import plugins_dir_option

EXIT_INTERRUPTED = 130  # Ctrl-C, as `vlmforge eval` and `vlmforge serve`


@click.command("view")
@click.argument("runs", nargs=-1, metavar="[RUN]...")
@click.option(
    "--trace-db",
    default="traces.db",
    show_default=True,
    metavar="PATH",
    help="Database to read (the store's 'path' setting); opened read-only.",
)
@click.option(
    "--store",
    "store_name",
    default="sqlite",
    show_default=True,
    metavar="NAME",
    help="Trace store component.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8800,
    show_default=True,
    help="Port (0: any free port; the URL is printed).",
)
@click.option(
    "--filter-config",
    "filter_configs",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A `vlmforge filter` TOML to preview on this store (repeatable).",
)
@click.option(
    "--train-dir",
    "train_dirs",
    multiple=True,
    type=click.Path(file_okay=False),
    help="A `vlmforge train` output_dir whose loss / reward curve to show (repeatable).",
)
@click.option(
    "--prices",
    default=None,
    type=click.Path(dir_okay=False),
    help="Price table TOML for cost estimates (as `vlmforge eval --prices`).",
)
@click.option(
    "--export",
    "export_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Write the pages of the RUNs (names or ids) to this self-contained HTML file and exit.",
)
@plugins_dir_option
def command(
    runs: tuple[str, ...],
    trace_db: str,
    store_name: str,
    host: str,
    port: int,
    filter_configs: tuple[str, ...],
    train_dirs: tuple[str, ...],
    prices: str | None,
    export_path: str | None,
    plugins_dirs: tuple[str, ...],
) -> None:
    """Browse runs, episodes and steps of a trace store in the browser (read-only).

    \b
    vlmforge view --trace-db traces.db               serve on http://127.0.0.1:8800/
    vlmforge view --export report.html RUN [RUN]...  one self-contained HTML file
    See docs/view.md.
    """
    from vlmforge.errors import ConfigError

    if runs and export_path is None:
        raise ConfigError(
            f"RUN arguments ({', '.join(runs)}) are for --export; pass --export report.html, "
            "or drop them to browse every run."
        )
    if export_path is not None and not runs:
        raise ConfigError(
            "--export needs the runs to put in the report: vlmforge view --export report.html "
            "RUN [RUN]... (names or ids; see `vlmforge traces list`)."
        )
    from vlmforge.cli.options import load_registry
    from vlmforge.pricing import load_prices
    from vlmforge.store_read import open_store_for_reading
    from vlmforge_view.reader import TraceReader
    from vlmforge_view.training import load_training_run

    registry = load_registry(plugins_dirs)
    training = [load_training_run(Path(d)) for d in train_dirs]
    price_table = load_prices(prices)
    previews = _previews(filter_configs, registry)
    store = open_store_for_reading(
        registry,
        store_name,
        {"path": trace_db},
        where="--trace-db",
        missing=f"trace database '{trace_db}' does not exist; pass --trace-db PATH.",
    )
    reader = TraceReader(store, price_table)
    try:
        if export_path is not None:
            _export(reader, list(runs), Path(export_path), training)
        else:
            _serve(reader, host, port, previews, training)
    finally:
        reader.close()


def _previews(paths: tuple[str, ...], registry: Any) -> list[Any]:
    from vlmforge.errors import ConfigError
    from vlmforge_view.filter_preview import FilterPreview

    for path in paths:
        if not Path(path).is_file():
            raise ConfigError(f"--filter-config {path}: no such file.")
    return [FilterPreview(Path(p), registry) for p in paths]


def _export(reader: Any, refs: list[str], path: Path, training: list[dict[str, Any]]) -> None:
    from vlmforge.cli.output import console
    from vlmforge.errors import ConfigError
    from vlmforge_view.export import render_report, report_data, write_report
    from vlmforge_view.reader import NotFound

    try:
        data = report_data(reader, refs, training)
    except NotFound as exc:
        raise ConfigError(f"{exc}; give run names or ids (see `vlmforge traces list`).") from None
    if path.parent != Path() and not path.parent.is_dir():
        raise ConfigError(f"--export {path}: folder '{path.parent}' does not exist.")
    html = render_report(data)
    write_report(path, html)
    steps = len(data["step"])
    console().print(
        f"wrote {path} ({len(data['runs']['runs'])} runs, {len(data['episode'])} episodes, "
        f"{steps} steps, {len(data['images'])} images, {len(html) / 2**20:.1f} MiB)"
    )


def _serve(
    reader: Any, host: str, port: int, previews: list[Any], training: list[dict[str, Any]]
) -> None:
    import uvicorn

    from vlmforge.cli.output import error_console
    from vlmforge_view.app import build_app
    from vlmforge_view.listen import listen, url_of

    sock = listen(host, port)
    app = build_app(reader, previews, training)
    url = url_of(sock)
    if not _loopback(host):
        error_console().print(
            f"[yellow]warning:[/] --host {host}: anyone who can reach it reads the traces "
            "(no authentication).",
            highlight=False,
        )
    click.echo(f"vlmforge view: {reader.where} on {url} (Ctrl-C stops)")  # one line, unwrapped
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    stopped: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        stopped.append(signum)
        raise _Stopped

    # Our handlers, not Python's defaults: uvicorn shuts down gracefully on SIGINT/SIGTERM and
    # then re-raises the signal, which lands here, so the store is closed before we exit.
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except (_Stopped, KeyboardInterrupt):
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sock.close()
    if signal.SIGINT in stopped:
        raise SystemExit(EXIT_INTERRUPTED)  # after the caller's finally closed the store


class _Stopped(Exception):
    """A stop signal arrived (raised from our signal handler)."""


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
