"""The MNIST CNN (two conv layers, dropout, two linear layers) and its checkpoint format.

Input is (N, 1, 28, 28) floats in [0, 1]; the model normalises internally so every caller
(training, Ray Data, the Serve app) feeds raw pixel intensities.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

# Mean and std of MNIST training pixels (the constants of the PyTorch MNIST example).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
NUM_CLASSES = 10
IMAGE_SIZE = 28

# A checkpoint directory (Ray Train checkpoint or a plain folder) holds this file:
# {"model": state_dict, "hidden": int, "epoch": int, ...extra}.
CHECKPOINT_FILE = "model.pt"


class MnistCNN(nn.Module):
    def __init__(self, hidden: int = 128, dropout_conv: float = 0.25, dropout_fc: float = 0.5):
        super().__init__()
        self.hidden = hidden
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.dropout_conv = nn.Dropout(dropout_conv)
        self.fc1 = nn.Linear(64 * 12 * 12, hidden)
        self.dropout_fc = nn.Dropout(dropout_fc)
        self.fc2 = nn.Linear(hidden, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits for pixels in [0, 1]."""
        x = (x - MNIST_MEAN) / MNIST_STD
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(self.dropout_conv(x), 1)
        x = self.dropout_fc(F.relu(self.fc1(x)))
        return self.fc2(x)


def save_checkpoint(model: MnistCNN, directory: str | Path, **extra: Any) -> Path:
    """Write the model's weights (plus extra state such as epoch/optimizer) into `directory`."""
    path = Path(directory) / CHECKPOINT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": model.state_dict(), "hidden": model.hidden, **extra}
    torch.save(state, path)
    return path


def load_checkpoint(directory: str | Path, map_location: str = "cpu") -> tuple[MnistCNN, dict[str, Any]]:
    """Rebuild the model from a checkpoint directory; returns (model in eval mode, the full state)."""
    path = Path(directory) / CHECKPOINT_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no MNIST checkpoint at {path} (expected {CHECKPOINT_FILE} in the directory)"
        )
    state = torch.load(path, map_location=map_location, weights_only=True)
    model = MnistCNN(hidden=int(state["hidden"]))
    model.load_state_dict(state["model"])
    return model.eval(), state
