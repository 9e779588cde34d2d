"""Pre-download the Hugging Face models an image runs, at image build time, so pods never reach a hub.

    python download_models.py download serving   # fetch into $HF_HOME (needs the hub: build time only)
    HF_HUB_OFFLINE=1 python download_models.py verify serving   # load each one offline, as the pods do
    python download_models.py list serving       # the model ids, one a line

The ids are the workloads' own defaults (imported from ray_aks, installed before this runs), so the
image holds exactly what the chart's entrypoints ask for by hub id. Runs inside the image build.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

CLIP, SENTENCE, CAUSAL_LM = "clip", "sentence-transformers", "causal-lm"
# Alternative weight formats and exports that no workload loads: skipped to keep images small.
IGNORE_PATTERNS = ["*.h5", "*.msgpack", "*.ot", "*.tflite", "*.onnx", "*.mlmodel"]
IGNORE_PATTERNS += ["onnx/*", "openvino/*", "coreml/*"]


def models_by_image() -> dict[str, list[tuple[str, str]]]:
    """Image name -> [(hub id, kind)], from the workloads' defaults."""
    from ray_aks.embedding.config import DEFAULT_IMAGE_MODEL, DEFAULT_TEXT_MODEL
    from ray_aks.serving.embeddings import DEFAULT_MODEL as SERVE_EMBEDDINGS_MODEL
    from ray_aks.serving.textgen import DEFAULT_MODEL as SERVE_TEXTGEN_MODEL
    from ray_aks.training.config import ClipClassifierConfig

    return {
        # `ray-aks train clip-classifier` (MNIST comes from --data-dir or --download, not a hub).
        "training": [(ClipClassifierConfig.model_fields["model"].default, CLIP)],
        # `ray-aks embed --kind text|image`.
        "embedding": [(DEFAULT_TEXT_MODEL, SENTENCE), (DEFAULT_IMAGE_MODEL, CLIP)],
        # The textgen and embeddings Serve apps (the MNIST app loads from the MLflow registry).
        "serving": [(SERVE_TEXTGEN_MODEL, CAUSAL_LM), (SERVE_EMBEDDINGS_MODEL, SENTENCE)],
    }


def download(model_id: str) -> None:
    from huggingface_hub import HfApi, snapshot_download

    files = HfApi().list_repo_files(model_id)
    ignore = list(IGNORE_PATTERNS)
    if any(name.endswith(".safetensors") for name in files):
        ignore.append("*.bin")  # the same weights twice: keep safetensors
    path = snapshot_download(model_id, ignore_patterns=ignore)
    print(f"downloaded {model_id} -> {path}", flush=True)


def loader(kind: str) -> Callable[[str], object]:
    """The workloads' own model classes: what loads here offline loads in the pods."""
    if kind == CLIP:
        from ray_aks.models.clip_embedder import ClipImageEmbedder

        return ClipImageEmbedder
    if kind == SENTENCE:
        from ray_aks.models.text_embedder import SentenceEmbedder

        return SentenceEmbedder
    from ray_aks.models.text_generator import TextGenerator

    return TextGenerator


def main(argv: list[str] | None = None) -> int:
    images = models_by_image()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["download", "verify", "list"])
    parser.add_argument("image", choices=sorted(images))
    args = parser.parse_args(argv)
    for model_id, kind in images[args.image]:
        if args.action == "list":
            print(model_id)
        elif args.action == "download":
            download(model_id)
        else:
            loader(kind)(model_id)
            print(f"verified {model_id} loads offline ({kind})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
