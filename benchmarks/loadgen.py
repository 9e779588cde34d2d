"""A closed-loop HTTP load generator (aiohttp, already a Ray Serve dependency).

`concurrency` clients each send one request, wait for its answer, and send the next, for a warm-up
and then a measured window; throughput and latencies count the answers that arrive inside the window.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    seconds: float
    ok: int
    failed: int
    throughput: float  # successful requests per second
    p50_ms: float
    p99_ms: float
    first_failure: str | None


async def _run(
    url: str, body: bytes, content_type: str, concurrency: int, seconds: float, warmup: float
) -> LoadResult:
    import aiohttp

    latencies: list[float] = []
    failed = 0
    first_failure: str | None = None
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        measure_from = start + warmup
        stop = measure_from + seconds

        async def client() -> None:
            nonlocal failed, first_failure
            while True:
                sent = time.perf_counter()
                if sent >= stop:
                    return
                try:
                    async with session.post(url, data=body, headers={"content-type": content_type}) as resp:
                        await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError) as err:
                    status, reason = 0, f"{type(err).__name__}: {err}"
                else:
                    reason = f"HTTP {status}"
                done = time.perf_counter()
                if not measure_from <= done <= stop:
                    continue  # answered during the warm-up or after the window closed
                if status == 200:
                    latencies.append(done - sent)
                else:
                    failed += 1
                    first_failure = first_failure or reason

        await asyncio.gather(*(client() for _ in range(concurrency)))
    ms = np.asarray(latencies) * 1000.0
    return LoadResult(
        concurrency=concurrency,
        seconds=seconds,
        ok=len(latencies),
        failed=failed,
        throughput=len(latencies) / seconds,
        p50_ms=float(np.percentile(ms, 50)) if len(ms) else float("nan"),
        p99_ms=float(np.percentile(ms, 99)) if len(ms) else float("nan"),
        first_failure=first_failure,
    )


def run_load(
    url: str, body: bytes, content_type: str, concurrency: int, seconds: float, warmup: float = 1.0
) -> LoadResult:
    return asyncio.run(_run(url, body, content_type, concurrency, seconds, warmup))
