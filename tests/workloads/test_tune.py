"""`ray-aks tune`: ASHA over the real MNIST loop on a local Ray with 2 CPUs; results in MLflow."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from ray_aks.data.mnist import write_digits_idx
from ray_aks.tuning.config import TuneMnistConfig
from ray_aks.tuning.mnist_tune import tune_mnist

pytestmark = pytest.mark.slow

GOOD_LRS = (3e-3, 1e-3)
# Two learning rates that cannot learn in an epoch: ASHA must stop them at its first rung,
# whatever order the trials finish in (the good trials start first and reach the rung first).
HOPELESS_LR = 1e-6


def test_asha_stops_weak_trials_and_the_best_config_is_logged(
    ray_local: None, mlflow_server: str, tmp_path: Path
) -> None:
    cfg = TuneMnistConfig(
        data_dir=str(write_digits_idx(tmp_path / "digits")),
        num_samples=1,
        lr_grid=[*GOOD_LRS, HOPELESS_LR, HOPELESS_LR],
        hidden_choices=[32],
        batch_size_choices=[64],
        max_epochs=2,
        grace_period=1,
        storage_path=str(tmp_path / "storage"),
        run_name="tune-asha",
        experiment_name="mnist-tune-test",
        tracking_uri=mlflow_server,
    )
    result = tune_mnist(cfg)

    assert len(result.trials) == 4
    assert all(t.epochs >= 1 for t in result.trials)
    stopped = result.stopped_early
    assert stopped, f"ASHA stopped no trial: {result.trials}"
    assert {t.config["lr"] for t in result.trials if t.config["lr"] == HOPELESS_LR and t.stopped_early}
    assert any(t.epochs == cfg.max_epochs for t in result.trials)  # the leader ran to the end
    assert result.best_config["lr"] in GOOD_LRS
    assert result.best_metrics["test_accuracy"] == max(t.test_accuracy for t in result.trials)
    assert result.best_metrics["test_accuracy"] > 0.5
    assert result.best_checkpoint_path and (Path(result.best_checkpoint_path) / "model.pt").is_file()

    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    parent = client.get_run(result.mlflow_run_id)
    assert parent.info.status == "FINISHED"
    assert float(parent.data.params["best_lr"]) == result.best_config["lr"]
    assert parent.data.params["best_hidden"] == "32"
    assert parent.data.metrics["best_test_accuracy"] == pytest.approx(result.best_metrics["test_accuracy"])
    assert parent.data.metrics["trials"] == 4
    assert parent.data.metrics["trials_stopped_early"] == len(stopped)
    assert "tune_results.json" in {a.path for a in client.list_artifacts(parent.info.run_id)}

    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert len(children) == 4
    assert all(child.info.status == "FINISHED" for child in children)
    stopped_children = [c for c in children if c.data.tags.get("ray_aks.stopped_early") == "true"]
    assert len(stopped_children) == len(stopped)
    for child in children:  # each trial logged its own per-epoch curve
        steps = [m.step for m in client.get_metric_history(child.info.run_id, "test_accuracy")]
        assert steps == list(range(1, int(child.data.tags["ray_aks.epochs"]) + 1))
