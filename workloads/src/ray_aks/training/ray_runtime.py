"""Ray glue shared by the jobs' drivers: the TorchTrainer and its fit, the controller's and the
workers' settings, a run's MLflow id kept across restarts, parquet reads and phase timings."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

RUN_STATE_FILE = "ray_aks_run.json"

# How often Ray Train's controller drains the workers' results: 2 s by default. A worker's result
# queue holds one report, so with epochs shorter than that, every ray.train.report waited for the
# next poll: 288 ms an epoch on 2 cores (`make bench`, training). Polling 2 workers twice a second
# costs a few ms of CPU. Ray Train passes the driver's value on to the controller it starts; a value
# the user set wins.
TRAIN_ENV = {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.5"}


def apply_train_env() -> None:
    """Set TRAIN_ENV in this driver (before a trainer starts) unless the user set it."""
    for name, value in TRAIN_ENV.items():
        os.environ.setdefault(name, value)


# glibc's allocator in the Train workers. With its defaults each MNIST step on the CPU handed its
# tensors' memory back to the OS and faulted it in again (about 6,600 minor page faults a step,
# 20% of a step in this VM). Raising the two thresholds stops that only in a process's main arena,
# and Ray Train runs the loop in a thread, which glibc gives an arena of its own: hence one arena.
# `make bench` training: Ray Train 914 -> 1,098 samples/s (benchmarks/README.md, "The allocator").
# The cost: a worker's heap stays at its peak instead of shrinking.
TRAIN_WORKER_ENV = {
    "MALLOC_ARENA_MAX": "1",
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),  # glibc's maximum
    "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
}


def train_worker_env() -> dict[str, str]:
    """The environment the trainers give their workers: TRAIN_WORKER_ENV, where the driver's
    environment does not set a value of its own (glibc reads these when a process starts)."""
    return {name: os.environ.get(name, value) for name, value in TRAIN_WORKER_ENV.items()}


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


def torch_trainer(
    train_loop,
    loop_config: dict,
    cfg,
    run_name: str,
    datasets: dict | None = None,
    checkpoint_score: tuple[str, str] | None = None,
    datasets_to_split: list[str] | None = None,
):
    """A TorchTrainer with the jobs' shared settings from cfg: workers, GPU, CPUs per worker, the
    storage path, worker-group restarts and the checkpoints kept.

    `checkpoint_score` (metric, "min" or "max") keeps the best checkpoints by that reported metric
    instead of the newest (Ray Train always keeps the latest too, so a restart resumes from it);
    `datasets_to_split` names the datasets sharded across workers (default: all), the others reach
    every worker whole.
    """
    import ray.train
    from ray.train.torch import TorchTrainer

    apply_train_env()
    metric, order = checkpoint_score or (None, "max")
    dataset_config = ray.train.DataConfig(datasets_to_split=datasets_to_split) if datasets_to_split else None
    return TorchTrainer(
        train_loop,
        train_loop_config=loop_config,
        datasets=datasets,
        dataset_config=dataset_config,
        scaling_config=ray.train.ScalingConfig(
            num_workers=cfg.num_workers,
            use_gpu=cfg.use_gpu,
            resources_per_worker={"CPU": cfg.cpus_per_worker} | ({"GPU": 1} if cfg.use_gpu else {}),
        ),
        run_config=ray.train.RunConfig(
            name=run_name,
            storage_path=cfg.storage_path,
            failure_config=ray.train.FailureConfig(max_failures=cfg.max_failures),
            worker_runtime_env={"env_vars": train_worker_env()},
            checkpoint_config=ray.train.CheckpointConfig(
                num_to_keep=cfg.keep_checkpoints,
                checkpoint_score_attribute=metric,
                checkpoint_score_order=order,
            ),
        ),
    )


def fit(trainer, tracker, cfg, run_name: str):
    """trainer.fit() for a job's driver: a failed run is marked FAILED in MLflow, and a run that ends
    without a checkpoint is an error naming where it looked."""
    try:
        with timed("training"):
            result = trainer.fit()
    except Exception:
        tracker.finish("FAILED")
        raise
    if result.checkpoint is None:
        raise RuntimeError(f"run {run_name} finished without a checkpoint under {cfg.storage_path}")
    return result
