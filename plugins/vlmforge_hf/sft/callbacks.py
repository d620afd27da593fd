"""Trainer callbacks: rich progress (loss, steps/s) on stderr."""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback


class RichProgressCallback(TrainerCallback):
    """A rich progress bar with the latest loss and optimizer steps per second."""

    def __init__(self, console: Any = None):
        self.console = console
        self.progress: Any = None
        self.task: Any = None
        self.loss: float | None = None
        self.start_step = 0
        self.start_time = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]} steps/s"),
            console=self.console or Console(stderr=True, highlight=False, soft_wrap=True),
            transient=False,
        )
        self.progress.start()
        self.start_step, self.start_time = state.global_step, time.perf_counter()
        self.task = self.progress.add_task(
            "train", total=state.max_steps, completed=state.global_step, loss="-", rate="-"
        )

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.start_time
        done = state.global_step - self.start_step
        rate = f"{done / elapsed:.2f}" if elapsed > 0 else "-"
        loss = f"{self.loss:.4f}" if self.loss is not None else "-"
        self.progress.update(self.task, completed=state.global_step, loss=loss, rate=rate)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if logs and "loss" in logs:
            self.loss = float(logs["loss"])

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.progress is not None:
            self.on_step_end(args, state, control)
            self.progress.stop()
            self.progress = None
