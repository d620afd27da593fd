"""``vlmforge eval``: run policies on an environment, record every step, print a summary."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from vlmforge.cli.options import plugins_dir_option
from vlmforge.errors import ConfigError, VlmforgeError

EXIT_INTERRUPTED = 130


@dataclass
class PlannedRun:
    """One policy's run: its config section, label and built components."""

    label: str
    section: Any
    policy: Any
    run: Any = None
    summary: dict[str, Any] | None = None


@click.command("eval")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Eval TOML file.")
@click.option("--env", default=None, metavar="NAME", help="Environment (overrides [env] name).")
@click.option(
    "--env-url",
    "env_urls",
    multiple=True,
    metavar="URL",
    help="A `vlmforge serve` server for --env remote (repeatable; implies --env remote).",
)
@click.option(
    "--policy", default=None, metavar="NAME", help="Policy (replaces [policy]/[[policies]])."
)
@click.option("--model", default=None, help="Model name for the policy (sets its 'model').")
@click.option("--seeds", default=None, help="Seeds: '0-9', '1,4,7' (default 0-9).")
@click.option("--max-steps", type=int, default=None, help="Cap on primitive env steps per episode.")
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
@click.option("--prices", default=None, metavar="PATH", help="Extra per-model prices (TOML).")
@click.option("--resume", is_flag=True, help="Finish the missing seeds of run --run-name.")
@plugins_dir_option
def command(
    config_path: str | None, resume: bool, plugins_dirs: tuple[str, ...], **flags: Any
) -> None:
    """Run a policy (or several, compared) on an environment and record every step.

    \b
    vlmforge eval --env crafter --policy random --seeds 0-3 --max-steps 100 --trace-db t.db
    vlmforge eval --config configs/eval_random.toml --json-summary summary.json
    """
    from vlmforge.cli.options import load_registry
    from vlmforge.eval_config import load_eval_config

    registry = load_registry(plugins_dirs)
    loaded = load_eval_config(config_path, flags)
    code = _Eval(
        registry, loaded, resume=resume, prices=flags.get("prices"), plugins_dirs=plugins_dirs
    ).main()
    sys.exit(code)


