"""AdaptiveBatcher, the Serve apps' dynamic batching: what forms a batch, and what each request gets back.

The batch function is gated by events, so each test decides when the "model" is busy and free.
"""

from __future__ import annotations

import asyncio

import pytest
from ray_aks.serving.batching import AdaptiveBatcher


class GatedModel:
    """A batch function that records each batch and, while `gate` is clear, stays busy."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        self.started.set()
        await self.gate.wait()
        return [item * 10 for item in items]


async def until(condition) -> None:
    while not condition():
        await asyncio.sleep(0)


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=30))


async def busy_then_queued(batcher: AdaptiveBatcher, model: GatedModel, queued: int) -> list[asyncio.Task]:
    """Submit request 0, wait until the model is busy with it, then queue requests 1..`queued`."""
    tasks = [asyncio.create_task(batcher.submit(0))]
    await model.started.wait()
    tasks += [asyncio.create_task(batcher.submit(i)) for i in range(1, queued + 1)]
    await until(lambda: len(batcher._queue) == queued)
    return tasks


def test_a_lone_request_runs_at_once_in_a_batch_of_one() -> None:
    async def scenario():
        model = GatedModel()
        model.gate.set()
        batcher = AdaptiveBatcher(model, max_batch_size=32)
        return await batcher.submit(7), model.batches

    (result, size), batches = run(scenario())
    assert (result, size) == (70, 1)
    assert batches == [[7]]


def test_requests_that_queue_while_the_model_is_busy_run_together_next() -> None:
    async def scenario():
        model = GatedModel()
        batcher = AdaptiveBatcher(model, max_batch_size=32)
        first, *queued = await busy_then_queued(batcher, model, 5)
        model.gate.set()
        return await first, await asyncio.gather(*queued), model.batches

    first, queued, batches = run(scenario())
    assert batches == [[0], [1, 2, 3, 4, 5]]
    assert first == (0, 1)
    assert queued == [(i * 10, 5) for i in range(1, 6)]


def test_max_batch_size_caps_each_batch_in_arrival_order() -> None:
    async def scenario():
        model = GatedModel()
        batcher = AdaptiveBatcher(model, max_batch_size=3)
        tasks = await busy_then_queued(batcher, model, 7)
        model.gate.set()
        await asyncio.gather(*tasks)
        return model.batches

    assert run(scenario()) == [[0], [1, 2, 3], [4, 5, 6], [7]]


def test_a_smaller_max_batch_size_applies_to_the_next_batch() -> None:
    async def scenario():
        model = GatedModel()
        batcher = AdaptiveBatcher(model, max_batch_size=32)
        tasks = await busy_then_queued(batcher, model, 4)
        batcher.max_batch_size = 2  # what the apps' reconfigure() does
        model.gate.set()
        await asyncio.gather(*tasks)
        return model.batches

    assert run(scenario()) == [[0], [1, 2], [3, 4]]


def test_a_model_error_reaches_every_request_of_its_batch_and_the_next_batch_still_runs() -> None:
    calls: list[list[str]] = []

    async def model(items: list[str]) -> list[str]:
        calls.append(items)
        if "bad" in items:
            raise ValueError("the model failed")
        return items

    async def scenario():
        batcher = AdaptiveBatcher(model, max_batch_size=2)
        # Both queue before the drain task first runs, so they share a batch.
        outcomes = await asyncio.gather(batcher.submit("bad"), batcher.submit("x"), return_exceptions=True)
        return outcomes, await batcher.submit("z")

    outcomes, after = run(scenario())
    assert calls == [["bad", "x"], ["z"]]
    assert all(isinstance(o, ValueError) and str(o) == "the model failed" for o in outcomes)
    assert after == ("z", 1)


def test_a_batch_function_returning_the_wrong_count_fails_its_requests() -> None:
    async def model(items: list[int]) -> list[int]:
        return items[:-1]

    async def scenario():
        return await AdaptiveBatcher(model, max_batch_size=4).submit(1)

    with pytest.raises(RuntimeError, match="gave 0 results for 1 items"):
        run(scenario())


def test_a_cancelled_request_is_dropped_before_its_batch_runs() -> None:
    async def scenario():
        model = GatedModel()
        batcher = AdaptiveBatcher(model, max_batch_size=32)
        first = asyncio.create_task(batcher.submit(0))
        await model.started.wait()
        gone = asyncio.create_task(batcher.submit(1))
        kept = asyncio.create_task(batcher.submit(2))
        await until(lambda: len(batcher._queue) == 2)
        gone.cancel()  # the client went away while its request queued
        model.gate.set()
        await first
        return await kept, gone.cancelled(), model.batches

    kept, cancelled, batches = run(scenario())
    assert cancelled
    assert kept == (20, 1)
    assert batches == [[0], [2]]


def test_a_wait_runs_the_batch_as_soon_as_it_is_full() -> None:
    async def scenario():
        model = GatedModel()
        model.gate.set()
        # A wait far longer than the test's timeout: only a full batch can end it.
        batcher = AdaptiveBatcher(model, max_batch_size=3, batch_wait_timeout_s=3600)
        results = await asyncio.gather(*(batcher.submit(i) for i in range(3)))
        return results, model.batches

    results, batches = run(scenario())
    assert batches == [[0, 1, 2]]
    assert results == [(0, 3), (10, 3), (20, 3)]


def test_a_wait_lets_a_request_arriving_within_it_join_the_batch() -> None:
    async def scenario():
        model = GatedModel()
        model.gate.set()
        batcher = AdaptiveBatcher(model, max_batch_size=8, batch_wait_timeout_s=0.5)
        first = asyncio.create_task(batcher.submit(1))
        await asyncio.sleep(0)  # the drain task starts its wait
        second = await batcher.submit(2)
        return await first, second, model.batches

    first, second, batches = run(scenario())
    assert batches == [[1, 2]]
    assert (first, second) == ((10, 2), (20, 2))
