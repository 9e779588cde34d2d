"""Serving: the batched Serve apps (MNIST CNN, MiniLM embeddings) against plain FastAPI + uvicorn.

Both sides run the same routes (`build_api`) and the same model code on the same cores. The plain
server is one uvicorn process, one forward pass per request; the Serve app is one replica with
dynamic batching (`@serve.batch`), reached through Serve's HTTP proxy. In each run, every
concurrency level is measured on the plain server and then on Serve, back to back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ray_aks.models.packaged import OFFLINE_ENV, minilm_path
from ray_aks.processes import free_port

from benchmarks.common import BenchmarkResult, Measure, Row, load_average, machine_facts, print_facts
from benchmarks.loadgen import LoadResult, run_load

APPS = ("mnist", "embeddings")
TARGET_CONCURRENCY = 32
SENTENCE = "A platform team runs distributed training and batch inference on their Kubernetes cluster."


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f}s")


def mnist_checkpoint(directory: Path) -> str:
    """An MNIST CNN checkpoint (random weights: throughput does not depend on them)."""
    import torch
    from ray_aks.models.mnist_cnn import MnistCNN, save_checkpoint

    torch.manual_seed(0)
    save_checkpoint(MnistCNN(), directory, epoch=0)
    return str(directory)


def request_body(app: str) -> tuple[str, bytes, str]:
    if app == "mnist":
        from ray_aks.serving.mnist import EXAMPLE_DATA

        return "/predict", json.dumps({"data": EXAMPLE_DATA}).encode(), "application/json"
    return "/embeddings", json.dumps({"input": SENTENCE}).encode(), "application/json"


class PlainServer:
    """benchmarks.plain_server in its own process on a free loopback port."""

    def __init__(self, app: str, model: str, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.plain_server",
                "--app",
                app,
                "--model",
                model,
                "--port",
                str(self.port),
            ],
            cwd=Path(__file__).resolve().parent.parent,
            env=os.environ | OFFLINE_ENV,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_http(f"{self.url}/healthz", timeout=300, proc=self.proc)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def deploy_serve(apps: dict[str, str], replica: dict[str, Any]) -> str:
    """Start Serve on a free port and deploy each app under /<name>; returns the proxy URL."""
    import importlib

    from ray import serve

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    base = f"http://127.0.0.1:{port}"
    for name, model in apps.items():
        module = importlib.import_module(f"ray_aks.serving.{name}")
        args = replica | {"model": model}
        serve.run(module.app(args), name=name, route_prefix=f"/{name}")
        wait_http(f"{base}/{name}/healthz", timeout=300)
    return base


def side(result: LoadResult | Exception, field: str) -> Measure:
    if isinstance(result, Exception):
        return Measure(None, f"{type(result).__name__}: {result}", load_average())
    if result.failed:
        return Measure(None, f"{result.failed} failed requests ({result.first_failure})", load_average())
    if not result.ok:
        return Measure(None, f"no answer within the {result.seconds:g} s window", load_average())
    return Measure(getattr(result, field), None, load_average())


def run(
    runs: int = 3,
    seconds: float = 8.0,
    concurrencies: tuple[int, ...] = (1, 8, 32, 64),
    apps: tuple[str, ...] = APPS,
    replica_threads: int = 2,
) -> BenchmarkResult:
    import ray
    from ray import serve

    facts = machine_facts()
    print_facts("serving", facts)
    workdir = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    models = {"mnist": mnist_checkpoint(workdir / "mnist"), "embeddings": minilm_path()}
    models = {name: models[name] for name in apps}
    # One replica on the machine's cores, with room for every client's request in its queue.
    replica = {
        "num_replicas": 1,
        "max_ongoing_requests": max(concurrencies) * 2,
        "torch_threads": replica_threads,
        "ray_actor_options": {"num_cpus": 1, "runtime_env": {"env_vars": OFFLINE_ENV}},
    }
    facts |= {"serve_replica": replica, "plain_server": "1 uvicorn process, torch default threads"}
    rows: dict[tuple[str, int, str], Row] = {}
    for app in apps:
        for c in concurrencies:
            target = c == TARGET_CONCURRENCY
            rows[(app, c, "throughput")] = Row(
                f"{app} c={c} throughput",
                "req/s",
                target=(">=", 2.0) if target else None,
                plain_name="FastAPI+uvicorn",
                ours_name="Serve batched",
            )
            rows[(app, c, "p50_ms")] = Row(
                f"{app} c={c} p50",
                "ms",
                higher_is_better=False,
                plain_name="FastAPI+uvicorn",
                ours_name="Serve batched",
            )
            rows[(app, c, "p99_ms")] = Row(
                f"{app} c={c} p99",
                "ms",
                higher_is_better=False,
                target=("<=", 1.0) if target else None,
                plain_name="FastAPI+uvicorn",
                ours_name="Serve batched",
            )
    series: list[dict[str, Any]] = []
    plain_servers: dict[str, PlainServer] = {}
    started = time.perf_counter()
    try:
        for app, model in models.items():
            plain_servers[app] = PlainServer(app, model, workdir / f"plain-{app}.log")
        serve_base = deploy_serve(models, replica)
        for run_index in range(runs):
            for app in apps:
                path, body, content_type = request_body(app)
                urls = {"plain": plain_servers[app].url + path, "serve": f"{serve_base}/{app}{path}"}
                for c in concurrencies:
                    outcome: dict[str, LoadResult | Exception] = {}
                    for name, url in urls.items():  # plain, then Serve: back to back
                        try:
                            outcome[name] = run_load(url, body, content_type, c, seconds)
                        except Exception as err:
                            outcome[name] = err
                    for field in ("throughput", "p50_ms", "p99_ms"):
                        rows[(app, c, field)].plain.append(side(outcome["plain"], field))
                        rows[(app, c, field)].ours.append(side(outcome["serve"], field))
                    series.append(
                        {
                            "run": run_index,
                            "app": app,
                            "concurrency": c,
                            "load": load_average(),
                            **{
                                name: (vars(res) if isinstance(res, LoadResult) else {"error": str(res)})
                                for name, res in outcome.items()
                            },
                        }
                    )
                    print(
                        f"[serving] run {run_index + 1}/{runs} {app} c={c}: "
                        + "; ".join(
                            f"{n} {r.throughput:.1f} req/s p50 {r.p50_ms:.1f} ms p99 {r.p99_ms:.1f} ms"
                            if isinstance(r, LoadResult)
                            else f"{n} error {r}"
                            for n, r in outcome.items()
                        )
                        + f" (load {load_average()})",
                        flush=True,
                    )
    finally:
        for server in plain_servers.values():
            server.close()
        if ray.is_initialized():
            serve.shutdown()
    return BenchmarkResult(
        name="serving",
        description=__doc__.split("\n\n")[0],
        facts=facts,
        rows=list(rows.values()),
        details={"seconds_per_point": seconds, "concurrencies": list(concurrencies), "series": series},
        seconds=time.perf_counter() - started,
    )


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    series = result["details"]["series"]
    apps = sorted({s["app"] for s in series})
    fig, axes = plt.subplots(len(apps), 2, figsize=(11, 4 * len(apps)), squeeze=False)
    for i, app in enumerate(apps):
        conc = sorted({s["concurrency"] for s in series if s["app"] == app})
        for name, label in (("plain", "FastAPI + uvicorn"), ("serve", "Serve, batched")):
            panels = (("throughput", "requests/s"), ("p99_ms", "p99 latency (ms)"))
            for j, (field, ylabel) in enumerate(panels):
                med = []
                for c in conc:
                    vals = [
                        s[name][field]
                        for s in series
                        if s["app"] == app and s["concurrency"] == c and field in s[name]
                    ]
                    med.append(np.median(vals) if vals else np.nan)
                axes[i][j].plot(conc, med, marker="o", label=label)
                axes[i][j].set_xscale("log", base=2)
                axes[i][j].set_xticks(conc, [str(c) for c in conc])
                axes[i][j].set_xlabel("concurrent clients")
                axes[i][j].set_ylabel(ylabel)
                axes[i][j].set_title(f"{app}: {ylabel} (median of runs)")
                axes[i][j].legend()
                axes[i][j].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
