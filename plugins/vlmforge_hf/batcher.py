"""Batching concurrent episodes' requests into one ``generate`` call.

Each ``act`` puts a request on an asyncio queue and awaits its future. One worker task takes the
first waiting request, collects more until ``batch_size`` or ``batch_wait_s`` has passed, and
runs the batch's ``generate`` in a worker thread so the event loop (and the environments) keep
running.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    """One prompt to complete, with what the decoding needs (candidates, grammar, rng)."""

    text: str
    images: list[Any]
    future: asyncio.Future[Any]
    decode: Any = None  # per-decoding data, grouped on: a ChoiceSet (score), a grammar
    rng: Any = None  # score: the decision's random stream
    enqueued: float = field(default_factory=time.perf_counter)


class Batcher:
    """Runs ``run_batch(list[Request]) -> list[result]`` on batches of queued requests."""

    def __init__(
        self, run_batch: Callable[[list[Request]], list[Any]], batch_size: int, wait_s: float
    ):
        self.run_batch, self.batch_size, self.wait_s = run_batch, batch_size, wait_s
        self._queue: asyncio.Queue[Request] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.batch_sizes: list[int] = []  # every batch run, for inspection and reports

    async def submit(
        self, text: str, images: list[Any], *, decode: Any = None, rng: Any = None
    ) -> Any:
        """Queue one request and wait for its result (exceptions propagate to the caller)."""
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put(Request(text, images, future, decode, rng))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            batch = [await queue.get()]
            deadline = time.perf_counter() + self.wait_s
            while len(batch) < self.batch_size:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    while len(batch) < self.batch_size and not queue.empty():
                        batch.append(queue.get_nowait())
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), remaining))
                except TimeoutError:
                    break
            batch = [r for r in batch if not r.future.cancelled()]
            if not batch:
                continue
            self.batch_sizes.append(len(batch))
            try:
                results = await asyncio.to_thread(self.run_batch, batch)
            except Exception as exc:  # a failed generate fails every request of the batch
                for req in batch:
                    if not req.future.done():
                        req.future.set_exception(exc)
                continue
            for req, result in zip(batch, results, strict=True):
                if not req.future.done():
                    req.future.set_result(result)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
