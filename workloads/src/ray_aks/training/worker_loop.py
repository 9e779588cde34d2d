"""The Ray Train worker loop every training job runs (Ray glue; the models know nothing of Ray).

In each worker: resume from the latest checkpoint, prepare the model for DDP, then per epoch run the
job's own step (`WorkerJob.run_epoch`), report the metrics with a checkpoint written by rank 0 only,
and log the epochs to MLflow once Ray Train has registered that checkpoint. A job supplies only its
model-specific parts: the model, its checkpoint format and one epoch.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ray_aks.tracking.mlflow_tracking import NullTracker, RunTracker

logger = logging.getLogger(__name__)


class LoopSettings(Protocol):
    """The config fields the loop reads; the jobs' typed configs have them all."""

    epochs: int
    lr: float
    seed: int
    cpus_per_worker: float


@dataclass
class Worker:
    """What one epoch of a job works with in this worker."""

    rank: int
    world_size: int
    device: torch.device
    model: nn.Module  # as Ray Train prepared it: DistributedDataParallel when world_size > 1
    plain_model: nn.Module  # the model itself: what is evaluated and checkpointed
    optimizer: torch.optim.Optimizer


class WorkerJob(Protocol):
    """The model-specific parts of a training job's worker."""

    epoch_metrics: tuple[str, ...]  # the keys of an epoch's metrics logged to MLflow per epoch

    def build_model(self) -> nn.Module: ...

    def load_checkpoint(self, directory: str) -> tuple[nn.Module, dict[str, Any]]: ...

    def save_checkpoint(self, model: nn.Module, directory: str, **state: Any) -> None: ...

    def run_epoch(self, epoch: int, worker: Worker) -> dict[str, Any]:
        """Train one epoch (and evaluate); the epoch's metrics, "epoch" included."""
        ...


@dataclass(frozen=True)
class EpochEnd:
    """What an `on_epoch_end` callback is told in every worker after each epoch."""

    rank: int
    epoch: int
    restarts: int  # how many times this run resumed from a checkpoint before this attempt


# Called in every worker once an epoch is reported (on rank 0 with tracking on: once its checkpoint
# is registered and the epoch logged). Travels to the workers pickled, so a module-level callable.
OnEpochEnd = Callable[[EpochEnd], None]


@dataclass
class Resumed:
    """Where a worker starts: the checkpoint's epochs and optimizer state, or a fresh run."""

    start_epoch: int = 1
    history: list[dict[str, Any]] | None = None
    restarts: int = 0
    optimizer_state: dict[str, Any] | None = None


def run_worker_loop(
    job: WorkerJob,
    cfg: LoopSettings,
    tracker: RunTracker,
    on_epoch_end: OnEpochEnd | None = None,
) -> None:
    """Run `job` in this Ray Train worker: resume, prepare, train cfg.epochs, report, log."""
    import ray.train
    import ray.train.torch
    import torch

    context = ray.train.get_context()
    rank, world_size = context.get_world_rank(), context.get_world_size()
    run_tracker = tracker.for_rank(rank)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, int(cfg.cpus_per_worker)))
    device = ray.train.torch.get_device()
    run_tracker.connect()  # import mlflow now, not between a report and the next epoch

    model = job.build_model()
    resumed = resume(job, model, run_tracker, rank)
    model = ray.train.torch.prepare_model(model)  # moves to the device; DDP when world_size > 1
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    if resumed.optimizer_state is not None:
        optimizer.load_state_dict(resumed.optimizer_state)  # casts the state to the parameters' device
    worker = Worker(
        rank=rank,
        world_size=world_size,
        device=device,
        model=model,
        plain_model=model.module if hasattr(model, "module") else model,
        optimizer=optimizer,
    )

    history = list(resumed.history or [])
    for epoch in range(resumed.start_epoch, cfg.epochs + 1):
        metrics = job.run_epoch(epoch, worker)
        history.append(metrics)
        report_epoch(job, worker, metrics, history, resumed.restarts)
        log_checkpointed_epochs(run_tracker, history, job.epoch_metrics)
        if on_epoch_end is not None:
            on_epoch_end(EpochEnd(rank=rank, epoch=epoch, restarts=resumed.restarts))


def resume(job: WorkerJob, model: nn.Module, tracker: RunTracker | NullTracker, rank: int) -> Resumed:
    """Load Ray Train's latest checkpoint, if any, into `model`; log the resumption and the epochs
    that were checkpointed before a kill but not yet logged."""
    import ray.train

    checkpoint = ray.train.get_checkpoint()
    if not checkpoint:
        return Resumed()
    with checkpoint.as_directory() as directory:
        restored, state = job.load_checkpoint(directory)
    model.load_state_dict(restored.state_dict())
    epoch, restarts = int(state["epoch"]), int(state.get("restarts", 0)) + 1
    history = list(state["history"])
    logger.warning("rank %d resumes from the checkpoint of epoch %d (restart %d)", rank, epoch, restarts)
    tracker.log_metrics({"resumed_from_epoch": epoch, "restarts": restarts}, step=restarts)
    tracker.set_tags({"ray_aks.restarts": restarts, "ray_aks.resumed_from_epoch": epoch})
    tracker.log_epochs(history, job.epoch_metrics)
    return Resumed(epoch + 1, history, restarts, state["optimizer"])


def report_epoch(
    job: WorkerJob, worker: Worker, metrics: dict[str, Any], history: list[dict[str, Any]], restarts: int
) -> None:
    """`ray.train.report` the epoch from every rank; rank 0 alone attaches a checkpoint: one copy of
    the weights (DDP keeps the ranks' weights equal), and the metrics Ray Train scores it by."""
    import ray.train

    epoch = int(metrics["epoch"])
    with tempfile.TemporaryDirectory() as directory:
        checkpoint = None
        if worker.rank == 0:
            job.save_checkpoint(
                worker.plain_model,
                directory,
                epoch=epoch,
                optimizer=worker.optimizer.state_dict(),
                history=history,
                restarts=restarts,
            )
            checkpoint = ray.train.Checkpoint.from_directory(directory)
        ray.train.report(metrics, checkpoint=checkpoint, checkpoint_dir_name=f"checkpoint_epoch_{epoch:04d}")


def log_checkpointed_epochs(
    tracker: RunTracker | NullTracker, history: list[dict[str, Any]], keys: tuple[str, ...]
) -> None:
    """After `ray.train.report`: wait until Ray Train has registered the epoch's checkpoint, then log
    the epochs MLflow lacks. An epoch in MLflow is then one a restart resumes after (never trained
    twice), and a kill between the two steps loses none: the restart logs it from the checkpoint's
    history. Nothing to wait for where nothing is logged (ranks other than 0, tracking off)."""
    import ray.train

    if not tracker.active:
        return
    ray.train.get_all_reported_checkpoints()  # report() returns before the controller registers it
    tracker.log_epochs(history, keys)
