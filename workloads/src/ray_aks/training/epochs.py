"""One epoch of training and one evaluation pass over in-memory arrays. Plain torch: no Ray.

Ray Train workers, Tune trials and the driver's final evaluation all run these same functions.
Totals (not means) are returned so workers can all-reduce them before dividing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm


@dataclass
class PassTotals:
    loss_sum: float = 0.0
    correct: int = 0
    count: int = 0

    @property
    def loss(self) -> float:
        return self.loss_sum / max(self.count, 1)

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.count, 1)

    def add(self, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Count one batch, given its mean loss."""
        self.loss_sum += float(loss) * len(labels)
        self.correct += int((logits.argmax(dim=1) == labels).sum())
        self.count += len(labels)


def as_pixels(images: np.ndarray) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 1, 28, 28) float32 in [0, 1], the models' input."""
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32) / 255.0).unsqueeze(1)


def shard_indices(n: int, epoch: int, rank: int, world_size: int, seed: int) -> np.ndarray:
    """This rank's share of a seeded per-epoch permutation of range(n).

    Every rank gets exactly n // world_size samples: DDP hangs if ranks run different numbers
    of steps. The few left over differ every epoch, so no sample is always dropped.
    """
    order = np.random.default_rng(seed + epoch).permutation(n)
    per_rank = n // world_size
    return order[rank * per_rank : (rank + 1) * per_rank]


def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on a batch (forward, cross-entropy, backward, optimizer step); the
    batch's mean loss and logits, detached. Every trainer steps through here."""
    optimizer.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    optimizer.step()
    return loss.detach(), logits.detach()


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    device: torch.device | str = "cpu",
    progress: bool = False,
    description: str = "train",
) -> PassTotals:
    model.train()
    totals = PassTotals()
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc=description, unit="batch", disable=not progress, leave=False):
        x = as_pixels(images[start : start + batch_size]).to(device)
        y = torch.as_tensor(labels[start : start + batch_size], dtype=torch.long, device=device)
        totals.add(*train_step(model, optimizer, x, y), y)
    return totals


def predict(
    model: nn.Module,
    images: np.ndarray,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> np.ndarray:
    """Logits (N, classes) for uint8 images, in eval mode."""
    model.eval()
    outputs = []
    with torch.inference_mode():
        starts = range(0, len(images), batch_size)
        for start in tqdm(starts, desc="predict", unit="batch", disable=not progress, leave=False):
            x = as_pixels(images[start : start + batch_size]).to(device)
            outputs.append(model(x).float().cpu())
    if not outputs:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(outputs).numpy()


def evaluate(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> PassTotals:
    logits = predict(model, images, batch_size, device)
    if len(labels) == 0:
        return PassTotals()
    targets = torch.as_tensor(labels, dtype=torch.long)
    loss_sum = float(F.cross_entropy(torch.from_numpy(logits), targets, reduction="sum"))
    correct = int((logits.argmax(axis=1) == labels).sum())
    return PassTotals(loss_sum=loss_sum, correct=correct, count=len(labels))


def all_reduce_totals(totals: PassTotals, device: torch.device | str = "cpu") -> PassTotals:
    """Sum per-rank totals over the torch process group (unchanged without one, e.g. one worker)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return totals
    tensor = torch.tensor([totals.loss_sum, totals.correct, totals.count], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    loss_sum, correct, count = tensor.tolist()
    return PassTotals(loss_sum=loss_sum, correct=int(correct), count=int(count))
