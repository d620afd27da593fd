"""``vlmforge eval``: run policies on an environment, record every step, print a summary."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import click

from vlmforge.cli.options import (
    RegisteredNamesOption,
    parse_set_options,
    plugins_dir_option,
    set_options_option,
)

if TYPE_CHECKING:
    from vlmforge.eval_session import EvalResults, PlannedRun, SessionEvents
    from vlmforge.runner import RunnerEvents

EXIT_INTERRUPTED = 130


@click.command("eval")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Eval TOML file.")
@click.option(
    "--env",
    cls=RegisteredNamesOption,
    kind="environment",
    default=None,
    metavar="NAME",
    help="Environment: {names} (overrides [env] name).",
)
@click.option(
    "--env-url",
    "env_urls",
    multiple=True,
    metavar="URL",
    help="A `vlmforge serve` server for --env remote (repeatable; implies --env remote).",
)
@click.option(
    "--policy",
    cls=RegisteredNamesOption,
    kind="policy",
    default=None,
    metavar="NAME",
    help="Policy: {names} (replaces [policy]/[[policies]]).",
)
@click.option("--model", default=None, help="Model name for the policy (sets its 'model').")
@click.option(
    "--base-url",
    default=None,
    metavar="URL",
    help="Server URL of an OpenAI-compatible policy (sets policy.base_url of every policy).",
)
@set_options_option("policy.base_url=http://localhost:8000/v1 -o env.image_size=128")
@click.option("--seeds", default=None, help="Seeds: '0-9', '1,4,7' (default 0-9).")
@click.option("--max-steps", type=int, default=None, help="Cap on primitive env steps per episode.")
@click.option(
    "--max-decisions",
    type=int,
    default=None,
    metavar="N",
    help="Cap on policy decisions (LM turns) per episode.",
)
@click.option(
    "--max-failed-fraction",
    type=float,
    default=None,
    metavar="F",
    help="Exit 1 when more than F of a run's finished episodes failed (default 0.5); "
    "no episode done always exits 1.",
)
@click.option("--concurrency", type=int, default=None, help="Episodes in flight (default 1).")
@click.option(
    "--env-workers",
    type=int,
    default=None,
    help="Run the environment in N worker processes (default 0: in this process).",
)
@click.option("--store", default=None, metavar="NAME", help="Trace store (default sqlite).")
@click.option("--trace-db", default=None, metavar="PATH", help="Database file (store 'path').")
@click.option("--run-name", default=None, help="Name of the run (needed for --resume).")
@click.option("--frames-dir", default=None, metavar="DIR", help="Write DIR/seed_XXXX/step_NNN.png.")
@click.option("--json-summary", default=None, metavar="PATH", help="Write the summary as JSON.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the summary as JSON on stdout (the --json-summary document) instead of the "
    "tables; episode lines go to stderr.",
)
@click.option("--prices", default=None, metavar="PATH", help="Extra per-model prices (TOML).")
@click.option("--resume", is_flag=True, help="Finish the missing seeds of run --run-name.")
@plugins_dir_option
def command(
    config_path: str | None,
    resume: bool,
    as_json: bool,
    settings: tuple[str, ...],
    plugins_dirs: tuple[str, ...],
    **flags: Any,
) -> None:
    """Run a policy (or several, compared) on an environment and record every step.

    \b
    vlmforge eval --env crafter --policy random --seeds 0-3 --max-steps 100 --trace-db t.db
    vlmforge eval --config configs/eval_random.toml --json-summary summary.json
    vlmforge eval --config eval.toml --base-url http://localhost:8000/v1 -o policy.temperature=0
    """
    from vlmforge.cli.options import load_registry
    from vlmforge.eval_config import load_eval_config
    from vlmforge.eval_session import EvalSession

    flags["settings"] = parse_set_options(settings)
    registry = load_registry(plugins_dirs)
    loaded = load_eval_config(config_path, flags, registry=registry)
    session = EvalSession(
        loaded,
        registry,
        resume=resume,
        prices=flags.get("prices"),
        plugins_dirs=plugins_dirs,
        events=_Display(lines_to_stderr=as_json).events(),
        handle_signals=True,
    )
    results = session.run()
    if as_json:
        import json

        click.echo(json.dumps(results.summary_doc(), indent=2))
    else:
        print_summaries(results)
    sys.exit(exit_code(results))


def exit_code(results: EvalResults) -> int:
    """130 when a stop ended a run early; 1 (with one line per run on stderr) when a run
    finished no episode or failed more than ``max_failed_fraction`` of them; else 0."""
    if results.interrupted:
        return EXIT_INTERRUPTED
    failures = results.failures()
    if not failures:
        return 0
    from rich.markup import escape

    from vlmforge.cli.output import error_console

    err = error_console()
    for line in failures:
        err.print(f"[bold red]error:[/] {escape(line)}", highlight=False)
    err.print(
        "The episodes are recorded (`vlmforge traces list`); fix the cause (the errors are on "
        "the failed episodes) and replay them in a new run, or raise --max-failed-fraction.",
        highlight=False,
        markup=False,
    )
    return 1


class _Display:
    """The session's events as a progress bar and episode lines, and messages on stderr."""

    def __init__(self, *, lines_to_stderr: bool = False) -> None:
        from vlmforge.cli.output import console, error_console

        self.out, self.err = console(), error_console()
        self.lines_to_stderr = lines_to_stderr
        self._shown = ExitStack()

    def events(self) -> SessionEvents:
        from vlmforge.eval_session import SessionEvents

        return SessionEvents(
            run_started=self._run_started,
            run_finished=self._run_finished,
            notice=self._notice,
            abort=self._abort,
        )

    def _run_started(self, item: PlannedRun, total: int, many: bool) -> RunnerEvents:
        from vlmforge.cli.eval_display import EvalProgress

        progress = EvalProgress(
            self.out,
            self.err,
            total,
            item.label if many else None,
            lines_to_stderr=self.lines_to_stderr,
        )
        return self._shown.enter_context(progress).events()

    def _run_finished(self, item: PlannedRun) -> None:
        self._shown.close()

    def _notice(self, text: str) -> None:
        self.err.print(text, markup=False, soft_wrap=True)

    @staticmethod
    def _abort() -> None:
        sys.exit(EXIT_INTERRUPTED)


def print_summaries(results: EvalResults) -> None:
    """One summary table (or a comparison of several runs), then the achievements table."""
    from vlmforge.cli.eval_display import achievements_table, comparison_table, summary_table
    from vlmforge.cli.output import console

    done = [p for p in results.runs if p.summary is not None]
    if not done:
        return
    summaries = [p.summary for p in done if p.summary is not None]
    labels = [p.label for p in done]
    out = console()
    if len(done) == 1:
        out.print(summary_table(summaries[0]))
    else:
        out.print(comparison_table(summaries, labels))
    out.print(achievements_table(summaries, labels))
