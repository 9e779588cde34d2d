"""Faults that tests inject into training workers through the trainers' `on_epoch_end` callback
(ray_aks.training.worker_loop). Module-level, so Ray workers import them by name (the repository
root is on their path: Ray adds the driver's working directory)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from ray_aks.training.worker_loop import EpochEnd

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExitRank0AfterEpoch:
    """Rank 0's process exits (os._exit: no cleanup, like a crash) after `epoch`, in the first attempt
    only. The callback runs after the epoch's checkpoint is registered and its metrics logged, so Ray
    Train restarts the worker group and resumes from that checkpoint."""

    epoch: int

    def __call__(self, end: EpochEnd) -> None:
        if end.rank == 0 and end.epoch == self.epoch and end.restarts == 0:
            logger.warning("fault injection: rank 0 exits after epoch %d", end.epoch)
            os._exit(1)
