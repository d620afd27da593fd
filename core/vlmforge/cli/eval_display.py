"""What ``vlmforge eval`` shows: a progress bar (stderr), one line per episode, summary tables.

Nothing here prints observations, prompts or images: only counts and names (no base64, ever).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vlmforge.runner import RunnerEvents
from vlmforge.trace import Episode, EpisodeStatus, Step


def episode_line(episode: Episode, label: str | None = None) -> str:
    """``seed 7: 50 steps, 3 achievements, reward 3.2, 12 tool calls, 0 invalid``."""
    prefix = f"[{label}] " if label else ""
    from vlmforge.cli.output import plural

    line = (
        f"{prefix}seed {episode.seed}: {plural(episode.env_steps, 'step')}, "
        f"{plural(episode.unique_achievements, 'achievement')}, reward "
        f"{episode.total_reward:.1f}, {plural(episode.tool_calls, 'tool call')}, "
        f"{episode.invalid_decisions} invalid"
    )
    if episode.status != EpisodeStatus.done:
        line += f" [{episode.status.value}"
        if episode.error:
            line += f": {_short(episode.error)}"
        line += "]"
    return line


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class EvalProgress:
    """Progress bar on stderr (terminals only) plus episode lines on stdout."""

    def __init__(
        self,
        out: Console,
        err: Console,
        total: int,
        label: str | None,
        *,
        lines_to_stderr: bool = False,
    ):
        self.out, self.label = out, label
        self.steps = 0
        self.started = time.perf_counter()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("episodes, {task.fields[steps]} steps, {task.fields[rate]:.1f} steps/s"),
            TimeElapsedColumn(),
            console=err,
            disable=not err.is_terminal,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        # Both on one terminal: print above the live bar (through its console) so the bar is not
        # torn; otherwise episode lines go to stdout (a file or pipe) and the bar to stderr.
        # With --json, stdout holds only the JSON: episode lines go to stderr.
        self.lines = err if lines_to_stderr or (err.is_terminal and out.is_terminal) else out
        self.task = self.progress.add_task(label or "eval", total=total, steps=0, rate=0.0)

    def __enter__(self) -> EvalProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def events(self) -> RunnerEvents:
        return RunnerEvents(
            step_recorded=self._step, episode_finished=self._finished, episode_skipped=self._skip
        )

    def _skip(self, seed: int) -> None:
        self.progress.advance(self.task)

    def _step(self, episode: Episode, step: Step) -> None:
        self.steps += len(step.actions)
        rate = self.steps / max(time.perf_counter() - self.started, 1e-9)
        self.progress.update(self.task, steps=self.steps, rate=rate)

    def _finished(self, episode: Episode) -> None:
        self.progress.advance(self.task)
        self.lines.print(
            episode_line(episode, self.label), markup=False, highlight=False, soft_wrap=True
        )


def _fmt(value: Any, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def _cost(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4f}"


def _latency(summary: dict[str, Any], kind: str) -> str:
    p50, p95 = summary[f"{kind}_latency_p50_s"], summary[f"{kind}_latency_p95_s"]
    if p50 is None:
        return "-"
    return f"{p50 * 1000:.1f} / {p95 * 1000:.1f} ms"


ENV_ROWS = ("environment's rows", None)  # where the summary_metrics hook's rows go

SUMMARY_ROWS: list[tuple[str, Any]] = [
    ("episodes", lambda s: _episodes(s)),
    ("steps (env) / decisions", lambda s: f"{s['steps']} / {s['decisions']}"),
    (
        "unique achievements mean / median",
        lambda s: f"{s['unique_achievements_mean']:.2f} / {s['unique_achievements_median']:.1f}",
    ),
    ENV_ROWS,
    ("reward mean", lambda s: f"{s['reward_mean']:.2f} ± {s['reward_sem']:.2f}"),
    (
        "invalid decisions",
        lambda s: f"{s['invalid_decisions']} ({100 * s['invalid_decision_rate']:.1f}%)",
    ),
    ("tokens in / out", lambda s: f"{_fmt(s['prompt_tokens'])} / {_fmt(s['completion_tokens'])}"),
    ("estimated cost", lambda s: _cost(s["cost_usd"])),
    ("policy latency p50 / p95", lambda s: _latency(s, "policy")),
    ("env latency p50 / p95", lambda s: _latency(s, "env")),
    ("wall time", lambda s: _fmt(s["wall_time_s"], " s", 1)),
    ("steps/s", lambda s: _fmt(s["steps_per_s"], "", 1)),
]


def _episodes(s: dict[str, Any]) -> str:
    extra = [f"{n} {k}" for k, n in s["episodes_by_status"].items() if n and k != "done"]
    return f"{s['episodes']}" + (f" ({', '.join(extra)})" if extra else "")


def summary_table(summary: dict[str, Any]) -> Table:
    title = f"{summary['run_name']}: {summary['policy']}" + (
        f" ({summary['model']})" if summary["model"] else ""
    )
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, cells in _rows([summary]):
        table.add_row(name, *cells)
    return table


def _rows(summaries: Sequence[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The table rows: the core's, with each environment row (``env_metrics``, from the
    environment's plugin) in place of ``ENV_ROWS``; "-" for a run without that row."""
    rows: list[tuple[str, list[str]]] = []
    for name, fn in SUMMARY_ROWS:
        if fn is not None:
            rows.append((name, [fn(s) for s in summaries]))
            continue
        labels: dict[str, str] = {}
        for s in summaries:
            for row in s.get("env_metrics", []):
                labels.setdefault(row["key"], row["label"])
        for key, label in labels.items():
            texts = [{r["key"]: r["text"] for r in s.get("env_metrics", [])} for s in summaries]
            rows.append((label, [t.get(key, "-") for t in texts]))
    return rows


