"""Ray glue shared by the jobs: connecting to Ray and remembering a run's MLflow id across restarts."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def timed(phase: str) -> Iterator[None]:
    """Log how long a phase of a job took (where the time goes on a small cluster)."""
    started = time.perf_counter()
    yield
    logger.info("%s took %.1fs", phase, time.perf_counter() - started)


def read_parquet(path: str):
    """`ray.data.read_parquet` through Ray Data's v1 parquet datasource.

    Ray 2.60's default (v2) reader starts a pool of 32 FooterReader actors for every read
    (RAY_DATA_PARQUET_FOOTER_NUM_ACTORS): on a 2-CPU node a 48-row read took 28-64 s instead of
    2 s. The choice is made when the read is planned, so the setting is restored right after.
    """
    import ray.data

    context = ray.data.DataContext.get_current()
    previous = context.use_datasource_v2
    context.use_datasource_v2 = False
    try:
        return ray.data.read_parquet(path)
    finally:
        context.use_datasource_v2 = previous
