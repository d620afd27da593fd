"""Batched step writes for the eval runner: one store transaction per batch of steps.

The runner hands every step it plays to a :class:`StepWriter`. Steps of every episode in flight
collect in one pending batch, which is written in the runner's store thread (one transaction
with :meth:`record_steps` when the store has it, else one :meth:`record_step` per step) when it
holds :data:`MAX_BATCH_STEPS` steps, :data:`COMMIT_INTERVAL_S` after its first step, or when an
episode ends (the runner then awaits the commit before it writes the episode's end). So:

- an episode's end is written only after all its steps are committed;
- a step is committed at most :data:`COMMIT_INTERVAL_S` after it was played, and SIGKILL loses at
  most that much of the episodes in flight, which stay ``running`` (``interrupted`` once the
  process is gone) and are replayed from their first step by ``--resume`` either way;
- a failed write (a full disk, a run removed meanwhile) is raised to every episode with a step in
  that batch, at its next step or at its end, and every later batch fails with it unwritten (so no
  episode's trace can have a gap);
- at most two batches are submitted and not yet committed: the episodes wait for the store when
  it falls behind, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from vlmforge.components import TraceStore
from vlmforge.errors import StorageFullError, is_disk_full
from vlmforge.frames import write_frame
from vlmforge.images import PngImage
from vlmforge.trace import Episode, Step

#: A pending batch is written this long after its first step at the latest (seconds).
COMMIT_INTERVAL_S = 0.25
#: ... or as soon as it holds this many steps.
MAX_BATCH_STEPS = 64
#: Batches submitted to the store thread and not yet committed before ``add`` waits.
MAX_BATCHES_IN_FLIGHT = 2

StepWrite = tuple[Step, list[PngImage], Episode]


class StepWriter:
    """Collects steps into batches and writes each batch in ``executor`` (one thread)."""

    def __init__(
        self,
        store: TraceStore,
        executor: Executor,
        *,
        frames_dir: Path | None = None,
        interval_s: float = COMMIT_INTERVAL_S,
        max_steps: int = MAX_BATCH_STEPS,
    ):
        self.store, self.executor, self.frames_dir = store, executor, frames_dir
        self.interval_s, self.max_steps = interval_s, max_steps
        self._record_steps: Callable[[Sequence[Any]], None] | None = getattr(
            store, "record_steps", None
        )
        self._pending: list[StepWrite] = []
        self._pending_done: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._in_flight: deque[asyncio.Future[None]] = deque()
        self._frame_dirs: set[Path] = set()
        self._failed: BaseException | None = None  # set in the store thread
        self.batches = 0  # batches written (for tests and benchmarks)

    async def add(
        self, step: Step, images: list[PngImage], episode: Episode
    ) -> asyncio.Future[None]:
        """Queue ``step`` (with the frames it was played on and ``episode`` as of this step);
        returns the future of the batch that holds it (done once committed)."""
        while len(self._in_flight) >= MAX_BATCHES_IN_FLIGHT:
            await asyncio.wait([self._in_flight[0]])
            self._forget_done()
        loop = asyncio.get_running_loop()
        if self._pending_done is None:
            self._pending_done = loop.create_future()
            self._timer = loop.call_later(self.interval_s, self._submit)
        done = self._pending_done
        self._pending.append((step, images, episode))
        if len(self._pending) >= self.max_steps:
            self._submit()
        return done

    async def commit(self, done: asyncio.Future[None]) -> None:
        """Wait until the batch of ``done`` is committed, submitting it now if it is pending;
        raises what its write raised."""
        if done is self._pending_done:
            self._submit()
        await done

    def close(self) -> None:
        """Submit what is pending without waiting (the runner is ending abnormally: its
        episodes normally commit their steps themselves)."""
        self._submit()

    def _submit(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, done = self._pending, self._pending_done
        self._pending, self._pending_done = [], None
        if done is None:
            return
        loop = asyncio.get_running_loop()
        written = loop.run_in_executor(self.executor, self._write, batch)
        self._in_flight.append(done)
        written.add_done_callback(lambda f: _copy_outcome(f, done))
        self.batches += 1

    def _forget_done(self) -> None:
        while self._in_flight and self._in_flight[0].done():
            self._in_flight.popleft()

    def _write(self, batch: list[StepWrite]) -> None:
        """In the store thread: the frame files, then the steps in one transaction."""
        if self._failed is not None:
            raise self._failed
        try:
            self._write_batch(batch)
        except BaseException as exc:
            self._failed = exc
            raise

    def _write_batch(self, batch: list[StepWrite]) -> None:
        if self.frames_dir is not None:
            for step, images, episode in batch:
                if images:
                    self._write_frame(episode.seed, step.index, images[-1].png)
        if self._record_steps is not None:
            self._record_steps(batch)
        else:
            for step, images, episode in batch:
                self.store.record_step(step, images, episode)

    def _write_frame(self, seed: int, index: int, png: bytes) -> None:
        assert self.frames_dir is not None
        try:
            write_frame(self.frames_dir, seed, index, png, made=self._frame_dirs)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            raise StorageFullError(
                f"the disk holding frames_dir '{self.frames_dir}' is full ({exc.strerror})."
            ) from None


def _copy_outcome(written: asyncio.Future[None], done: asyncio.Future[None]) -> None:
    if done.done():
        return
    if written.cancelled():
        done.cancel()
    elif (exc := written.exception()) is not None:
        done.set_exception(exc)
        # retrieved here: an episode awaits only its latest batch, and every batch after a
        # failed one fails too, so the error reaches each episode that had a step in it
        done.exception()
    else:
        done.set_result(None)
