"""`ray-aks train mnist` for real, in process: a local Ray with 2 CPUs, DDP over 2 workers.

The command as a RayJob runs it (a separate driver through RAY_ADDRESS, a real MLflow server: 90%
on the digits, the run, its artifacts and registered model) is checked on the run that
tests/reliability/test_training_fault_tolerance.py kills and resumes, one Ray Train start fewer."""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
from ray_aks.data.mnist import write_digits_idx
from ray_aks.models.mnist_cnn import CHECKPOINT_FILE, MnistCNN, load_checkpoint
from ray_aks.training.config import MnistTrainConfig
from ray_aks.training.mnist import train_mnist

from tests.conftest import free_port
from tests.workloads.worker_probes import RecordWorkerProcess

pytestmark = pytest.mark.slow


def _experiment_runs(client: mlflow.MlflowClient, experiment: str) -> list:
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"experiment {experiment} was not created"
    return client.search_runs([exp.experiment_id])


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
