"""Where the served MNIST model comes from: the MLflow registry or a checkpoint directory. No Ray.

`models:/<name>@<alias>` and `models:/<name>/<version>` load with mlflow.pytorch from the registry at
the tracking URI (MLFLOW_TRACKING_URI unless given); anything else is a checkpoint directory in the
`ray_aks.models.mnist_cnn` format (a local path or a mounted volume such as /mnt/cluster_storage).
"""

from __future__ import annotations

import os
import re

REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@\s]+)(@(?P<alias>[\w.-]+)|/(?P<version>\d+|latest))$")
RUN_URI = re.compile(r"^runs:/[0-9a-f]+/\S+$")


def check_model_source(source: str) -> str:
    """Reject malformed registry URIs early (at build time) with the accepted forms."""
    if source.startswith("models:/") and not REGISTRY_URI.match(source):
        raise ValueError(
            f"{source!r} is not a registry URI: use models:/<name>@<alias> or models:/<name>/<version>"
        )
    if source.startswith("runs:/") and not RUN_URI.match(source):
        raise ValueError(f"{source!r} is not a run URI: use runs:/<run_id>/<artifact path>")
    if not source.strip():
        raise ValueError("model source is empty")
    return source


def is_mlflow_uri(source: str) -> bool:
    return source.startswith(("models:/", "runs:/"))


def load_mnist_model(source: str, tracking_uri: str | None = None, device: str = "cpu"):
    """Return the model, ready for inference, on `device`.

    MLflow 3 logs PyTorch models as torch.export programs ("pt2", the default: needs an
    input_example, batch > 1 for a dynamic batch dimension) or pickles (which MLflow refuses to
    load unless MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true). An exported program keeps the mode it
    was exported in (log the model after .eval()) and cannot be switched with .eval().
    """
    import torch

    if is_mlflow_uri(source):
        import mlflow

        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            raise RuntimeError(
                f"{source} needs an MLflow tracking URI: set MLFLOW_TRACKING_URI or tracking_uri"
            )
        mlflow.set_tracking_uri(uri)
        # Loaded on CPU, then moved: MLflow refuses a device argument for exported programs.
        model = mlflow.pytorch.load_model(source).to(device)
        if isinstance(model, torch.fx.GraphModule):
            return model  # an exported program: already in its exported (eval) mode
        return model.eval()

    from ray_aks.models.mnist_cnn import load_checkpoint

    model, _ = load_checkpoint(source, map_location=device)
    return model.to(device).eval()