class _Eval:
    def __init__(
        self,
        registry: Any,
        loaded: Any,
        *,
        resume: bool,
        prices: str | None,
        plugins_dirs: tuple[str, ...] = (),
    ):
        from vlmforge.cli.output import console, error_console

        self.registry, self.loaded, self.config = registry, loaded, loaded.config
        self.plugins_dirs = plugins_dirs
        self.resume = resume
        self.out, self.err = console(), error_console()
        self.prices_path = prices or self.config.prices

    # -- building --------------------------------------------------------------------------
    def _build(self, kind: str, section: Any, name: str, index: int | None = None):
        from vlmforge.components_build import build_component

        where, toml, prefix = self.loaded.locate(name, index)
        settings = section.settings()
        return build_component(
            self.registry, kind, section.name, settings, where=where, toml=toml, prefix=prefix
        )

    def _build_env(self) -> Any:
        from vlmforge.env_workers import EnvBuild, EnvWorkerPool, build_env

        where, toml, prefix = self.loaded.locate("env")
        build = EnvBuild(
            name=self.config.env.name,
            settings=self.config.env.settings(),
            where=where,
            toml=toml,
            prefix=prefix,
            plugins_dirs=tuple(self.plugins_dirs),
            max_steps=self.config.max_steps,
        )
        if self.config.env_workers:
            self.registry.get("environment", build.name)  # an unknown name fails here, at once
            return EnvWorkerPool(build, self.config.env_workers)
        return build_env(self.registry, build)

    def _plan_policies(self) -> list[PlannedRun]:
        sections = self.config.policy_list()
        many = self.config.policies is not None
        planned = []
        for i, section in enumerate(sections):
            policy = self._build(
                "policy", section, "policies" if many else "policy", i if many else None
            )
            model = policy.model_name()
            label = section.label or (f"{section.name}-{model}" if model else section.name)
            planned.append(
                PlannedRun(label=label.replace("/", "_"), section=section, policy=policy)
            )
        labels = [p.label for p in planned]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ConfigError(
                f"{self.loaded.where}: several policies would be labelled {', '.join(dupes)}; "
                'give each [[policies]] entry its own label = "...".'
            )
        return planned

    def _run_name(self, label: str, n_policies: int) -> str:
        base = self.config.run_name
        if base is None:
            if self.resume:
                raise ConfigError(
                    "--resume needs the run's name: pass --run-name NAME (or run_name in the "
                    "config). `vlmforge traces list` shows the runs in a database."
                )
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
            return f"{label}-{stamp}"
        return f"{base}-{label}" if n_policies > 1 else base

    # -- running ---------------------------------------------------------------------------
    def main(self) -> int:
        from vlmforge.pricing import load_prices

        prices = load_prices(self.prices_path)
        env = self._build_env()  # worker processes (env_workers) start here, in the background
        try:
            planned = self._plan_policies()
            store = self._build("store", self.config.store, "store")
            seeds = self.config.seed_list()
            try:
                spec = env.spec()
                code = 0
                for item in planned:
                    code = self._one(item, env, spec, store, seeds, prices, len(planned))
                    if code:
                        break
                done = [p for p in planned if p.summary is not None]
                self._print_summaries(done)
                self._write_json(done)
                return code
            finally:
                store.close()
        finally:
            close_env = getattr(env, "close", None)  # env_workers: stop the processes
            if close_env is not None:
                close_env()

    def _one(self, item: PlannedRun, env: Any, spec: Any, store: Any, seeds, prices, n) -> int:
        from vlmforge.runner import EvalRunner
        from vlmforge.session import describe_run, open_run
        from vlmforge.summary import summarize

        name = self._run_name(item.label, n)
        described = describe_run(
            name,
            env_name=self.config.env.name,
            env=env,
            spec=spec,
            policy_name=item.section.name,
            policy=item.policy,
            seeds=seeds,
            tags=self.config.tags,
        )
        if self.resume and store.get_run(name) is None:
            self.err.print(f"no run named '{name}' yet: starting it.", markup=False, soft_wrap=True)
        opened = open_run(store, described, resume=self.resume)
        run, to_run, plan = opened.run, opened.to_run, opened.resumed
        if plan is not None:
            self.err.print(
                f"resuming run '{name}': {len(plan.kept)} seeds finished, "
                f"{len(plan.restarted)} interrupted restarted from scratch, "
                f"{len(plan.to_run)} to run"
                + (f", {len(plan.busy)} being run by another process" if plan.busy else ""),
                markup=False,
                soft_wrap=True,
            )
        item.run = run
        runner = EvalRunner(
            env=env,
            spec=spec,
            policy=item.policy,
            store=store,
            run=run,
            seeds=to_run,
            concurrency=self.config.concurrency,
            max_steps=self.config.max_steps,
            frames_dir=Path(self.config.frames_dir) if self.config.frames_dir else None,
        )
        result = asyncio.run(self._drive(runner, item, len(to_run), n))
        item.summary = summarize(store, run, prices=prices, wall_time_s=result.wall_time_s)
        if result.fatal:
            raise VlmforgeError(
                f"policy '{item.section.name}' stopped the run '{name}': {result.stopped}. "
                f"{len(result.not_started)} episodes were not started; fix the problem and "
                f"finish with --resume --run-name {self.config.run_name or name}."
            )
        if result.stopped:
            self.err.print(
                f"interrupted: run '{name}' stopped with {len(result.not_started)} seeds not "
                f"started; finish it with --resume --run-name {self.config.run_name or name}.",
                markup=False,
                soft_wrap=True,
            )
            return EXIT_INTERRUPTED
        return 0

    async def _drive(self, runner: Any, item: PlannedRun, total: int, n: int) -> Any:
        from vlmforge.cli.eval_display import EvalProgress

        loop = asyncio.get_running_loop()
        interrupts = 0

        def on_signal() -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts == 1:
                self.err.print(
                    "stopping: finishing the steps in flight (Ctrl-C again to abort now)",
                    markup=False,
                    soft_wrap=True,
                )
                runner.request_stop("interrupted")
            else:
                sys.exit(EXIT_INTERRUPTED)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        try:
            with EvalProgress(self.out, self.err, total, item.label if n > 1 else None) as shown:
                runner.events = shown.events()
                return await runner.run()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await item.policy.aclose()

    # -- output ----------------------------------------------------------------------------
    def _print_summaries(self, done: list[PlannedRun]) -> None:
        from vlmforge.cli.eval_display import achievements_table, comparison_table, summary_table

        if not done:
            return
        summaries = [p.summary for p in done if p.summary is not None]
        labels = [p.label for p in done]
        if len(done) == 1:
            self.out.print(summary_table(summaries[0]))
        else:
            self.out.print(comparison_table(summaries, labels))
        self.out.print(achievements_table(summaries, labels))

    def _write_json(self, done: list[PlannedRun]) -> None:
        path = self.config.json_summary
        if not path:
            return
        doc = {"version": 1, "runs": [(p.summary or {}) | {"label": p.label} for p in done]}
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
