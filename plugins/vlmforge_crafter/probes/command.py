"""``vlmforge probe``: ask a policy the probes of recorded frames, record them, report accuracy."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import Any

import click

from vlmforge.cli.options import plugins_dir_option

EXIT_INTERRUPTED = 130


@click.command("probe")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Probe TOML file.")
@click.option("--trace-db", default=None, metavar="PATH", help="Store of recorded crafter runs.")
@click.option(
    "--policy", default=None, metavar="NAME", help="Policy answering (replaces [policy])."
)
@click.option("--model", default=None, help="Model name for the policy (sets its 'model').")
@click.option("--frames", type=int, default=None, help="Frames to sample (default 40).")
@click.option("--seed", type=int, default=None, help="Seed of the sample (default 0).")
@click.option(
    "--types", default=None, metavar="A,B", help="Probe types to ask (default all; see docs)."
)
@click.option("--probes-per-frame", type=int, default=None, help="Ask K of the types per frame.")
@click.option(
    "--observation",
    type=click.Choice(["image", "image+text"]),
    default=None,
    help="What the model is shown (default image: the frame only).",
)
@click.option("--run", "runs", multiple=True, metavar="NAME", help="Source run (repeatable).")
@click.option("--episode-seeds", default=None, help="Only frames of these source seeds: '100-109'.")
@click.option("--out-db", default=None, metavar="PATH", help="Write the probe run here instead.")
@click.option("--run-name", default=None, help="Name of the probe run (needed for --resume).")
@click.option("--concurrency", type=int, default=None, help="Probes in flight (default 4).")
@click.option("--json-summary", default=None, metavar="PATH", help="Write the report as JSON.")
@click.option("--resume", is_flag=True, help="Finish the missing probes of run --run-name.")
@plugins_dir_option
def command(
    config_path: str | None,
    types: str | None,
    runs: tuple[str, ...],
    resume: bool,
    plugins_dirs: tuple[str, ...],
    **flags: Any,
) -> None:
    """Ask a policy questions with exact answers about recorded Crafter frames.

    \b
    vlmforge probe --trace-db traces.db --policy probe-oracle --frames 20
    vlmforge probe --config configs/probe_hf_tiny.toml --json-summary probes.json
    """
    from vlmforge.cli.options import load_registry
    from vlmforge_crafter.probes.session import load_probe_config, run_probes

    registry = load_registry(plugins_dirs)
    flags["types"] = [t.strip() for t in types.split(",") if t.strip()] if types else None
    flags["runs"] = list(runs) or None
    loaded = load_probe_config(config_path, flags)
    display = _Display()
    results = run_probes(
        loaded, registry, resume=resume, events=display.events(), handle_signals=True
    )
    from vlmforge.cli.output import console
    from vlmforge_crafter.probes.display import report_table

    for report in results.reports:
        console().print(report_table(report))
        if report.get("policy_sees_frames") is False:
            from vlmforge.cli.output import error_console

            error_console().print(
                f"warning: policy '{report['policy']}' does not see the frames (it sent no "
                "image): set use_vision = true in [policy] for a vision model.",
                markup=False,
            )
    if results.eval.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    failures = results.eval.failures()
    if failures:
        from vlmforge.cli.output import error_console

        for line in failures:
            error_console().print(f"error: {line}", markup=False, highlight=False)
        sys.exit(1)


class _Display:
    """A progress bar over the probes (terminals only); failed probes and notices on stderr."""

    def __init__(self) -> None:
        from vlmforge.cli.output import error_console

        self.err = error_console()
        self._shown = ExitStack()

    def events(self) -> Any:
        from vlmforge.eval_session import SessionEvents

        return SessionEvents(
            run_started=self._run_started, run_finished=self._run_finished, notice=self._notice,
            abort=self._abort,
        )  # fmt: skip

    def _run_started(self, item: Any, total: int, many: bool) -> Any:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        from vlmforge.runner import RunnerEvents

        progress = Progress(
            "[bold]probes", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=self.err, disable=not self.err.is_terminal, transient=True,
        )  # fmt: skip
        task = progress.add_task("probes", total=total)
        self._shown.enter_context(progress)

        def finished(episode: Any) -> None:
            progress.advance(task)
            if episode.error:
                self.err.print(f"probe {episode.seed} failed: {episode.error}", markup=False)

        return RunnerEvents(episode_finished=finished, episode_skipped=lambda _: None)

    def _run_finished(self, item: Any) -> None:
        self._shown.close()

    def _notice(self, text: str) -> None:
        self.err.print(text, markup=False, soft_wrap=True)

    @staticmethod
    def _abort() -> None:
        sys.exit(EXIT_INTERRUPTED)
