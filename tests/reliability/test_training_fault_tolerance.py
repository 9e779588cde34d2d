"""Ray Train fault tolerance for real: the test kills the driver of `ray-aks train mnist` (run as a
separate driver, as a RayJob runs it) from outside, at a moment the training code does not choose,
and a second driver with the same storage and run name resumes the run, asked for one epoch more.
The finished run is also the CLI's end-to-end check: accuracy, MLflow's run, artifacts and model.

A lost worker is the e2e cluster's worker-loss scenario (tests/e2e/test_03_rayjob_and_service.py):
a worker pod deleted after a checkpoint, on the real operator. It replaced the two local tests that
killed a train worker process here (a SIGKILL, and a rank-0 exit after a checkpoint).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
import ray
from ray_aks.data.mnist import load_mnist_dir, write_digits_idx
from ray_aks.models.mnist_cnn import MnistCNN, load_checkpoint
from ray_aks.training.epochs import predict

from tests.conftest import wait_until
from tests.reliability import sizes
from tests.reliability.cluster import list_alive_actors

# Two drivers, an MLflow server and Ray Train restarts: more than pytest.ini's 900 s on a loaded
# 2-core machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

EPOCHS = sizes.size("train_epochs", 3, 5)
EXPERIMENT = "rel-kill-driver"  # also the registered model's name
RUN_NAME = "kill-driver"
CLI = str(Path(sys.executable).with_name("ray-aks"))


def train_command(data_dir: Path, storage: Path, run_name: str, experiment: str) -> list[str]:
    # fmt: off
    return [
        CLI, "train", "mnist", "--data-dir", str(data_dir), "--epochs", str(EPOCHS), "--num-workers", "2",
        "--batch-size", "16", "--storage-path", str(storage), "--run-name", run_name,
        "--experiment-name", experiment, "--model-name", experiment, "--max-failures", "2",
    ]
    # fmt: on


def start_driver(command: list[str], mlflow_server: str, log: Path) -> subprocess.Popen:
    env = os.environ | {
        "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
        "MLFLOW_TRACKING_URI": mlflow_server,
    }
    return subprocess.Popen(
        command,
        env=env,
        cwd=log.parent,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def the_run(client: mlflow.MlflowClient, experiment: str):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id]) if exp else []
    return runs[0] if len(runs) == 1 else None


def logged_epochs(client: mlflow.MlflowClient, experiment: str) -> list[int]:
    run = the_run(client, experiment)
    if run is None:
        return []
    return sorted(m.step for m in client.get_metric_history(run.info.run_id, "test_accuracy"))


def train_workers() -> list[dict]:
    actors = list_alive_actors(class_name="RayTrainWorker")
    return [{"pid": a.pid, "actor_id": a.actor_id} for a in actors]


def finish(proc: subprocess.Popen, log: Path, timeout: float = 1200) -> str:
    proc.wait(timeout=timeout)
    output = log.read_text(errors="replace")
    assert proc.returncode == 0, output[-6000:]
    return output


@dataclass(frozen=True)
class ResumedRun:
    """The run a killed driver left and a second driver finished."""

    client: mlflow.MlflowClient
    run: Any
    done_before: list[int]
    output: str
    data_dir: Path
    storage: Path


@pytest.fixture(scope="module")
def resumed_run(ray_local: None, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> ResumedRun:
    tmp_path = tmp_path_factory.mktemp("kill-driver")
    data_dir = write_digits_idx(tmp_path / "digits", compress=True)
    storage = tmp_path / "storage"
    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    command = train_command(data_dir, storage, RUN_NAME, EXPERIMENT)
    first_log = tmp_path / "driver-1.log"
    first = start_driver(command, mlflow_server, first_log)
    try:
        wait_until(
            lambda: 1 in logged_epochs(client, EXPERIMENT),
            900,
            "epoch 1 in MLflow",
            interval=0.2,
            retry_errors=False,
        )
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the driver and anything it started, as a pod kill would
        first.wait(timeout=60)
    done_before = logged_epochs(client, EXPERIMENT)
    # Ray ends a dead driver's job: its trainer and workers go with it.
    wait_until(
        lambda: not train_workers(),
        300,
        "the killed driver's workers to exit",
        interval=0.2,
        retry_errors=False,
    )

    # The second driver asks for one epoch more: the run keeps its first parameters and records the
    # re-run's, and trains only the epochs it lacks.
    second_log = tmp_path / "driver-2.log"
    rerun = [
        *command[: command.index("--epochs") + 1],
        str(EPOCHS + 1),
        *command[command.index("--epochs") + 2 :],
    ]
    output = finish(start_driver(rerun, mlflow_server, second_log), second_log)
    run = the_run(client, EXPERIMENT)
    assert run is not None, "the re-run must continue the same MLflow run, not start another"
    return ResumedRun(client, run, done_before, output, data_dir, storage)


def test_killing_the_driver_and_rerunning_with_the_same_storage_resumes(resumed_run: ResumedRun) -> None:
    client, run, done_before = resumed_run.client, resumed_run.run, resumed_run.done_before
    assert max(done_before) < EPOCHS, "the driver finished before it was killed"
    tags = run.data.tags
    print(
        f"driver kill: killed after epochs {done_before} of {EPOCHS}; re-run resumed from epoch "
        f"{tags.get('ray_aks.resumed_from_epoch')}; MLflow run {run.info.run_id} {run.info.status}, "
        f"driver_restarted={tags.get('ray_aks.driver_restarted')}"
    )
    assert run.info.status == "FINISHED"
    assert tags["ray_aks.driver_restarted"] == "true"
    assert int(tags["ray_aks.resumed_from_epoch"]) >= max(done_before)
    assert logged_epochs(client, EXPERIMENT) == list(range(1, EPOCHS + 2))
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")].count(EPOCHS + 1) == 1
    assert run.data.params["epochs"] == str(EPOCHS) and tags["ray_aks.rerun.epochs"] == str(EPOCHS + 1)
    assert "final_test_accuracy" in run.data.metrics, resumed_run.output[-3000:]


# The CLI's whole run as a RayJob runs it (a separate driver joining through RAY_ADDRESS, DDP over 2
# workers, a real MLflow server): checked on the resumed run above rather than on a run of its own,
# which cost one more Ray Train start (about a minute on 2 cores). tests/workloads/test_train_mnist.py
# keeps the in-process training checks.
def test_the_finished_cli_run_reaches_90_percent_and_mlflow_holds_the_run(
    resumed_run: ResumedRun, mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, run, output = resumed_run.client, resumed_run.run, resumed_run.output
    assert "f1_macro" in output and "precision_macro" in output  # the printed table
    assert run.info.run_name == RUN_NAME
    assert run.data.params["num_workers"] == "2"
    print(f"digits, 2 workers, {EPOCHS + 1} epochs: final test metrics {run.data.metrics}")  # for -rP
    assert run.data.metrics["final_test_accuracy"] >= 0.90
    for name in ("final_test_precision_macro", "final_test_recall_macro", "final_test_f1_macro"):
        assert 0.85 <= run.data.metrics[name] <= 1.0
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"training_curve.png", "test_report.txt", "history.json"} <= artifacts
    plot = Path(client.download_artifacts(run.info.run_id, "training_curve.png", str(tmp_path)))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The registered model: alias -> this run's version, loadable as the CNN class.
    champion = f"models:/{EXPERIMENT}@champion"
    version = client.get_model_version_by_alias(EXPERIMENT, "champion")
    assert version.run_id == run.info.run_id
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    mlflow.set_tracking_uri(mlflow_server)
    model = mlflow.pytorch.load_model(champion)
    assert isinstance(model, MnistCNN)
    data = load_mnist_dir(resumed_run.data_dir)
    accuracy = float((predict(model, data.test_images).argmax(axis=1) == data.test_labels).mean())
    assert accuracy == pytest.approx(run.data.metrics["final_test_accuracy"])

    # The last Ray Train checkpoint is a model source too, with the same weights.
    checkpoints = sorted((resumed_run.storage / RUN_NAME).glob("checkpoint_epoch_*"))
    assert checkpoints[-1].name == f"checkpoint_epoch_{EPOCHS + 1:04d}"
    from_checkpoint, state = load_checkpoint(checkpoints[-1])
    assert state["epoch"] == EPOCHS + 1
    np.testing.assert_allclose(
        predict(from_checkpoint, data.test_images[:50]), predict(model, data.test_images[:50]), rtol=1e-5
    )
    # The weights-only copy inside the logged model loads without unpickling code.
    local = Path(mlflow.artifacts.download_artifacts(champion, dst_path=str(tmp_path)))
    weights_only, _ = load_checkpoint(local / "extra_files")
    np.testing.assert_allclose(
        predict(weights_only, data.test_images[:50]), predict(model, data.test_images[:50]), rtol=1e-5
    )
