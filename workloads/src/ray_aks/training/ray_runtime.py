"""Ray glue shared by the jobs: connecting to Ray and remembering a run's MLflow id across restarts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

RUN_STATE_FILE = "ray_aks_run.json"


def init_ray() -> None:
    """Join the cluster a RayJob provides (RAY_ADDRESS) or start a local Ray; reuse an open session.

    The dashboard stays on: Ray Train's controller polls its state API.
    """
    import ray

    if ray.is_initialized():
        return
    context = ray.init()
    if context.dashboard_url:
        logger.info("Ray dashboard: http://%s", context.dashboard_url)


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
