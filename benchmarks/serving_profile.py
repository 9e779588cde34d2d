"""Where a Serve request's time goes: CPU milliseconds per request in each process, under load.

`python -m benchmarks.serving_profile [--plain] [--env NAME=VALUE ...] [--arg KEY=JSON ...]` deploys
the MNIST app on a local Ray (or, with --plain, runs the plain FastAPI server), sends it
`--concurrency` clients for `--seconds`, and prints each process's CPU time (user + system, from
/proc) divided by the requests answered, with the throughput and latencies. Each process is named
by what it is (Serve replica, proxy or HAProxy, controller, raylet, GCS, the load generator...).
`--env` sets Serve's environment before Ray starts (e.g. RAY_SERVE_ENABLE_HA_PROXY=0; the default
is ray_aks.serving.local.SERVE_ENV); `--arg` sets a builder arg (e.g. user_config={...}).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import threading
from collections import defaultdict
from pathlib import Path

from benchmarks.loadgen import LoadResult, run_load

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# (pattern on the command line, name), first match wins.
PROCESS_NAMES = [
    (r"ServeReplica:", "Serve replica"),
    (r"haproxy", "HAProxy"),
    (r"ProxyActor|HAProxyManager", "Serve proxy actor"),
    (r"ServeController", "Serve controller"),
    (r"raylet", "raylet"),
    (r"gcs_server", "GCS"),
    (r"benchmarks.plain_server", "plain uvicorn server"),
    (r"benchmarks.serving_profile", "load generator (this process)"),
    (r"dashboard|agent", "Ray dashboard and agents"),
    (r"ray::|default_worker", "other Ray workers"),
]


def cpu_seconds() -> dict[int, tuple[str, float]]:
    """Every process's command line and CPU seconds so far (user + system)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        found[int(entry.name)] = (
            cmdline or stat.split("(", 1)[1].split(")")[0],
            (int(fields[11]) + int(fields[12])) / CLOCK_TICKS,
        )
    return found


def process_name(cmdline: str) -> str | None:
    for pattern, name in PROCESS_NAMES:
        if re.search(pattern, cmdline):
            return name
    return None


def profile(url: str, body: bytes, concurrency: int, seconds: float) -> tuple[LoadResult, dict[str, float]]:
    """Load `url` and return the result and each kind of process's CPU ms per answered request."""
    result: dict[str, LoadResult] = {}
    before = cpu_seconds()
    load = threading.Thread(
        target=lambda: result.setdefault(
            "load", run_load(url, body, "application/json", concurrency, seconds, warmup=0)
        )
    )
    load.start()
    load.join()
    after = cpu_seconds()
    answered = max(result["load"].ok, 1)
    per_request: dict[str, float] = defaultdict(float)
    for pid, (cmdline, total) in after.items():
        name = process_name(cmdline)
        if name is None:
            continue
        used = total - before.get(pid, (cmdline, 0.0))[1]
        per_request[name] += used * 1000 / answered
    return result["load"], dict(per_request)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.serving_profile", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--plain", action="store_true", help="profile the plain FastAPI server instead of Serve"
    )
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="Serve environment")
    parser.add_argument("--arg", action="append", default=[], metavar="KEY=JSON", help="MNIST builder arg")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    try:
        env = dict(item.split("=", 1) for item in args.env)
        builder_args = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.arg)}
    except ValueError as err:
        parser.error(f"--env takes NAME=VALUE and --arg KEY=JSON: {err}")

    from benchmarks import serving
    from benchmarks.__main__ import start_ray

    workdir = Path(tempfile.mkdtemp(prefix="serving-profile-"))
    model = serving.mnist_checkpoint(workdir / "mnist")
    path, body, _ = serving.request_body("mnist")
    if args.plain:
        server = serving.PlainServer("mnist", model, workdir / "plain.log")
        try:
            run_load(server.url + path, body, "application/json", args.concurrency, 2.0, warmup=0)
            result, usage = profile(server.url + path, body, args.concurrency, args.seconds)
        finally:
            server.close()
    else:
        os.environ.update(env)
        start_ray()
        from ray import serve

        from tools.minilm import OFFLINE_ENV

        replica = {
            "num_replicas": 1,
            "torch_threads": 2,
            "ray_actor_options": {"num_cpus": 1, "runtime_env": {"env_vars": OFFLINE_ENV}},
        } | builder_args
        try:
            base = serving.deploy_serve({"mnist": model}, replica)
            url = f"{base}/mnist{path}"
            run_load(url, body, "application/json", args.concurrency, 2.0, warmup=0)
            result, usage = profile(url, body, args.concurrency, args.seconds)
        finally:
            serve.shutdown()
    print(
        f"{'plain' if args.plain else 'Serve'} c={args.concurrency}: {result.throughput:.0f} req/s, "
        f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, {result.failed} failed"
    )
    print("CPU ms per request by process:")
    for name, ms in sorted(usage.items(), key=lambda item: -item[1]):
        print(f"  {name:32s} {ms:6.2f}")
    print(f"  {'total':32s} {sum(usage.values()):6.2f}")


if __name__ == "__main__":
    main()
