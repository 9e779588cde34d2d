"""Serving: the Serve apps (MNIST CNN, MiniLM embeddings, GPT-2 generation) against FastAPI + uvicorn.

Both sides run the same routes (`build_api`) and the same model code on the same cores. The plain
server is one uvicorn process, one forward pass (or generation) per request; the Serve app is one
replica with its defaults (adaptive batching, ray_aks.serving.batching) behind Serve's HTTP ingress,
with the Serve settings users get (ray_aks.serving.local.SERVE_ENV). In each run, every concurrency
level is measured on the plain server and then on Serve, back to back.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ray_aks.processes import free_port
from ray_aks.serving.local import SERVE_ENV

from benchmarks.common import (
    DIFFERENCE_AT_MOST,
    BenchmarkResult,
    Measure,
    Row,
    load_average,
    machine_facts,
    print_facts,
)
from benchmarks.loadgen import LoadResult, run_load
from tools.minilm import OFFLINE_ENV, minilm_path

APPS = ("mnist", "embeddings", "textgen")
TARGET_CONCURRENCY = 32
SENTENCE = "A platform team runs distributed training and batch inference on their Kubernetes cluster."
PROMPT = "Once upon a time a platform team"
NEW_TOKENS = 16
# A generation batch holds at most 10 requests (the textgen app's default): more clients
# only queue, so text generation is measured at the levels up to that.
TEXTGEN_MAX_CONCURRENCY = 10
# Each app's goal at TARGET_CONCURRENCY clients, as (metric, target) (issue 13), and at one client.
TARGETS: dict[tuple[str, str], tuple[str, float]] = {
    ("mnist", "throughput"): (">=", 1.0),
    ("mnist", "p99_ms"): ("<=", 1.0),
    ("embeddings", "throughput"): (">=", 1.5),
    ("embeddings", "p99_ms"): ("<=", 1.0),
}
ONE_CLIENT_TARGETS: dict[tuple[str, str], tuple[str, float]] = {
    ("mnist", "p50_ms"): (DIFFERENCE_AT_MOST, 3.0)
}


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


def textgen_model(directory: Path) -> str:
    """A GPT-2 of distilgpt2's shape (6 layers, width 768) with random weights and a small vocabulary."""
    from images.download_models import build_test_causal_lm

    return str(build_test_causal_lm(directory, layers=6, width=768, heads=12))


def request_body(app: str) -> tuple[str, bytes, str]:
    if app == "mnist":
        from ray_aks.serving.mnist import EXAMPLE_DATA

        return "/predict", json.dumps({"data": EXAMPLE_DATA}).encode(), "application/json"
    if app == "textgen":
        body = {"input": PROMPT, "max_new_tokens": NEW_TOKENS}
        return "/text/simple-gen", json.dumps(body).encode(), "application/json"
    return "/embeddings", json.dumps({"input": SENTENCE}).encode(), "application/json"


def app_concurrencies(app: str, concurrencies: tuple[int, ...]) -> tuple[int, ...]:
    if app == "textgen":
        return tuple(c for c in concurrencies if c <= TEXTGEN_MAX_CONCURRENCY)
    return concurrencies


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
    from ray_aks.serving.local import start_serve

    base = start_serve(port=free_port())
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
    seconds: float = 6.0,
    concurrencies: tuple[int, ...] = (1, 8, 32),
    apps: tuple[str, ...] = APPS,
    replica_threads: int = 2,
) -> BenchmarkResult:
    import ray
    from ray import serve

    facts = machine_facts()
    print_facts("serving", facts)
    workdir = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    builders = {
        "mnist": lambda: mnist_checkpoint(workdir / "mnist"),
        "embeddings": minilm_path,
        "textgen": lambda: textgen_model(workdir / "textgen"),
    }
    models = {name: builders[name]() for name in apps}
    # One replica of each app with its defaults; the apps share the machine's cores (one runs at a time).
    replica = {
        "num_replicas": 1,
        "torch_threads": replica_threads,
        "ray_actor_options": {
            "num_cpus": math.floor(100 * len(os.sched_getaffinity(0)) / len(apps)) / 100,
            "runtime_env": {"env_vars": OFFLINE_ENV},
        },
    }
    facts |= {
        "serve_replica": replica,
        "serve_env": SERVE_ENV,
        "plain_server": "1 uvicorn process, torch default threads",
        "textgen": f"{NEW_TOKENS} new tokens, greedy",
    }
    rows: dict[tuple[str, int, str], Row] = {}
    units = {"throughput": "req/s", "p50_ms": "ms", "p99_ms": "ms"}
    for app in apps:
        for c in app_concurrencies(app, concurrencies):
            for field, unit in units.items():
                targets = TARGETS if c == TARGET_CONCURRENCY else ONE_CLIENT_TARGETS if c == 1 else {}
                rows[(app, c, field)] = Row(
                    f"{app} c={c} {field.removesuffix('_ms')}",
                    unit,
                    higher_is_better=field == "throughput",
                    target=targets.get((app, field)),
                    plain_name="FastAPI+uvicorn",
                    ours_name="Serve",
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
                for c in app_concurrencies(app, concurrencies):
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
        for name, label in (("plain", "FastAPI + uvicorn"), ("serve", "Serve")):
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
