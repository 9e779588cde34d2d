"""The CLIP-embedding classifier on generated images with a tiny CLIP saved like a hub model."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from ray_aks.models.clip_embedder import ClipImageEmbedder
from ray_aks.models.embedding_classifier import EmbeddingClassifier, load_classifier
from ray_aks.training.clip_classifier import embed_images, list_image_folder, train_clip_classifier
from ray_aks.training.config import ClipClassifierConfig

from tests.workloads.training_data import CLASS_COLOURS, save_tiny_clip, write_image_folder


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


def test_embedder_matches_clip_image_features(tiny_clip: Path) -> None:
    """The shared UDF gives CLIP's projected image embedding, L2-normalised, for any image size."""
    from transformers import CLIPImageProcessor, CLIPModel

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for h, w in [(40, 50), (64, 32), (32, 32)]]
    out = ClipImageEmbedder(str(tiny_clip))({"image": images, "id": np.arange(3)})
    assert out["embedding"].shape == (3, 16) and out["embedding"].dtype == np.float32
    np.testing.assert_array_equal(out["id"], np.arange(3))  # other columns pass through
    assert "image" not in out

    model = CLIPModel.from_pretrained(tiny_clip).eval()
    pixels = CLIPImageProcessor.from_pretrained(tiny_clip)(images=images, return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        pooled = model.vision_model(pixel_values=pixels).pooler_output
        expected = torch.nn.functional.normalize(model.visual_projection(pooled), dim=-1).numpy()
    np.testing.assert_allclose(out["embedding"], expected, rtol=1e-4, atol=1e-5)


def test_image_folder_split_is_stratified_and_seeded(tmp_path: Path) -> None:
    write_image_folder(tmp_path, per_class=8)
    classes, items = list_image_folder(str(tmp_path), test_fraction=0.25, seed=3)
    assert classes == sorted(CLASS_COLOURS)
    for label in range(len(classes)):
        assert sum(1 for i in items if i.label == label and i.split == "test") == 2
    assert list_image_folder(str(tmp_path), 0.25, 3)[1] == items


def test_image_folder_with_one_class_is_a_clear_error(tmp_path: Path) -> None:
    write_image_folder(tmp_path, per_class=3)
    for name in ("green", "red"):
        for f in (tmp_path / name).iterdir():
            f.unlink()
    with pytest.raises(
        ValueError, match=r"at least two class sub-directories with images .* found \['blue'\]"
    ):
        list_image_folder(str(tmp_path), 0.25, 0)


@pytest.mark.slow
def test_clip_classifier_trains_on_ray_data_shards_and_logs_metrics(
    ray_local: None, mlflow_server: str, tiny_clip: Path, tmp_path: Path
) -> None:
    cfg = ClipClassifierConfig(
        data_dir=str(write_image_folder(tmp_path / "images", per_class=16)),
        model=str(tiny_clip),  # a local directory, loaded through the same from_pretrained path as a hub id
        epochs=6,
        num_workers=2,
        cpus_per_worker=0.5,  # leaves one CPU for Ray Data
        batch_size=8,
        lr=3e-3,
        storage_path=str(tmp_path / "storage"),
        run_name="clip-colours",
        experiment_name="clip-classifier-test",
        model_name="clip-classifier-test",
        tracking_uri=mlflow_server,
    )
    result = train_clip_classifier(cfg)

    assert result.classes == sorted(CLASS_COLOURS)
    assert not result.embeddings_cached
    assert (Path(result.embeddings_path) / "data").is_dir()
    assert [row["epoch"] for row in result.history] == list(range(1, 7))
    assert set(result.test_metrics) == {"accuracy", "precision_macro", "recall_macro", "f1_macro"}
    assert result.test_metrics["accuracy"] > 0.6  # three classes: chance is 1/3

    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    run = client.get_run(result.mlflow_run_id)
    assert run.info.status == "FINISHED"
    for name, value in result.test_metrics.items():
        assert run.data.metrics[f"test_{name}"] == pytest.approx(value)
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == list(range(1, 7))
    assert run.data.tags["ray_aks.clip_model"] == str(tiny_clip)
    version = client.get_model_version_by_alias("clip-classifier-test", "champion")
    assert version.run_id == run.info.run_id

    model, state = load_classifier(result.checkpoint_path)
    assert isinstance(model, EmbeddingClassifier) and state["classes"] == result.classes
    assert [type(m).__name__ for m in model.layers] == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]

    # The embeddings are cached under the storage path: a second pass reuses them without Ray Data.
    _, items = list_image_folder(cfg.data_dir, cfg.test_fraction, cfg.seed)
    assert embed_images(cfg, items) == (Path(result.embeddings_path), True)