SHORT_LABEL = 16  # longer run labels are numbered columns, named in full in the title


def _columns(title: str, labels: Sequence[str]) -> tuple[str, list[str]]:
    """The title and the column headers: the labels themselves when they are short, else
    ``[1]``, ``[2]``, ... with each label in full in the title, so a run name a user copies
    (``--run NAME``, ``--resume --run-name NAME``) is never cut with "…" on a narrow screen."""
    if all(len(label) <= SHORT_LABEL for label in labels):
        return title, list(labels)
    legend = "".join(f"\n  [{i}] {label}" for i, label in enumerate(labels, start=1))
    return title + legend, [f"[{i}]" for i in range(1, len(labels) + 1)]


def achievements_table(summaries: Sequence[dict[str, Any]], labels: Sequence[str]) -> Table:
    """Success rate (%) per achievement, one column per run; achievements never seen folded."""
    names = list(summaries[0]["success_rates_pct"])
    title, headers = _columns("achievement success rates (% of episodes)", labels)
    table = Table(title=title, title_justify="left")
    table.add_column("achievement")
    for header in headers:
        table.add_column(header, justify="right")
    hidden = 0
    for name in names:
        rates = [s["success_rates_pct"].get(name, 0.0) for s in summaries]
        if not any(rates):
            hidden += 1
            continue
        table.add_row(name, *(f"{r:.1f}" for r in rates))
    if hidden:
        table.add_row(f"({hidden} others)", *("0.0" for _ in summaries))
    return table


def comparison_table(summaries: Sequence[dict[str, Any]], labels: Sequence[str]) -> Table:
    """Side by side, one column per run; titled "(same seeds)" only when every run's finished
    episodes are on the same seeds of the same environment (else the seeds are a row)."""
    same = len({(s["env"], s["seeds"]) for s in summaries}) == 1
    title = "comparison (same seeds)" if same else "comparison (different seeds or environments)"
    title, headers = _columns(title, labels)
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for header in headers:
        table.add_column(header, justify="right")
    if not same:
        table.add_row("env / seeds", *(f"{s['env']} / {s['seeds']}" for s in summaries))
    for name, cells in _rows(summaries):
        table.add_row(name, *cells)
    return table
