"""`ray-aks tune`: Ray Tune with ASHA over learning rate, width and batch size of the MNIST CNN.

Every trial runs the real training loop (the same epoch functions as Ray Train's workers) in its
own actor and reports test accuracy per epoch; ASHA stops the weak trials at its rungs. MLflow
gets a parent run (search space, best config) with one child run per trial.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from typing import Any

from ray_aks.data.mnist import ensure_mnist_dir, load_mnist_dir
from ray_aks.tracking.mlflow_tracking import RunTracker, resolve_tracking_uri, start_run
from ray_aks.training.config import timestamped
from ray_aks.tuning.config import TuneMnistConfig

logger = logging.getLogger(__name__)

METRIC, MODE = "test_accuracy", "max"
SEARCHED = ("lr", "hidden", "batch_size")


@dataclass
class TrialSummary:
    trial_id: str
    config: dict[str, Any]
    epochs: int
    test_accuracy: float
    stopped_early: bool


@dataclass
class TuneResult:
    best_config: dict[str, Any]
    best_metrics: dict[str, float]
    best_checkpoint_path: str | None
    trials: list[TrialSummary]
    mlflow_run_id: str | None
    tracking_problem: str | None

    @property
    def stopped_early(self) -> list[TrialSummary]:
        return [t for t in self.trials if t.stopped_early]


def mnist_trial(config: dict[str, Any]) -> None:
    """One Tune trial: train the CNN single-process with this trial's hyperparameters."""
    import ray.tune
    import torch

    from ray_aks.models.mnist_cnn import MnistCNN, load_checkpoint, save_checkpoint
    from ray_aks.training.epochs import evaluate, shard_indices, train_one_epoch

    settings = TuneMnistConfig.model_validate(config["settings"])
    parent: RunTracker = config["tracker"]
    lr, hidden, batch_size = float(config["lr"]), int(config["hidden"]), int(config["batch_size"])
    context = ray.tune.get_context()
    trial_name, trial_id = context.get_trial_name(), context.get_trial_id()
    torch.manual_seed(settings.seed)
    torch.set_num_threads(max(1, int(settings.cpus_per_trial)))
    device = "cuda" if settings.use_gpu and torch.cuda.is_available() else "cpu"
    data = load_mnist_dir(ensure_mnist_dir(settings.data_dir, False))

    child = RunTracker(uri=parent.uri)
    if parent.active:
        child = start_run(
            parent.uri,
            settings.experiment_name,
            run_name=trial_name,
            parent_run_id=parent.run_id,
            tags={"ray_aks.job": "tune-trial", "ray_aks.trial_id": trial_id},
        )
        child.log_params({"lr": lr, "hidden": hidden, "batch_size": batch_size})

    model = MnistCNN(hidden=hidden).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    start_epoch = 1
    checkpoint = ray.tune.get_checkpoint()  # set when Tune restarts a failed trial
    if checkpoint:
        with checkpoint.as_directory() as directory:
            restored, state = load_checkpoint(directory)
        model.load_state_dict(restored.state_dict())
        optimizer.load_state_dict(state["optimizer"])
        start_epoch = int(state["epoch"]) + 1

    for epoch in range(start_epoch, settings.max_epochs + 1):
        order = shard_indices(len(data.train_labels), epoch, 0, 1, settings.seed)
        train = train_one_epoch(
            model, optimizer, data.train_images[order], data.train_labels[order], batch_size, device
        )
        test = evaluate(model, data.test_images, data.test_labels, 256, device)
        metrics = {
            "epoch": epoch,
            "train_loss": train.loss,
            "train_accuracy": train.accuracy,
            "test_loss": test.loss,
            "test_accuracy": test.accuracy,
        }
        child.log_metrics({k: v for k, v in metrics.items() if k != "epoch"}, step=epoch)
        with tempfile.TemporaryDirectory() as directory:
            save_checkpoint(model, directory, epoch=epoch, optimizer=optimizer.state_dict())
            ray.tune.report(metrics, checkpoint=ray.tune.Checkpoint.from_directory(directory))


