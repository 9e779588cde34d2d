"""A closed-loop HTTP load generator (asyncio + httpx) and the Serve replica processes' memory.

`run_load` keeps `concurrency` requests in flight until `total` are done and records every
outcome: status codes, transport errors and latencies. Nothing here is Serve-specific except
`replica_pids`, which finds a deployment's replica actors through Ray's state API.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class LoadResult:
    total: int
    wall_s: float
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # transport errors by exception type
    latencies_ms: list[float] = field(default_factory=list)
    failures_at: list[float] = field(default_factory=list)  # seconds since the start

    @property
    def failed(self) -> int:
        return sum(n for code, n in self.statuses.items() if code != 200) + sum(self.errors.values())

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def summary(self) -> str:
        return (
            f"{self.total} requests in {self.wall_s:.1f}s ({self.total / self.wall_s:.0f} req/s), "
            f"{self.failed} failed (statuses {dict(self.statuses)}, errors {dict(self.errors)}), "
            f"latency p50 {self.percentile(0.5):.0f} ms, p99 {self.percentile(0.99):.0f} ms, "
            f"mean {statistics.fmean(self.latencies_ms or [0]):.0f} ms"
        )


def run_load(
    url: str,
    body: Callable[[int], Any],
    total: int,
    concurrency: int,
    timeout_s: float = 120,
    during: Callable[[int], None] | None = None,
) -> LoadResult:
    """POST body(i) as JSON to url, `concurrency` at a time, `total` times. `during(done)` is called
    (in a thread) after every 50 completions, e.g. to kill a replica part-way through."""
    return asyncio.run(_load(url, body, total, concurrency, timeout_s, during))


async def _load(url, body, total, concurrency, timeout_s, during) -> LoadResult:
    result = LoadResult(total=total, wall_s=0.0)
    next_index = 0
    done = 0
    start = time.perf_counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=timeout_s) as client:

        async def worker() -> None:
            nonlocal next_index, done
            while next_index < total:
                i = next_index
                next_index += 1
                sent = time.perf_counter()
                try:
                    response = await client.post(url, json=body(i))
                    result.statuses[response.status_code] += 1
                    ok = response.status_code == 200
                except httpx.HTTPError as err:
                    result.errors[type(err).__name__] += 1
                    ok = False
                now = time.perf_counter()
                result.latencies_ms.append((now - sent) * 1000)
                if not ok:
                    result.failures_at.append(now - start)
                done += 1
                if during is not None and done % 50 == 0:
                    await asyncio.to_thread(during, done)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.wall_s = time.perf_counter() - start
    return result


def replica_actors(app: str, deployment: str) -> list[dict[str, Any]]:
    """The ALIVE replica actors of a deployment, from Ray's state API (each has a `pid`)."""
    from tests.reliability.cluster import list_alive_actors

    actors = list_alive_actors()
    name = f"SERVE_REPLICA::{app}#{deployment}#"
    return [a.__dict__ if not isinstance(a, dict) else a for a in actors if (a.name or "").startswith(name)]


def replica_pids(app: str, deployment: str) -> list[int]:
    return sorted(int(a["pid"]) for a in replica_actors(app, deployment))


def rss_mib(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20
