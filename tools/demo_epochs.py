"""Training progress for `make demo`'s bar: each Ray Train worker marks the epochs it finished in a
folder (the demo runs on one machine), and the demo counts rank 0's marks while `train_mnist` runs.

`mark_epoch` travels to the workers pickled by reference (`functools.partial(mark_epoch, folder)`), so
it lives in a module of its own that the workers import (Ray puts the driver's sys.path on theirs).
"""

from __future__ import annotations

from pathlib import Path

from ray_aks.training.worker_loop import EpochEnd


def mark_epoch(folder: str, end: EpochEnd) -> None:
    """In a worker: record that `end.rank` finished `end.epoch`."""
    Path(folder, f"rank{end.rank}-epoch{end.epoch}").touch()


def epochs_done(folder: Path) -> int:
    """In the demo: how many epochs rank 0 has finished (and reported)."""
    return len(list(folder.glob("rank0-epoch*")))