def tune_mnist(cfg: TuneMnistConfig) -> TuneResult:
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from ray_aks.local_ray import connect_ray

    data_dir = ensure_mnist_dir(cfg.data_dir, cfg.download, cfg.dataset)
    cfg = cfg.model_copy(update={"data_dir": str(data_dir), "download": False})
    run_name = cfg.run_name or timestamped(cfg.experiment_name)
    connect_ray()
    cpus = ray.cluster_resources().get("CPU", 1)
    # Bounded by the cluster: never more trials at once than CPUs allow (the rest queue).
    concurrent = cfg.max_concurrent_trials or max(1, int(cpus // cfg.cpus_per_trial))

    tracker = start_run(
        resolve_tracking_uri(cfg.tracking_uri),
        cfg.experiment_name,
        run_name=run_name,
        tags={"ray_aks.job": "tune-mnist"},
    )
    tracker.log_params(
        {
            "num_samples": cfg.num_samples,
            "max_epochs": cfg.max_epochs,
            "grace_period": cfg.grace_period,
            "reduction_factor": cfg.reduction_factor,
            "lr_space": cfg.lr_grid or f"loguniform({cfg.lr_min}, {cfg.lr_max})",
            "hidden_choices": cfg.hidden_choices,
            "batch_size_choices": cfg.batch_size_choices,
            "max_concurrent_trials": concurrent,
            "data_dir": cfg.data_dir,
        }
    )

    param_space = {
        "lr": tune.grid_search(cfg.lr_grid) if cfg.lr_grid else tune.loguniform(cfg.lr_min, cfg.lr_max),
        "hidden": tune.choice(cfg.hidden_choices),
        "batch_size": tune.choice(cfg.batch_size_choices),
        "settings": cfg.model_dump(mode="json"),
        "tracker": tracker,
    }
    resources = {"cpu": cfg.cpus_per_trial} | ({"gpu": 1} if cfg.use_gpu else {})
    tuner = tune.Tuner(
        tune.with_resources(mnist_trial, resources),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=METRIC,
            mode=MODE,
            num_samples=cfg.num_samples,
            max_concurrent_trials=concurrent,
            scheduler=ASHAScheduler(
                time_attr="training_iteration",
                max_t=cfg.max_epochs,
                grace_period=cfg.grace_period,
                reduction_factor=cfg.reduction_factor,
            ),
            search_alg=tune.search.BasicVariantGenerator(random_state=cfg.seed),
        ),
        run_config=tune.RunConfig(
            name=run_name,
            storage_path=cfg.storage_path,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        ),
    )
    try:
        grid = tuner.fit()
    except Exception:
        tracker.finish("FAILED")
        raise

    trials = []
    for result in grid:
        if result.metrics is None or METRIC not in result.metrics:
            logger.warning("trial %s reported nothing: %s", result.path, result.error)
            continue
        epochs = int(result.metrics["training_iteration"])
        trials.append(
            TrialSummary(
                trial_id=str(result.metrics.get("trial_id")),
                config={k: result.config[k] for k in SEARCHED},
                epochs=epochs,
                test_accuracy=float(result.metrics[METRIC]),
                stopped_early=epochs < cfg.max_epochs and result.error is None,
            )
        )
    if not trials:
        tracker.finish("FAILED")
        raise RuntimeError(
            f"no Tune trial of {run_name} reported a result; see {cfg.storage_path}/{run_name}"
        )
    best = grid.get_best_result(metric=METRIC, mode=MODE, scope="last")
    best_config = {k: best.config[k] for k in SEARCHED}
    best_metrics = {
        k: float(best.metrics[k]) for k in ("test_accuracy", "test_loss", "train_loss", "train_accuracy")
    }
    best_metrics["epochs"] = float(best.metrics["training_iteration"])

    print(_trials_table(trials, best_config), flush=True)
    tracker.log_params({f"best_{k}": v for k, v in best_config.items()})
    tracker.log_metrics(
        {f"best_{k}": v for k, v in best_metrics.items()}
        | {"trials": len(trials), "trials_stopped_early": sum(t.stopped_early for t in trials)}
    )
    tracker.log_dict(
        {"best_config": best_config, "best_metrics": best_metrics, "trials": [t.__dict__ for t in trials]},
        "tune_results.json",
    )
    _close_child_runs(tracker, trials)
    tracker.finish()
    return TuneResult(
        best_config=best_config,
        best_metrics=best_metrics,
        best_checkpoint_path=best.checkpoint.path if best.checkpoint else None,
        trials=trials,
        mlflow_run_id=tracker.run_id,
        tracking_problem=tracker.problem,
    )


def _close_child_runs(parent: RunTracker, trials: list[TrialSummary]) -> None:
    """ASHA ends stopped trials from outside, so the driver closes their MLflow runs and says why."""
    if not parent.active:
        return
    by_id = {t.trial_id: t for t in trials}

    def close() -> None:
        client = parent.client
        experiment_id = client.get_run(parent.run_id).info.experiment_id
        children = client.search_runs([experiment_id], f"tags.mlflow.parentRunId = '{parent.run_id}'")
        for run in children:
            summary = by_id.get(run.data.tags.get("ray_aks.trial_id", ""))
            if summary is not None:
                client.set_tag(run.info.run_id, "ray_aks.stopped_early", str(summary.stopped_early).lower())
                client.set_tag(run.info.run_id, "ray_aks.epochs", str(summary.epochs))
            client.set_terminated(run.info.run_id, status="FINISHED")

    parent.call("close trial runs", close)


def _trials_table(trials: list[TrialSummary], best_config: dict[str, Any]) -> str:
    lines = [f"{'trial':<12} {'lr':>10} {'hidden':>6} {'batch':>5} {'epochs':>6} {'test_acc':>8}  note"]
    for t in sorted(trials, key=lambda t: -t.test_accuracy):
        note = "best" if t.config == best_config else ("stopped by ASHA" if t.stopped_early else "")
        lines.append(
            f"{t.trial_id:<12} {t.config['lr']:>10.2e} {t.config['hidden']:>6} {t.config['batch_size']:>5} "
            f"{t.epochs:>6} {t.test_accuracy:>8.4f}  {note}"
        )
    return "\n".join(lines)
