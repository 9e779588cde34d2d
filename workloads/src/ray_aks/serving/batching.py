"""Dynamic batching that never holds a lone request: a batch is what queued while the model was busy.

Serve's `@serve.batch` forms the next batch while the current one runs. With no wait that makes
batches of one under load; with a wait, a lone request sits out the whole wait (the figures are in
benchmarks/README.md, "Serving"). Here one drain task
runs the model: when it is free it takes everything queued (up to `max_batch_size`) and runs it at
once. An idle replica answers a request straight away, and under load the batch grows with the
queue. `batch_wait_timeout_s` > 0 brings back a wait for a fuller batch (for accelerators, where a
full batch costs little more than one request), applied only while the batch is not full.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class AdaptiveBatcher(Generic[Item, Result]):
    """`await batcher.submit(item)` -> (its result, the size of the batch it ran in).

    `run_batch` takes the batch's items in order and returns one result per item. An exception
    from it goes to every request of that batch; a cancelled request (client gone) is dropped
    before its batch runs. Runs on the event loop that submits; reconfigure by setting
    `max_batch_size` and `batch_wait_timeout_s`.
    """

    def __init__(
        self,
        run_batch: Callable[[list[Item]], Awaitable[list[Result]]],
        max_batch_size: int,
        batch_wait_timeout_s: float = 0.0,
    ):
        self.run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.batch_wait_timeout_s = batch_wait_timeout_s
        self._queue: deque[tuple[Item, asyncio.Future[tuple[Result, int]]]] = deque()
        self._full = asyncio.Event()
        self._drain_task: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> tuple[Result, int]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Result, int]] = loop.create_future()
        self._queue.append((item, future))
        if len(self._queue) >= self.max_batch_size:
            self._full.set()
        if self._drain_task is None:
            self._drain_task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                if self.batch_wait_timeout_s > 0 and len(self._queue) < self.max_batch_size:
                    self._full.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._full.wait(), self.batch_wait_timeout_s)
                taken = [self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch_size))]
                batch = [(item, future) for item, future in taken if not future.done()]
                if batch:
                    await self._run(batch)
        finally:
            # No await between the empty-queue check and this line: a submit() either saw the task
            # (and its item was drained) or sees None and starts a new one.
            self._drain_task = None

    async def _run(self, batch: list[tuple[Item, asyncio.Future[tuple[Result, int]]]]) -> None:
        try:
            results = await self.run_batch([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"the batch function gave {len(results)} results for {len(batch)} items")
        except BaseException as err:  # every waiter hears of it, also of a cancelled drain
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
            if not isinstance(err, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result((result, len(batch)))
