"""`ray-aks train mnist` for real: a local Ray with 2 CPUs, DDP over 2 workers, a real MLflow server."""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pytest
import ray
from ray_aks.data.mnist import load_mnist_dir, write_digits_idx
from ray_aks.models.mnist_cnn import CHECKPOINT_FILE, MnistCNN, load_checkpoint
from ray_aks.training.config import MnistTrainConfig
from ray_aks.training.epochs import predict
from ray_aks.training.mnist import train_mnist

from tests.conftest import free_port
from tests.workloads.worker_probes import RecordWorkerProcess

pytestmark = pytest.mark.slow


def _experiment_runs(client: mlflow.MlflowClient, experiment: str) -> list:
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"experiment {experiment} was not created"
    return client.search_runs([exp.experiment_id])


def test_digits_as_idx_reach_90_percent_with_two_workers_and_mlflow_holds_the_run(
    ray_local: None, mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI as a RayJob runs it: a separate driver that joins the cluster through RAY_ADDRESS."""
    data_dir = write_digits_idx(tmp_path / "digits", compress=True)
    storage = tmp_path / "storage"
    env = os.environ | {
        "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
        "MLFLOW_TRACKING_URI": mlflow_server,
    }
    cli = Path(sys.executable).with_name("ray-aks")
    # fmt: off
    args = [
        str(cli), "train", "mnist", "--data-dir", str(data_dir), "--epochs", "3", "--num-workers", "2",
        "--batch-size", "32", "--storage-path", str(storage), "--run-name", "digits-ddp",
        "--experiment-name", "digits-learning", "--model-name", "mnist-cnn-digits",
    ]
    # fmt: on
    done = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert "f1_macro" in done.stdout and "precision_macro" in done.stdout  # the printed table

    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    (run,) = _experiment_runs(client, "digits-learning")
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "digits-ddp"
    assert run.data.params["num_workers"] == "2" and run.data.params["epochs"] == "3"
    print(f"digits, 2 workers, 3 epochs: final test metrics {run.data.metrics}")  # for the record (-rP)
    assert run.data.metrics["final_test_accuracy"] >= 0.90
    for name in ("final_test_precision_macro", "final_test_recall_macro", "final_test_f1_macro"):
        assert 0.85 <= run.data.metrics[name] <= 1.0
    history = client.get_metric_history(run.info.run_id, "test_accuracy")
    assert sorted(m.step for m in history) == [1, 2, 3]  # one value per epoch, logged by rank 0
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1, 2, 3]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"training_curve.png", "test_report.txt", "history.json"} <= artifacts
    plot = Path(client.download_artifacts(run.info.run_id, "training_curve.png", str(tmp_path)))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The registered model: alias -> this run's version, loadable as the CNN class.
    version = client.get_model_version_by_alias("mnist-cnn-digits", "champion")
    assert version.run_id == run.info.run_id
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    mlflow.set_tracking_uri(mlflow_server)
    model = mlflow.pytorch.load_model("models:/mnist-cnn-digits@champion")
    assert isinstance(model, MnistCNN)
    data = load_mnist_dir(data_dir)
    accuracy = float((predict(model, data.test_images).argmax(axis=1) == data.test_labels).mean())
    assert accuracy == pytest.approx(run.data.metrics["final_test_accuracy"])

    # The last Ray Train checkpoint is a model source too, with the same weights.
    checkpoints = sorted((storage / "digits-ddp").glob("checkpoint_epoch_*"))
    assert checkpoints[-1].name == "checkpoint_epoch_0003"
    from_checkpoint, state = load_checkpoint(checkpoints[-1])
    assert state["epoch"] == 3
    np.testing.assert_allclose(
        predict(from_checkpoint, data.test_images[:50]), predict(model, data.test_images[:50]), rtol=1e-5
    )
    # The weights-only copy inside the logged model loads without unpickling code.
    local = Path(
        mlflow.artifacts.download_artifacts("models:/mnist-cnn-digits@champion", dst_path=str(tmp_path))
    )
    weights_only, _ = load_checkpoint(local / "extra_files")
    np.testing.assert_allclose(
        predict(weights_only, data.test_images[:50]), predict(model, data.test_images[:50]), rtol=1e-5
    )


@dataclass(frozen=True)
class UntrackedRun:
    """One training run that two tests read: 2 workers, 4 epochs, each worker's process probed after
    every epoch, and the tracking URI pointing where nothing listens."""

    result: object
    probes: Path
    warnings: list[str]
    closed_uri: str


@pytest.fixture(scope="module")
def untracked_run(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> UntrackedRun:
    from ray_aks.training.worker_env import TRAIN_WORKER_ENV

    tmp = tmp_path_factory.mktemp("untracked")
    probes = tmp / "probes"
    probes.mkdir()
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    cfg = MnistTrainConfig(
        data_dir=str(write_digits_idx(tmp / "digits")),
        epochs=4,
        num_workers=2,
        batch_size=64,
        storage_path=str(tmp / "storage"),
        run_name="untracked",
        tracking_uri=closed,
    )
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("ray_aks")
    logger.addHandler(handler)
    try:
        result = train_mnist(cfg, on_epoch_end=RecordWorkerProcess(str(probes), tuple(TRAIN_WORKER_ENV)))
    finally:
        logger.removeHandler(handler)
    return UntrackedRun(result, probes, [r.getMessage() for r in records], closed)


def test_the_workers_run_with_the_allocator_settings_and_their_steps_stop_faulting_memory_in(
    untracked_run: UntrackedRun,
) -> None:
    # glibc reads these when the worker process starts; with its defaults each epoch of this loop
    # faulted its tensors in again (about 6,600 minor page faults a step, tens of thousands an epoch).
    from ray_aks.training.worker_env import TRAIN_WORKER_ENV

    for rank in (0, 1):
        lines = (untracked_run.probes / f"rank-{rank}.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines]
        assert [r["epoch"] for r in records] == [1, 2, 3, 4]
        assert all(r["env"] == TRAIN_WORKER_ENV for r in records)
        faults = [b["minor_faults"] - a["minor_faults"] for a, b in itertools.pairwise(records)]
        print(f"rank {rank}: minor page faults in epochs 2-4: {faults}")  # for the record (-rP)
        assert min(faults) < 5_000, faults


def test_tracking_server_down_warns_and_still_writes_the_checkpoint(untracked_run: UntrackedRun) -> None:
    result, closed = untracked_run.result, untracked_run.closed_uri
    warnings = untracked_run.warnings
    assert any(f"MLflow tracking at {closed} is unavailable" in w for w in warnings), warnings
    assert result.mlflow_run_id is None and result.tracking_problem
    assert result.model_version is None
    model, state = load_checkpoint(result.checkpoint_path)
    assert state["epoch"] == 4 and (Path(result.checkpoint_path) / CHECKPOINT_FILE).is_file()
    assert isinstance(model, MnistCNN)
    assert result.test_metrics["accuracy"] > 0.5  # trained and evaluated all the same
