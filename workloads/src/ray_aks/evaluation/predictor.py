"""Where an embedding classifier comes from (the MLflow registry or a checkpoint directory) and the
Ray Data UDF that runs it. Plain torch and MLflow: no Ray.

A model registered by `ray-aks train clip-classifier` carries its weights-only checkpoint under
`extra_files/classifier.pt`, so it loads without unpickling code (`torch.load(weights_only=True)`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ray_aks.models.embedding_classifier import CHECKPOINT_FILE, EmbeddingClassifier, load_classifier
from ray_aks.serving.model_source import is_mlflow_uri

REGISTERED_CHECKPOINT = f"extra_files/{CHECKPOINT_FILE}"


class ModelSourceError(Exception):
    """The model source cannot be loaded (no such model, version or alias; not a classifier)."""


def load_classifier_source(
    source: str, tracking_uri: str | None = None, map_location: str = "cpu"
) -> tuple[EmbeddingClassifier, dict[str, Any]]:
    """The classifier and its checkpoint state from `models:/<name>@<alias>`, `models:/<name>/<version>`,
    `runs:/<run_id>/<path>` or a checkpoint directory."""
    if not is_mlflow_uri(source):
        try:
            return load_classifier(source, map_location)
        except FileNotFoundError as err:
            raise ModelSourceError(f"{source}: {err}") from None

    import mlflow
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    if tracking_uri:
        # MLflow 3.17 resolves a models:/ URI's name and alias with the process's registry URI
        # (default: the tracking URI), whatever registry_uri download_artifacts is given.
        mlflow.set_tracking_uri(tracking_uri)
    with tempfile.TemporaryDirectory() as directory:
        try:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{source.rstrip('/')}/{REGISTERED_CHECKPOINT}",
                dst_path=directory,
                tracking_uri=tracking_uri,
                registry_uri=tracking_uri,
            )
        except (MlflowException, OSError) as err:
            message = str(getattr(err, "message", err)).splitlines()[0]
            raise ModelSourceError(
                f"cannot load {REGISTERED_CHECKPOINT} of {source} from MLflow at {tracking_uri}: {message} "
                "(is it a classifier registered by `ray-aks train clip-classifier`?)"
            ) from None
        return load_classifier(Path(local).parent, map_location)


class EmbeddingClassifierPredictor:
    """Ray Data batch-inference UDF (`map_batches` with this class): each actor loads the classifier
    once, then turns the `embedding` column of every batch into a `prediction` column; the other
    columns (e.g. key, label) pass through."""

    def __init__(self, source: str, tracking_uri: str | None = None, device: str = "cpu"):
        import torch

        self.device = torch.device(device)
        model, self.state = load_classifier_source(source, tracking_uri, map_location=device)
        self.model = model.to(self.device).eval()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        out = {name: values for name, values in batch.items() if name != "embedding"}
        if len(batch["embedding"]) == 0:
            out["prediction"] = np.zeros(0, dtype=np.int64)
            return out
        embeddings = np.asarray(np.stack(batch["embedding"]), dtype=np.float32)
        with torch.inference_mode():
            logits = self.model(torch.as_tensor(embeddings, device=self.device))
        out["prediction"] = logits.argmax(dim=1).cpu().numpy()
        return out
