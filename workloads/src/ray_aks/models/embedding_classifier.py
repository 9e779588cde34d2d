"""A classifier head on frozen embeddings (e.g. CLIP image embeddings). Plain torch: no Ray.

Linear -> BatchNorm -> ReLU -> Dropout -> Linear; checkpoint file `classifier.pt` holds the weights
and everything needed to rebuild it (sizes, class names).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

CHECKPOINT_FILE = "classifier.pt"


class EmbeddingClassifier(nn.Module):
    def __init__(self, in_dim: int, num_classes: int, hidden: int = 256, dropout: float = 0.2):
        super().__init__()
        self.in_dim, self.num_classes, self.hidden, self.dropout_p = in_dim, num_classes, hidden, dropout
        self.layers = nn.Sequential(
            nn.Linear(in_dim, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Logits for (N, in_dim) embeddings."""
        return self.layers(embeddings)


def save_classifier(
    model: EmbeddingClassifier, directory: str | Path, classes: list[str], **extra: Any
) -> Path:
    path = Path(directory) / CHECKPOINT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    sizes = {
        "in_dim": model.in_dim,
        "num_classes": model.num_classes,
        "hidden": model.hidden,
        "dropout": model.dropout_p,
    }
    torch.save({"model": model.state_dict(), "sizes": sizes, "classes": list(classes), **extra}, path)
    return path


def load_classifier(
    directory: str | Path, map_location: str = "cpu"
) -> tuple[EmbeddingClassifier, dict[str, Any]]:
    path = Path(directory) / CHECKPOINT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no classifier checkpoint at {path}")
    state = torch.load(path, map_location=map_location, weights_only=True)
    model = EmbeddingClassifier(**state["sizes"])
    model.load_state_dict(state["model"])
    return model.eval(), state
