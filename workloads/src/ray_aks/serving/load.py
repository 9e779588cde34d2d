"""A closed-loop HTTP load generator: `concurrency` clients each POST a request, wait for its answer
and send the next, until `requests` are done or `seconds` have passed. Every outcome is kept (when it
ended, its status or transport error, its latency), so a test can say which requests failed and when.

    python -m ray_aks.serving.load http://svc:8000/mnist --json '{"data": [[0.0, ...]]}' \\
        --concurrency 4 --seconds 60

prints the summary as one JSON object. It runs wherever the ray-aks package is installed (the images
too), so a load can come from a pod inside the cluster, through the Serve Service as clients reach it.
aiohttp is a Ray Serve dependency: nothing else is needed. The one load generator of the package, the
tests, the e2e scenarios and the benchmarks (benchmarks/loadgen.py measures a window of its outcomes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Outcome:
    sent_s: float  # when the request was sent, in seconds since the load started
    at_s: float  # when its answer (or its error) came
    status: int  # HTTP status; 0 for a transport error
    error: str  # the transport error's type, or ""

    @property
    def latency_ms(self) -> float:
        return (self.at_s - self.sent_s) * 1000


@dataclass
class LoadResult:
    concurrency: int
    started_at: float = 0.0  # time.perf_counter() when the load started: the outcomes' zero
    wall_s: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return len(self.outcomes)

    @property
    def ok(self) -> int:
        return sum(1 for o in self.outcomes if o.status == 200)

    @property
    def failed(self) -> int:
        return self.sent - self.ok

    @property
    def statuses(self) -> Counter:
        return Counter(o.status for o in self.outcomes if o.status)

    @property
    def errors(self) -> Counter:
        return Counter(o.error for o in self.outcomes if o.error)

    @property
    def failures(self) -> list[tuple[float, str]]:
        """Each failed request: when its answer (or error) came, and what it was (the HTTP status, or
        the transport error's type), in order."""
        return sorted((o.at_s, o.error or str(o.status)) for o in self.outcomes if o.status != 200)

    def answered_between(self, from_s: float, to_s: float) -> list[Outcome]:
        """The outcomes whose answer (or error) came in [from_s, to_s] after the start."""
        return [o for o in self.outcomes if from_s <= o.at_s <= to_s]

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(o.latency_ms for o in self.outcomes if o.status == 200)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    @property
    def throughput(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "ok": self.ok,
            "failed": self.failed,
            "concurrency": self.concurrency,
            "wall_s": round(self.wall_s, 2),
            "requests_per_s": round(self.throughput, 1),
            "p50_ms": round(self.percentile_ms(0.5), 1),
            "p99_ms": round(self.percentile_ms(0.99), 1),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(self.errors),
            "failures": [[round(t, 2), what] for t, what in self.failures],
        }


def run_load(
    url: str,
    body: Callable[[int], Any],
    concurrency: int,
    requests: int | None = None,
    seconds: float | None = None,
    timeout_s: float = 120,
    during: Callable[[LoadResult], None] | None = None,
    content_type: str | None = None,
    stop_file: str | None = None,
) -> LoadResult:
    """POST body(i) as JSON to url (or, with `content_type`, body(i) as the raw bytes of that type),
    `concurrency` at a time, until `requests` are done or `seconds` have passed (whichever comes
    first; at least one must be given), or until `stop_file` exists (a script ends the load at an
    event of its own). `during(result so far)` runs in a thread after every 50 answers, e.g. to kill a
    replica part-way through."""
    if requests is None and seconds is None:
        raise ValueError("give requests, seconds or both: a load must end")
    return asyncio.run(
        _load(url, body, concurrency, requests, seconds, timeout_s, during, content_type, stop_file)
    )


async def _load(
    url, body, concurrency, requests, seconds, timeout_s, during, content_type, stop_file
) -> LoadResult:
    import aiohttp

    start = time.perf_counter()
    result = LoadResult(concurrency=concurrency, started_at=start)
    next_index = 0
    stop_at = start + seconds if seconds is not None else float("inf")
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client() -> None:
            nonlocal next_index
            while (
                (requests is None or next_index < requests)
                and time.perf_counter() < stop_at
                and not (stop_file and os.path.exists(stop_file))
            ):
                i = next_index
                next_index += 1
                sent = time.perf_counter()
                status, error = 0, ""
                if content_type is None:
                    send = {"json": body(i)}
                else:
                    send = {"data": body(i), "headers": {"content-type": content_type}}
                try:
                    async with session.post(url, **send) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError, OSError) as err:
                    error = type(err).__name__
                result.outcomes.append(Outcome(sent - start, time.perf_counter() - start, status, error))
                if during is not None and len(result.outcomes) % 50 == 0:
                    await asyncio.to_thread(during, result)

        await asyncio.gather(*(client() for _ in range(concurrency)))
    result.wall_s = time.perf_counter() - start
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ray_aks.serving.load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("url", help="the endpoint to POST to, e.g. http://<service>:8000/mnist")
    parser.add_argument("--json", required=True, help="the request body, a JSON document")
    parser.add_argument("--concurrency", type=int, default=4, help="clients, each one request at a time")
    parser.add_argument("--requests", type=int, help="stop after this many answers")
    parser.add_argument("--seconds", type=float, help="stop sending after this many seconds")
    parser.add_argument("--timeout", type=float, default=120, help="seconds a request may take")
    parser.add_argument("--stop-file", help="stop sending once this file exists (end the load at an event)")
    parser.add_argument("--output", help="also write the summary to this file, whole once the load ended")
    args = parser.parse_args(argv)
    if args.requests is None and args.seconds is None:
        parser.error("give --requests, --seconds or both: a load must end")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    try:
        document = json.loads(args.json)
    except json.JSONDecodeError as err:
        parser.error(f"--json is not a JSON document: {err}")
    result = run_load(
        args.url,
        lambda _: document,
        args.concurrency,
        args.requests,
        args.seconds,
        args.timeout,
        stop_file=args.stop_file,
    )
    summary = json.dumps(result.summary())
    if args.output:
        # Written aside and renamed: a reader polling for the file never sees half of it.
        partial = f"{args.output}.partial"
        with open(partial, "w") as out:
            out.write(summary + "\n")
        os.replace(partial, args.output)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
