"""The TorchTrainer of the jobs' drivers and its fit: the shared scaling, storage, restart and
checkpoint settings, and a failed or checkpoint-less run reported as such."""

from __future__ import annotations

from ray_aks.timing import timed
from ray_aks.training.worker_env import apply_train_env, train_worker_env


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
