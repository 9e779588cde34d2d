"""Probes that tests pass to the trainers' `on_epoch_end` callback to see inside a training worker.
Module-level, so Ray workers import them by name (the repository root is on their path)."""

from __future__ import annotations

import json
import os
import resource
from dataclasses import dataclass
from pathlib import Path

from ray_aks.training.worker_loop import EpochEnd


@dataclass(frozen=True)
class RecordWorkerProcess:
    """After each epoch, each rank appends to `directory`/rank-N.jsonl: the epoch, the values of
    `names` in its environment and the minor page faults of its process so far."""

    directory: str
    names: tuple[str, ...]

    def __call__(self, end: EpochEnd) -> None:
        record = {
            "epoch": end.epoch,
            "env": {name: os.environ.get(name) for name in self.names},
            "minor_faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt,
        }
        with Path(self.directory, f"rank-{end.rank}.jsonl").open("a") as out:
            out.write(json.dumps(record) + "\n")
