"""A training run's MLflow run, kept across driver restarts: the first driver records the MLflow run
id beside the run's checkpoints (`<storage_path>/<run_name>/ray_aks_run.json`); a driver started
again with the same storage and run name (a RayJob retried, `ray-aks train` run again) reopens that
MLflow run instead of starting a second one. Both training drivers (MNIST, CLIP classifier) start
their runs here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ray_aks.tracking.mlflow_tracking import RunTracker, start_run

RUN_STATE_FILE = "ray_aks_run.json"


def read_run_state(storage_path: str, run_name: str) -> dict:
    """What an earlier driver of this run recorded (e.g. its MLflow run id); {} for a new run."""
    path = Path(storage_path) / run_name / RUN_STATE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_run_state(storage_path: str, run_name: str, state: dict) -> None:
    path = Path(storage_path) / run_name / RUN_STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2))


def start_training_run(
    tracking_uri: str,
    experiment_name: str,
    storage_path: str,
    run_name: str,
    tags: dict[str, str],
    params: dict[str, Any],
) -> RunTracker:
    """The MLflow run of a training run: the one an earlier driver of it opened (tagged
    `ray_aks.driver_restarted`), else a new one; its id recorded for the next driver, `params` logged."""
    previous = read_run_state(storage_path, run_name)
    tracker = start_run(
        tracking_uri,
        experiment_name,
        run_name=run_name,
        resume_run_id=previous.get("mlflow_run_id"),
        tags=tags,
    )
    if tracker.active:
        write_run_state(storage_path, run_name, {"mlflow_run_id": tracker.run_id})
        if tracker.reopened:
            tracker.set_tags({"ray_aks.driver_restarted": "true"})
        tracker.log_params(params)
    return tracker
