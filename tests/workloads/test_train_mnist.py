"""`ray-aks train mnist` for real: a local Ray with 2 CPUs, DDP over 2 workers, a real MLflow server."""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
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
from tests.workloads.fault_injection import ExitRank0AfterEpoch
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


def test_the_workers_run_with_the_allocator_settings_and_their_steps_stop_faulting_memory_in(
    ray_local: None, tmp_path: Path
) -> None:
    # glibc reads these when the worker process starts; with its defaults each epoch of this loop
    # faulted its tensors in again (about 6,600 minor page faults a step, tens of thousands an epoch).
    from ray_aks.training.ray_runtime import TRAIN_WORKER_ENV

    probes = tmp_path / "probes"
    probes.mkdir()
    cfg = MnistTrainConfig(
        data_dir=str(write_digits_idx(tmp_path / "digits")),
        epochs=4,
        num_workers=2,
        batch_size=64,
        storage_path=str(tmp_path / "storage"),
        run_name="allocator",
    )
    train_mnist(cfg, on_epoch_end=RecordWorkerProcess(str(probes), tuple(TRAIN_WORKER_ENV)))

    for rank in (0, 1):
        records = [json.loads(line) for line in (probes / f"rank-{rank}.jsonl").read_text().splitlines()]
        assert [r["epoch"] for r in records] == [1, 2, 3, 4]
        assert all(r["env"] == TRAIN_WORKER_ENV for r in records)
        faults = [b["minor_faults"] - a["minor_faults"] for a, b in itertools.pairwise(records)]
        print(f"rank {rank}: minor page faults in epochs 2-4: {faults}")  # for the record (-rP)
        assert min(faults) < 5_000, faults


def test_worker_death_resumes_from_the_last_checkpoint_and_mlflow_records_it(
    ray_local: None, mlflow_server: str, tmp_path: Path
) -> None:
    data_dir = write_digits_idx(tmp_path / "digits")
    cfg = MnistTrainConfig(
        data_dir=str(data_dir),
        epochs=3,
        num_workers=2,
        batch_size=64,
        storage_path=str(tmp_path / "storage"),
        run_name="resume",
        experiment_name="mnist-resume",
        model_name="mnist-cnn-resume",
        tracking_uri=mlflow_server,
        max_failures=1,
    )
    # Rank 0 calls os._exit(1) once epoch 1 is logged and its checkpoint registered.
    result = train_mnist(cfg, on_epoch_end=ExitRank0AfterEpoch(1))

    assert result.restarts == 1
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    run = client.get_run(result.mlflow_run_id)
    assert run.data.metrics["resumed_from_epoch"] == 1
    assert run.data.tags["ray_aks.restarts"] == "1"
    # Resumed, not restarted: epoch 1 was trained once (before the death), epochs 2 and 3 after it.
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "test_accuracy")]
    assert sorted(steps) == [1, 2, 3]
    logged_epoch_1 = next(
        m.value for m in client.get_metric_history(run.info.run_id, "test_accuracy") if m.step == 1
    )
    assert result.history[0]["test_accuracy"] == pytest.approx(logged_epoch_1)
    assert run.info.status == "FINISHED"

    # A new driver with the same run name (e.g. a restarted RayJob) continues the same run.
    again = train_mnist(cfg.model_copy(update={"epochs": 4}))
    assert again.mlflow_run_id == result.mlflow_run_id
    assert [row["epoch"] for row in again.history] == [1, 2, 3, 4]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")].count(4) == 1
    rerun = client.get_run(run.info.run_id)
    assert rerun.data.tags["ray_aks.driver_restarted"] == "true"
    assert rerun.data.params["epochs"] == "3" and rerun.data.tags["ray_aks.rerun.epochs"] == "4"
    assert rerun.info.status == "FINISHED"


def test_tracking_server_down_warns_and_still_writes_the_checkpoint(
    ray_local: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    cfg = MnistTrainConfig(
        data_dir=str(write_digits_idx(tmp_path / "digits")),
        epochs=1,
        num_workers=1,
        storage_path=str(tmp_path / "storage"),
        run_name="no-tracking",
        tracking_uri=closed,
    )
    with caplog.at_level(logging.WARNING, logger="ray_aks"):
        result = train_mnist(cfg)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"MLflow tracking at {closed} is unavailable" in w for w in warnings), warnings
    assert result.mlflow_run_id is None and result.tracking_problem
    assert result.model_version is None
    model, state = load_checkpoint(result.checkpoint_path)
    assert state["epoch"] == 1 and (Path(result.checkpoint_path) / CHECKPOINT_FILE).is_file()
    assert isinstance(model, MnistCNN)
    assert result.test_metrics["accuracy"] > 0.5  # trained and evaluated all the same
