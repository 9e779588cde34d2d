"""The benchmarks' view of the load generator (ray_aks.serving.load): `concurrency` closed-loop
clients send the same body for a warm-up and then a measured window; throughput and latencies count
the answers that arrive inside the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ray_aks.serving import load


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


def run_load(
    url: str, body: bytes, content_type: str, concurrency: int, seconds: float, warmup: float = 1.0
) -> LoadResult:
    """POST `body` for `warmup` + `seconds`; the figures are those of the answers in the window."""
    result = load.run_load(
        url, lambda _: body, concurrency, seconds=warmup + seconds, content_type=content_type
    )
    return window_figures(result, warmup, seconds)


def window_figures(result: load.LoadResult, warmup: float, seconds: float) -> LoadResult:
    """The figures of the outcomes whose answer came in [warmup, warmup + seconds]."""
    window = result.answered_between(warmup, warmup + seconds)
    answered = [o for o in window if o.status == 200]
    failures = [o for o in window if o.status != 200]
    first = min(failures, key=lambda o: o.at_s) if failures else None
    ms = np.asarray([o.latency_ms for o in answered])
    return LoadResult(
        concurrency=result.concurrency,
        seconds=seconds,
        ok=len(answered),
        failed=len(failures),
        throughput=len(answered) / seconds,
        p50_ms=float(np.percentile(ms, 50)) if len(ms) else float("nan"),
        p99_ms=float(np.percentile(ms, 99)) if len(ms) else float("nan"),
        first_failure=None if first is None else (f"HTTP {first.status}" if first.status else first.error),
    )
